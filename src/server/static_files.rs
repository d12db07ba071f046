//! The chat page: the files of `web/`, embedded in the binary (also in debug builds), so the
//! page works offline and nothing outside `web/` can ever be served.
use super::error::ApiError;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "README.md"]
#[exclude = "widget/*"]
struct Assets;

/// The page's content security policy: only its own files, no inline script.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// Serves `/` and the page's files; everything else is a JSON 404.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    // Only plain relative names are looked up (the embed holds nothing else anyway).
    let plain = !path
        .split(['/', '\\'])
        .any(|seg| seg.is_empty() || seg == "." || seg == ".." || seg.contains('%'));
    match Assets::get(path).filter(|_| plain) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&mime) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            response
        }
        None => ApiError::NotFound(format!("nothing at {}", uri.path())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn status(path: &str) -> StatusCode {
        let uri: Uri = path.parse().unwrap();
        serve(uri).await.status()
    }

    #[tokio::test]
    async fn only_files_of_web_are_served() {
        assert_eq!(status("/").await, StatusCode::OK);
        assert_eq!(status("/index.html").await, StatusCode::OK);
        for bad in [
            "/../Cargo.toml",
            "/..%2fCargo.toml",
            "/%2e%2e/Cargo.toml",
            "/web/../Cargo.toml",
            "/./index.html",
            "//etc/passwd",
            "/README.md",
            "/..\\Cargo.toml",
            "/widget/mount.js",
        ] {
            assert_eq!(status(bad).await, StatusCode::NOT_FOUND, "{bad}");
        }
    }
}
