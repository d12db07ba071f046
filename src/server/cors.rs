//! Cross-origin use of the API by the embeddable widget (`/widget.js`) on the sites given with
//! `--allow-origin`:
//!
//! - **Preflights** (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin
//!   are answered 204 with the methods and headers the widget uses; from any other origin 403,
//!   so the browser sends nothing after them.
//! - **Responses** to an allowed origin carry `Access-Control-Allow-Origin` with that origin
//!   (never `*`, never credentials) and `Vary: Origin`.
//! - **Refusals.** A request whose `Origin` is neither the server's own nor allowed gets 403
//!   before any handler runs, reads included, so nothing is read or written for it. The
//!   refusal's JSON names the origin and is readable by that page (it carries
//!   `Access-Control-Allow-Origin` for it), so the widget can say why instead of going blank.
//! - `/widget.js` itself is public: any page may load it (`Access-Control-Allow-Origin: *`,
//!   for `<script crossorigin>` and subresource integrity).
//!
//! Runs after [`super::guard`], which has already refused foreign hosts and foreign writes.
use super::error::ApiError;
use super::guard::{authority, AccessPolicy};
use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Paths any page may load cross-origin.
const PUBLIC_PATHS: &[&str] = &["/widget.js"];

/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The middleware.
pub async fn check(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if PUBLIC_PATHS.contains(&path.as_str()) {
        let mut response = next.run(request).await;
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        return response;
    }
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        let mut response = next.run(request).await;
        add_vary(response.headers_mut());
        return response;
    };
    let text = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    let allowed = allowed(&state.options.access, &text, authority(&request).as_deref());
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if !allowed {
        tracing::warn!(
            "refused {} {path} from the page at {text:?}",
            request.method()
        );
        let mut response = refusal(&text).into_response();
        add_vary(response.headers_mut());
        if !preflight {
            // Readable by the refused page (its message, nothing else), so it can say why.
            response
                .headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        return response;
    }
    if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, accept"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        add_vary(headers);
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after"),
    );
    add_vary(headers);
    response
}

/// Whether a page at `origin` may use the API: its own origin, or one allowed.
fn allowed(policy: &AccessPolicy, origin: &str, authority: Option<&str>) -> bool {
    policy.origin_allowed(origin, authority)
}

/// The 403 a page from a refused origin gets: what to do about it, in its message.
pub fn refusal(origin: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "pages at {origin:?} may not use this answers server; its operator can allow them with --allow-origin {origin}"
    ))
}

/// `Vary: Origin`, added to what is already there.
fn add_vary(headers: &mut HeaderMap) {
    let has = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("origin"))
        })
    });
    if !has {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{router, ServerOptions};
    use super::*;
    use tower::ServiceExt;

    const SITE: &str = "http://news.example";

    async fn send(method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
        let options = ServerOptions {
            access: AccessPolicy {
                origins: vec![SITE.into()],
                ..AccessPolicy::default()
            },
            ..ServerOptions::default()
        };
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let request = b.body(axum::body::Body::empty()).unwrap();
        router(AppState::new(options))
            .oneshot(request)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_allowed_site_gets_its_preflight_and_its_origin_back() {
        let r = send(
            Method::OPTIONS,
            "/api/ask/stream",
            &[
                ("origin", SITE),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);
        assert!(h[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST"));
        assert!(h[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("content-type"));
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
        let r = send(Method::GET, "/healthz", &[("origin", SITE)]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);
        assert_eq!(r.headers()[header::VARY], "Origin");
    }

    #[tokio::test]
    async fn another_site_is_refused_reads_included_and_told_why() {
        let other = "http://elsewhere.example";
        let r = send(
            Method::OPTIONS,
            "/api/feedback",
            &[("origin", other), ("access-control-request-method", "POST")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        let r = send(Method::GET, "/healthz", &[("origin", other)]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // Readable by that page, so the widget can show the reason.
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], other);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["type"], "permission_error");
        // The server's own pages, requests without an origin, and the script itself.
        let own = send(
            Method::GET,
            "/healthz",
            &[("origin", "http://127.0.0.1:8080")],
        )
        .await;
        assert_eq!(own.status(), StatusCode::OK);
        assert_eq!(
            send(Method::GET, "/healthz", &[]).await.status(),
            StatusCode::OK
        );
        let script = send(Method::GET, "/widget.js", &[("origin", other)]).await;
        assert_eq!(script.status(), StatusCode::OK);
        assert_eq!(script.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn vary_is_added_once() {
        let mut h = HeaderMap::new();
        add_vary(&mut h);
        add_vary(&mut h);
        assert_eq!(h.get_all(header::VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        add_vary(&mut h);
        assert_eq!(h.get_all(header::VARY).iter().count(), 2);
    }

    #[test]
    fn the_refusal_names_the_origin_and_the_flag() {
        let e = refusal("http://evil.example");
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let m = e.to_string();
        assert!(
            m.contains("http://evil.example") && m.contains("--allow-origin"),
            "{m}"
        );
    }
}
