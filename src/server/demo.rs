//! `GET /demo/` and `GET /demo/{id}`: a plain publisher-like page for each article that embeds
//! the widget exactly as a publisher would, with one script tag under the article, so it can
//! be tried (and tested) without a site of one's own.
use super::error::ApiError;
use super::AppState;
use crate::corpus::Article;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::Arc;

/// As strict as a careful publisher's: the widget needs no inline script or style.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
script-src 'self'; connect-src 'self'";

/// `GET /demo/`: the articles, each a link to its demo page, and the snippet.
pub async fn index(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let answerer = state.answerer()?;
    let host = host(&headers);
    let mut list = String::new();
    for a in answerer.index().articles() {
        let _ = writeln!(
            list,
            "<li><a href=\"/demo/{}\">{}</a>{}</li>",
            escape(&a.id),
            escape(&a.title),
            a.date
                .as_deref()
                .map(|d| format!(" <time>{}</time>", escape(d)))
                .unwrap_or_default()
        );
    }
    let snippet = escape(&format!(
        "<script async src=\"//{host}/widget.js\" data-article=\"ARTICLE-ID\"></script>"
    ));
    let body = format!(
        "<main class=\"page\"><h1>The widget on a publisher's page</h1>\
<p>Each page below is a plain article page, as a news site would have it, with the widget \
embedded under the article by one script tag:</p><pre><code>{snippet}</code></pre>\
<p>Without <code>data-article</code> the widget finds the article by the page's \
<code>&lt;link rel=\"canonical\"&gt;</code> or <code>og:url</code>. Other sites must be allowed \
with <code>ama serve --allow-origin https://their.site</code>.</p>\
<h2>Articles</h2><ul class=\"demo-list\">\n{list}</ul></main>"
    );
    Ok(page("Widget demo · ama", "", &body))
}

/// `GET /demo/{id}`: the article as a publisher's page, with the widget under it.
pub async fn article(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let answerer = state.answerer()?;
    let index = answerer.index();
    let a = index
        .article(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no article {id:?}")))?;
    let host = host(&headers);
    let head = a
        .url
        .as_deref()
        .map(|u| format!("<link rel=\"canonical\" href=\"{}\">\n", escape(u)))
        .unwrap_or_default();
    let others: String = index
        .articles()
        .iter()
        .filter(|o| o.id != a.id)
        .take(5)
        .map(|o| {
            format!(
                "<li><a href=\"/demo/{}\">{}</a></li>",
                escape(&o.id),
                escape(&o.title)
            )
        })
        .collect();
    let body = format!(
        "<main class=\"page\"><article class=\"story\">{}\
<!-- The publisher's one line: --><script async src=\"//{host}/widget.js\" data-article=\"{}\"></script>\
</article><aside class=\"more\"><h2>More stories</h2><ul>{others}</ul><p><a href=\"/demo/\">All demo pages</a></p></aside></main>",
        story(a),
        escape(&a.id),
    );
    Ok(page(
        &format!("{} · The Daily Example", a.title),
        &head,
        &body,
    ))
}

/// The article's headline, date line and paragraphs.
fn story(a: &Article) -> String {
    let mut out = format!("<h1>{}</h1>", escape(&a.title));
    let _ = write!(
        out,
        "<p class=\"dateline\">By the Example staff{}</p>",
        a.date
            .as_deref()
            .map(|d| format!(" · <time datetime=\"{0}\">{0}</time>", escape(d)))
            .unwrap_or_default()
    );
    for para in a.text.lines().map(str::trim).filter(|p| !p.is_empty()) {
        let _ = write!(out, "<p>{}</p>", escape(para));
    }
    out
}

fn page(title: &str, head: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{}</title>\n{head}<link rel=\"stylesheet\" href=\"/demo.css\"></head>\
<body><header class=\"masthead\"><a href=\"/demo/\">The Daily Example</a>\
<span>A demo of the ama widget</span></header>\n{body}\n\
<footer class=\"colophon\">A demo page served by ama. Answers come from this machine.</footer></body></html>\n",
        escape(title)
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The host the page was asked for (the guard has checked it), for the script's address.
fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1:8080")
        .to_string()
}

/// Text for HTML content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_is_escaped_text_in_paragraphs() {
        let a = Article {
            id: "x".into(),
            path: "x".into(),
            title: "A <b>bold</b> \"claim\"".into(),
            date: Some("2024-11-20".into()),
            url: None,
            text: "First <script>alert(1)</script> & more.\n\nSecond.".into(),
        };
        let html = story(&a);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert_eq!(html.matches("<p>").count(), 2, "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("&amp; more"));
    }

    #[test]
    fn a_strange_host_header_is_not_echoed() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("evil\"><script>"));
        assert_eq!(host(&h), "127.0.0.1:8080");
        h.insert(header::HOST, HeaderValue::from_static("news.example:8443"));
        assert_eq!(host(&h), "news.example:8443");
    }
}
