//! Turning each supported file format into plain text with an optional title, date and url.
use super::ArticleError;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use scraper::{ElementRef, Html, Node, Selector};

/// What a format parser extracts from one file, before text clean-up.
#[derive(Debug, Default)]
pub struct Parsed {
    pub title: Option<String>,
    pub date: Option<String>,
    pub url: Option<String>,
    pub text: String,
}

/// Longest first line that still counts as a title in a `.txt` file.
const MAX_TITLE_CHARS: usize = 150;

/// Plain text: the first line is the title when it is short and followed by a blank line.
pub fn plain_text(raw: &str) -> Parsed {
    let normalised = raw.replace("\r\n", "\n");
    let trimmed = normalised.trim_start_matches('\n');
    if let Some((first, rest)) = trimmed.split_once('\n') {
        let first_line = first.trim();
        let followed_by_blank =
            rest.starts_with('\n') || rest.trim_start_matches([' ', '\t']).starts_with('\n');
        let short = !first_line.is_empty()
            && first_line.chars().count() <= MAX_TITLE_CHARS
            && !first_line.ends_with(['.', '!', '?', ':', ';', ',']);
        if followed_by_blank && short {
            return Parsed {
                title: Some(first_line.to_string()),
                text: rest.to_string(),
                ..Parsed::default()
            };
        }
    }
    Parsed {
        text: normalised,
        ..Parsed::default()
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct FrontMatter {
    title: Option<serde_yaml_ng::Value>,
    date: Option<serde_yaml_ng::Value>,
    url: Option<serde_yaml_ng::Value>,
}

fn yaml_scalar(value: Option<serde_yaml_ng::Value>) -> Option<String> {
    match value? {
        serde_yaml_ng::Value::String(s) => Some(s),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
}

/// Splits `---` front matter from the body, when the file starts with it.
fn split_front_matter(raw: &str) -> Option<(&str, &str)> {
    let rest = raw
        .strip_prefix("---\n")
        .or_else(|| raw.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" || line.trim_end() == "..." {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

/// Markdown: optional YAML front matter (`title`, `date`, `url`), then the body stripped to
/// text. Without a front-matter title, the first level-1 heading is the title.
pub fn markdown(raw: &str) -> Result<Parsed, ArticleError> {
    let (front, body) = match split_front_matter(raw) {
        Some((yaml, body)) => {
            let fm: FrontMatter = if yaml.trim().is_empty() {
                FrontMatter::default()
            } else {
                serde_yaml_ng::from_str(yaml)
                    .map_err(|e| ArticleError::FrontMatter(e.to_string()))?
            };
            (fm, body)
        }
        None => (FrontMatter::default(), raw),
    };
    let mut text = String::new();
    let mut heading: Option<String> = None;
    let mut in_h1 = false;
    let mut first_h1: Option<String> = None;
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::Heading { level, .. })
                if level == pulldown_cmark::HeadingLevel::H1 && first_h1.is_none() =>
            {
                in_h1 = true;
                heading = Some(String::new());
            }
            Event::End(TagEnd::Heading(_)) => {
                if in_h1 {
                    first_h1 = heading.take();
                    in_h1 = false;
                }
                text.push_str("\n\n");
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
                text.push_str(&t);
            }
            Event::SoftBreak => text.push(' '),
            Event::HardBreak => text.push('\n'),
            Event::End(TagEnd::Paragraph)
            | Event::End(TagEnd::Item)
            | Event::End(TagEnd::CodeBlock)
            | Event::End(TagEnd::BlockQuote(_))
            | Event::End(TagEnd::TableRow)
            | Event::End(TagEnd::TableHead) => text.push_str("\n\n"),
            Event::End(TagEnd::TableCell) => text.push_str("  "),
            Event::Rule => text.push_str("\n\n"),
            _ => {}
        }
    }
    let title = yaml_scalar(front.title).or(first_h1.map(|h| h.trim().to_string()));
    // The title heading is shown as the title, not repeated as the first paragraph.
    let text = match &title {
        Some(t) => {
            let trimmed = text.trim_start();
            trimmed
                .strip_prefix(t.as_str())
                .map(str::to_string)
                .unwrap_or(text)
        }
        None => text,
    };
    Ok(Parsed {
        title,
        date: yaml_scalar(front.date),
        url: yaml_scalar(front.url),
        text,
    })
}

/// Elements whose content is never article text.
const SKIPPED_ELEMENTS: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "svg", "iframe", "select", "textarea", "head", "figure", "menu", "dialog",
];

/// Elements that end a paragraph.
const BLOCK_ELEMENTS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "tr",
    "table",
    "dd",
    "dt",
    "br",
    "hr",
    "figcaption",
];

fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

fn first_text(doc: &Html, css: &str) -> Option<String> {
    let sel = selector(css)?;
    let el = doc.select(&sel).next()?;
    let text = el.text().collect::<Vec<_>>().join(" ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn first_attr(doc: &Html, css: &str, attr: &str) -> Option<String> {
    let sel = selector(css)?;
    doc.select(&sel)
        .find_map(|el| el.value().attr(attr))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// HTML: the title from `og:title`, `<title>` or the first `<h1>`; the main text from
/// `<article>`, `<main>` or `<body>`, without scripts, styles, navigation, headers, footers
/// and asides. Parsing is html5ever's, which accepts any input as browsers do.
pub fn html(raw: &str) -> Parsed {
    let doc = Html::parse_document(raw);
    let title = first_attr(&doc, r#"meta[property="og:title"]"#, "content")
        .or_else(|| first_text(&doc, "title"))
        .or_else(|| first_text(&doc, "h1"));
    let date = first_attr(
        &doc,
        r#"meta[property="article:published_time"]"#,
        "content",
    )
    .or_else(|| first_attr(&doc, r#"meta[name="date"]"#, "content"))
    .or_else(|| first_attr(&doc, "time[datetime]", "datetime"));
    let url = first_attr(&doc, r#"link[rel="canonical"]"#, "href")
        .or_else(|| first_attr(&doc, r#"meta[property="og:url"]"#, "content"));
    let root = ["article", "main", "[role=main]", "body"]
        .iter()
        .filter_map(|css| selector(css))
        .find_map(|sel| doc.select(&sel).next())
        .unwrap_or_else(|| doc.root_element());
    let mut text = String::new();
    collect_text(root, &mut text);
    // The title is shown as the title; drop it when the body opens with it (an <h1>).
    let text = match &title {
        Some(t) => {
            let trimmed = text.trim_start();
            match trimmed.strip_prefix(t.as_str()) {
                Some(rest) if rest.starts_with('\n') => rest.to_string(),
                _ => text,
            }
        }
        None => text,
    };
    Parsed {
        title,
        date,
        url,
        text,
    }
}

fn collect_text(el: ElementRef, out: &mut String) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => {
                // Whitespace inside HTML text is layout, not content.
                let mut first = true;
                for word in t.split_whitespace() {
                    if !first || (t.starts_with(char::is_whitespace) && !out.ends_with([' ', '\n']))
                    {
                        out.push(' ');
                    }
                    out.push_str(word);
                    first = false;
                }
                if t.ends_with(char::is_whitespace) && !t.trim().is_empty() {
                    out.push(' ');
                }
            }
            Node::Element(e) => {
                let name = e.name();
                if SKIPPED_ELEMENTS.contains(&name) || e.attr("hidden").is_some() {
                    continue;
                }
                let Some(child_el) = ElementRef::wrap(child) else {
                    continue;
                };
                let block = BLOCK_ELEMENTS.contains(&name);
                if block {
                    out.push_str("\n\n");
                }
                collect_text(child_el, out);
                if block {
                    out.push_str("\n\n");
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_title_needs_a_short_line_and_a_blank_line() {
        let p = plain_text("Kursk offensive\n\nBody one.\nBody two.");
        assert_eq!(p.title.as_deref(), Some("Kursk offensive"));
        assert_eq!(p.text, "\nBody one.\nBody two.");
        let p = plain_text("A whole sentence that ends.\n\nBody.");
        assert_eq!(p.title, None);
        let p = plain_text("No blank line\nBody.");
        assert_eq!(p.title, None);
    }

    #[test]
    fn markdown_front_matter_and_stripping() {
        let md = "---\ntitle: \"Kursk: the stakes\"\ndate: 2024-11-20\nurl: https://example.org/a\n---\n# Heading\n\nSome *emphasis* and [a link](http://x).\n\n- item one\n- item two\n\n```\ncode\n```\n";
        let p = markdown(md).unwrap();
        assert_eq!(p.title.as_deref(), Some("Kursk: the stakes"));
        assert_eq!(p.date.as_deref(), Some("2024-11-20"));
        assert_eq!(p.url.as_deref(), Some("https://example.org/a"));
        let text = crate::corpus::clean_text(&p.text);
        assert_eq!(
            text,
            "Heading\n\nSome emphasis and a link.\n\nitem one\n\nitem two\n\ncode"
        );
    }

    #[test]
    fn markdown_h1_is_the_title_without_front_matter() {
        let p = markdown("# The Title\n\nBody text here.").unwrap();
        assert_eq!(p.title.as_deref(), Some("The Title"));
        assert_eq!(crate::corpus::clean_text(&p.text), "Body text here.");
    }

    #[test]
    fn markdown_bad_front_matter_is_an_error() {
        let err = markdown("---\ntitle: [unclosed\n---\nBody").unwrap_err();
        assert!(matches!(err, ArticleError::FrontMatter(_)), "{err}");
    }

    #[test]
    fn html_main_text_without_boilerplate() {
        let html_doc = r#"<!doctype html><html><head><title>Page title</title>
            <meta property="article:published_time" content="2024-11-21">
            <link rel="canonical" href="https://example.org/story">
            <style>p { color: red }</style><script>var x = "nope";</script></head>
            <body><nav><a href="/">Home</a> News</nav><header>Site header</header>
            <article><h1>Story headline</h1><p>First <b>bold</b> paragraph.</p>
            <p>Second
               paragraph &amp; more.</p><aside>Related links</aside>
            <script>alert(1)</script></article><footer>Copyright</footer></body></html>"#;
        let p = html(html_doc);
        assert_eq!(p.title.as_deref(), Some("Page title"));
        assert_eq!(p.date.as_deref(), Some("2024-11-21"));
        assert_eq!(p.url.as_deref(), Some("https://example.org/story"));
        let text = crate::corpus::clean_text(&p.text);
        assert_eq!(
            text,
            "Story headline\n\nFirst bold paragraph.\n\nSecond paragraph & more."
        );
    }
}
