//! Reading a corpus folder into articles, and splitting articles into passages.
//!
//! Every article keeps its full display text; passages and sentences refer to it by byte
//! ranges so that a page can highlight exactly what an answer rests on.

mod chunk;
mod formats;

pub use chunk::{chunk_article, passage_faults, split_sentences, ChunkConfig, Passage};

/// The OpenAPI schema of a byte range of an article's text, as serde writes a
/// `Range<usize>`: `{"start": 10, "end": 42}`, end exclusive.
pub fn byte_range_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let offset = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("A byte range of the article's text, end exclusive"))
        .property("start", offset())
        .property("end", offset())
        .required("start")
        .required("end")
        .build()
}

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// File extensions read as articles.
pub const ARTICLE_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm"];

/// One article of the corpus, with its full text kept for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Stable id derived from the file's path relative to the corpus root.
    pub id: String,
    /// Path relative to the corpus root.
    pub path: PathBuf,
    pub title: String,
    pub date: Option<String>,
    pub url: Option<String>,
    /// Plain text: paragraphs separated by a blank line, no markup, no control characters.
    pub text: String,
}

/// A file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// The articles read from a corpus folder, and the files that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub articles: Vec<Article>,
    pub skipped: Vec<SkippedFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("corpus folder {path} cannot be read: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corpus folder {0} is not a directory")]
    NotADirectory(PathBuf),
}

/// Why one file could not become an article.
#[derive(Debug, thiserror::Error)]
pub enum ArticleError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not valid UTF-8 text")]
    NotUtf8,
    #[error("bad front matter: {0}")]
    FrontMatter(String),
    #[error("no text in the file")]
    Empty,
}

/// Lists the article files under `root`, recursively, sorted by path so that ids, manifests
/// and indexes come out the same on every run. Hidden files and folders are ignored.
pub fn list_article_files(root: &Path) -> Result<Vec<PathBuf>, CorpusError> {
    let meta = std::fs::metadata(root).map_err(|source| CorpusError::Folder {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(CorpusError::NotADirectory(root.to_path_buf()));
    }
    let mut files = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                tracing::warn!("skipping unreadable corpus entry: {err}");
                continue;
            }
        };
        if entry.file_type().is_file() && has_article_extension(entry.path()) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

fn has_article_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| ARTICLE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Reads every article under `root`. A file that cannot be read or parsed is reported in
/// [`Corpus::skipped`] with its reason, and the rest goes on.
pub fn read_corpus(root: &Path) -> Result<Corpus, CorpusError> {
    let files = list_article_files(root)?;
    let mut corpus = Corpus::default();
    let mut used_ids = std::collections::HashSet::new();
    for path in files {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        match read_article(&path, &rel) {
            Ok(mut article) => {
                // Two files differing only by extension would share an id: keep both.
                if !used_ids.insert(article.id.clone()) {
                    article.id = format!("{}-{}", article.id, extension_of(&rel));
                    used_ids.insert(article.id.clone());
                }
                corpus.articles.push(article);
            }
            Err(err) => {
                tracing::warn!("skipping {}: {err}", path.display());
                corpus.skipped.push(SkippedFile {
                    path: rel,
                    reason: err.to_string(),
                });
            }
        }
    }
    Ok(corpus)
}

fn extension_of(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads one article file. `rel` is its path relative to the corpus root (it gives the id).
pub fn read_article(path: &Path, rel: &Path) -> Result<Article, ArticleError> {
    let bytes = std::fs::read(path)?;
    let raw = String::from_utf8(bytes).map_err(|_| ArticleError::NotUtf8)?;
    parse_article(&raw, rel)
}

/// Parses an article's file contents; its format comes from `rel`'s extension (Markdown,
/// HTML, anything else plain text) and its id from `rel`.
pub fn parse_article(raw: &str, rel: &Path) -> Result<Article, ArticleError> {
    let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    let parsed = match extension_of(rel).as_str() {
        "md" | "markdown" => formats::markdown(raw)?,
        "html" | "htm" => formats::html(raw),
        _ => formats::plain_text(raw),
    };
    let text = clean_text(&parsed.text);
    if text.is_empty() {
        return Err(ArticleError::Empty);
    }
    let title = parsed
        .title
        .map(|t| collapse_whitespace(&t))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| readable_title(rel, &text));
    Ok(Article {
        id: article_id(rel),
        path: rel.to_path_buf(),
        title,
        date: parsed.date,
        url: parsed.url,
        text,
    })
}

/// A stable, URL-safe id from the relative path: lower case, extension dropped, every run of
/// other characters turned into one `-`, folders joined by `--`.
pub fn article_id(rel: &Path) -> String {
    let stem = rel.with_extension("");
    let parts: Vec<String> = stem
        .components()
        .map(|c| slug(&c.as_os_str().to_string_lossy()))
        .filter(|s| !s.is_empty())
        .collect();
    let id = parts.join("--");
    if id.is_empty() {
        "article".to_string()
    } else {
        id
    }
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// The file name made readable: `kursk_offensive-2024.txt` → "Kursk offensive 2024". A name
/// that is only an ordinal and a hash (as the seed's is) says nothing, so the article's first
/// words stand in for it.
fn readable_title(rel: &Path, text: &str) -> String {
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let words: Vec<&str> = stem
        .split(|c: char| c == '_' || c == '-' || c == '.' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let meaningful = words
        .iter()
        .any(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3 && !looks_like_hash(w));
    if meaningful {
        let joined = words.join(" ");
        let mut chars = joined.chars();
        return match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => joined,
        };
    }
    opening_words(text, 10)
}

fn looks_like_hash(word: &str) -> bool {
    word.len() >= 8 && word.chars().all(|c| c.is_ascii_hexdigit())
}

/// The first sentence, cut to at most `max_words` words (with an ellipsis when cut).
fn opening_words(text: &str, max_words: usize) -> String {
    let first = split_sentences(text)
        .first()
        .map(|r| text[r.clone()].to_string())
        .unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    if words.len() <= max_words {
        return words.join(" ");
    }
    let mut cut = words[..max_words].join(" ");
    cut = cut
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .to_string();
    cut.push('…');
    cut
}

/// Lower-cased words (runs of letters and digits, apostrophes inside words kept).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            // "Kyiv’s" → "kyiv": possessives are the same entity.
            w.strip_suffix("’s")
                .or_else(|| w.strip_suffix("'s"))
                .map(str::to_string)
                .unwrap_or(w)
        })
        .collect()
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Normalises extracted text: `\r\n` → `\n`, control characters removed (the model's
/// tokenizer has no token for several of them and would drop them silently), spaces at line ends
/// trimmed, runs of blank lines folded to one blank line.
pub fn clean_text(raw: &str) -> String {
    let normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(normalised.len());
    let mut blank_run = 0usize;
    for line in normalised.lines() {
        let line: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let line = line.trim();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_slugs_of_the_path() {
        assert_eq!(
            article_id(Path::new("News/Kursk Offensive.md")),
            "news--kursk-offensive"
        );
        assert_eq!(article_id(Path::new("000_ae03.txt")), "000_ae03");
        assert_eq!(article_id(Path::new("a/b/c.html")), "a--b--c");
    }

    #[test]
    fn readable_titles_from_file_names() {
        assert_eq!(
            readable_title(Path::new("kursk_offensive-2024.txt"), "x"),
            "Kursk offensive 2024"
        );
        // A hash-like name falls back to the opening words.
        let text = "Within 72 hours, Ukraine has received approval from the U.S. and the UK to use advanced weapons. More.";
        assert_eq!(
            readable_title(Path::new("000_ae0332aa749f438f.txt"), text),
            "Within 72 hours, Ukraine has received approval from the U.S…"
        );
    }

    #[test]
    fn clean_text_strips_controls_and_folds_blank_lines() {
        let raw = "Title\r\n\r\n\r\nA\u{0004}b\tc  \nnext\n\n\n\nlast";
        assert_eq!(clean_text(raw), "Title\n\nAb c\nnext\n\nlast");
    }
}
