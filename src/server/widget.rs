//! `GET /widget.js`: the embeddable "Ask me anything" box, one script with its stylesheet
//! inside, for publishers' pages (`<script async src="…/widget.js" data-article="ID">`).
//!
//! Its source is the parts in `web/widget/`, joined here at compile time into one function
//! scope (no build step): the stylesheet `widget.css` as a string constant, then the scripts
//! in the order of [`PARTS`]. Served with an `ETag` (a hash of the script) and a short
//! `Cache-Control`, so pages revalidate it with a 304 and pick up a new version within
//! minutes.
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The stylesheet, put into the widget's shadow root.
const CSS: &str = include_str!("../../web/widget/widget.css");

/// The script's parts, in order: helpers first, the mounting last (it starts the widget).
const PARTS: &[(&str, &str)] = &[
    ("dom.js", include_str!("../../web/widget/dom.js")),
    ("net.js", include_str!("../../web/widget/net.js")),
    (
        "highlight.js",
        include_str!("../../web/widget/highlight.js"),
    ),
    ("cite.js", include_str!("../../web/widget/cite.js")),
    ("answer.js", include_str!("../../web/widget/answer.js")),
    (
        "conversation.js",
        include_str!("../../web/widget/conversation.js"),
    ),
    ("mount.js", include_str!("../../web/widget/mount.js")),
];

/// How long a page may use its copy before revalidating (then a 304 while unchanged).
const CACHE_CONTROL: &str = "public, max-age=600, stale-while-revalidate=86400";

/// The assembled script and its ETag.
pub struct Script {
    pub body: String,
    pub etag: String,
}

/// The script, assembled once.
pub fn script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let body = assemble();
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", &hex::encode(digest)[..20]);
        Script { body, etag }
    })
}

fn assemble() -> String {
    let css = serde_json::to_string(&compact_css(CSS)).unwrap_or_else(|_| "\"\"".to_string());
    let mut out =
        String::with_capacity(CSS.len() + PARTS.iter().map(|p| p.1.len()).sum::<usize>() + 256);
    out.push_str(
        "/* ama: the \"Ask me anything\" widget. Source: web/widget/ (served by ama serve). */\n",
    );
    out.push_str("(function () {\n'use strict';\nconst WIDGET_CSS = ");
    out.push_str(&css);
    out.push_str(";\n");
    for (name, part) in PARTS {
        out.push_str("\n// ---- ");
        out.push_str(name);
        out.push_str(" ----\n");
        out.push_str(&compact_js(part));
    }
    out.push_str("\n})();\n");
    out
}

/// A part without its comment lines, indentation and blank lines (line breaks kept, so
/// nothing else changes). The source keeps them; the served script need not.
fn compact_js(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut in_comment = false;
    for line in source.lines() {
        let t = line.trim();
        if in_comment {
            in_comment = !t.ends_with("*/");
            continue;
        }
        if t.starts_with("/*") {
            in_comment = !t.ends_with("*/");
            continue;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        out.push_str(t);
        out.push('\n');
    }
    out
}

/// The stylesheet without comments and runs of white space (selectors' spaces kept).
fn compact_css(source: &str) -> String {
    let mut text = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(i) = rest.find("/*") {
        text.push_str(&rest[..i]);
        rest = rest[i + 2..]
            .split_once("*/")
            .map_or("", |(_, after)| after);
    }
    text.push_str(rest);
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = words.join(" ");
    for sep in ["{", "}", ";"] {
        out = out
            .replace(&format!(" {sep}"), sep)
            .replace(&format!("{sep} "), sep);
    }
    out
}

/// Whether `If-None-Match` names `etag` (or `*`); weak tags compare equal.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// `GET /widget.js` (and `HEAD`).
pub async fn serve(headers: HeaderMap) -> Response {
    let script = script();
    let mut response = if not_modified(&headers, &script.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, script.body.clone()).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if let Ok(v) = HeaderValue::from_str(&script.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The publisher's own performance monitoring may time it.
    h.insert("timing-allow-origin", HeaderValue::from_static("*"));
    // Pages that isolate themselves (COEP) may still load it.
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_and_its_stylesheet_stay_under_40_kb() {
        let size = script().body.len();
        assert!(size < 40 * 1024, "widget.js is {size} bytes");
    }

    #[test]
    fn the_parts_are_plain_scripts_for_one_scope() {
        for (name, part) in PARTS {
            for line in part.lines() {
                assert!(
                    !line.starts_with("import ") && !line.starts_with("export "),
                    "{name}: modules cannot be joined: {line}"
                );
            }
            assert!(part.lines().count() <= 500, "{name} is over 500 lines");
        }
        assert!(CSS.lines().count() <= 500, "widget.css is over 500 lines");
        // The script talks to its own origin only: no absolute URLs to load or fetch.
        let body = &script().body;
        assert!(!body.contains("https://") && !body.contains("http://"));
    }

    #[test]
    fn compacting_keeps_code_and_drops_comments() {
        let js = "// a comment\n/**\n * doc\n */\nfunction f() {\n  return 1; // kept\n}\n\n";
        assert_eq!(compact_js(js), "function f() {\nreturn 1; // kept\n}\n");
        let css = "/* c */\n.a :hover,\n.b { color: red;\n  margin: 0 }\n";
        assert_eq!(compact_css(css), ".a :hover, .b{color: red;margin: 0}");
    }

    #[tokio::test]
    async fn served_with_an_etag_and_304_when_unchanged() {
        let r = serve(HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers()[header::ETAG].clone();
        assert!(r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age"));
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag.clone());
        let r = serve(h).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], etag);
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(serve(h).await.status(), StatusCode::OK);
    }
}
