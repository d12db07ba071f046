//! Who may talk to the server: a browser page on another site must not write to it, and a
//! DNS-rebinding page must not read it.
//!
//! - **Host.** A request whose `Host` (or HTTP/2 authority) is not an IP address, `localhost`
//!   (or a `*.localhost` name) or a name given with `--allow-host` gets 421 Misdirected
//!   Request. A rebinding page reaches the server under the attacker's own domain name, so its
//!   requests carry that name; an IP literal cannot be rebound.
//! - **Writes.** A request that is not `GET`, `HEAD` or `OPTIONS` with an `Origin` must come
//!   from the page's own origin (the same host and port as the request) or one given with
//!   `--allow-origin`: otherwise 403. Without an `Origin` (curl, SDKs, other servers) a body
//!   declared as anything but JSON gets 415: those are the types a foreign page can post
//!   without the browser asking first.
//!
//! Refused requests reach no handler, so they write nothing.
use super::error::ApiError;
use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// Which hosts and origins the server answers (from `--allow-host` and `--allow-origin`).
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    /// Host names accepted besides IP addresses and `localhost`; `*` accepts any.
    pub hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) allowed to write besides the page's own; `*` allows any.
    pub origins: Vec<String>,
}

impl AccessPolicy {
    /// Whether a request for `authority` (`host[:port]`) is for this server.
    pub fn host_allowed(&self, authority: &str) -> bool {
        let host = host_of(authority);
        if host.is_empty() {
            return false;
        }
        if host.parse::<IpAddr>().is_ok() || host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        self.hosts
            .iter()
            .any(|h| h == "*" || h.trim_end_matches('.').eq_ignore_ascii_case(&host))
    }

    /// Whether a page at `origin` may write to the server reached as `authority`.
    pub fn origin_allowed(&self, origin: &str, authority: Option<&str>) -> bool {
        let origin = origin.trim_end_matches('/');
        if self
            .origins
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
        {
            return true;
        }
        // The page's own origin: scheme, then exactly the host and port the request names.
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false; // "null" (sandboxed frames, files) and anything malformed
        };
        let own = matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
            && authority.is_some_and(|a| a.eq_ignore_ascii_case(rest));
        own && self.host_allowed(rest)
    }
}

/// The host part of `host[:port]`, `[v6]:port` or `v6`, lower-cased and without a final dot.
fn host_of(authority: &str) -> String {
    let a = authority.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if a.matches(':').count() > 1 {
        a // a bare IPv6 address
    } else {
        a.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The authority the request names: HTTP/2's `:authority`, else the `Host` header.
pub(super) fn authority(request: &Request) -> Option<String> {
    if let Some(a) = request.uri().authority() {
        return Some(a.as_str().to_string());
    }
    request
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
}

/// A body type a foreign page may send without a CORS preflight (and so, here, refused without
/// an allowed `Origin`): anything declared that is not JSON.
fn declared_non_json(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
    let essence = text.split(';').next().unwrap_or("").trim().to_string();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    (!json).then_some(essence)
}

/// The middleware: refuses what the policy does not allow, before any handler runs.
pub async fn check(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match decide(&state.options.access, &request) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            tracing::warn!("refused {} {}: {e}", request.method(), request.uri().path());
            e.into_response()
        }
    }
}

fn decide(policy: &AccessPolicy, request: &Request) -> Result<(), ApiError> {
    let authority = authority(request);
    if let Some(a) = &authority {
        if !policy.host_allowed(a) {
            return Err(ApiError::MisdirectedHost(format!(
                "this server does not answer to the host {a:?}; start it with --allow-host {} to allow it",
                host_of(a)
            )));
        }
    }
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        if !policy.origin_allowed(&origin, authority.as_deref()) {
            return Err(ApiError::Forbidden(format!(
                "requests from the page at {origin:?} may not change anything here; start the server with --allow-origin {origin} to allow it"
            )));
        }
        return Ok(());
    }
    if let Some(essence) = declared_non_json(request.headers()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body is declared as {essence:?}; send JSON with 'Content-Type: application/json'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, host: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri("/api/feedback")
            .header(header::HOST, host);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn hosts_that_cannot_be_rebound_are_answered() {
        let p = AccessPolicy::default();
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:3000",
            "app.localhost:8080",
            "[::1]:8080",
            "10.1.2.3",
            "localhost.:80",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        let named = AccessPolicy {
            hosts: vec!["news.example".into()],
            ..AccessPolicy::default()
        };
        assert!(named.host_allowed("NEWS.example:443"));
        assert!(!named.host_allowed("other.example"));
    }

    #[test]
    fn origins_are_the_page_own_or_allowed() {
        let p = AccessPolicy {
            origins: vec!["https://news.example".into()],
            ..AccessPolicy::default()
        };
        assert!(p.origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(p.origin_allowed("https://news.example/", Some("127.0.0.1:8080")));
        assert!(!p.origin_allowed("http://127.0.0.1:9999", Some("127.0.0.1:8080")));
        assert!(!p.origin_allowed("http://evil.example", Some("127.0.0.1:8080")));
        assert!(!p.origin_allowed("null", Some("127.0.0.1:8080")));
        // A rebound name is refused even as the page's "own" origin.
        assert!(!p.origin_allowed("http://evil.example:8080", Some("evil.example:8080")));
    }

    #[test]
    fn refuses_foreign_hosts_foreign_writes_and_undeclared_json() {
        let p = AccessPolicy::default();
        let host = "127.0.0.1:8080";
        assert!(decide(&p, &request(Method::GET, host, &[])).is_ok());
        assert!(matches!(
            decide(&p, &request(Method::GET, "evil.example:8080", &[])),
            Err(ApiError::MisdirectedHost(_))
        ));
        // A foreign page's text/plain POST: refused for its origin.
        let foreign = request(
            Method::POST,
            host,
            &[
                ("origin", "http://evil.example"),
                ("content-type", "text/plain"),
            ],
        );
        assert!(matches!(decide(&p, &foreign), Err(ApiError::Forbidden(_))));
        // The page itself, and tools without an origin that send JSON or no type at all.
        let own = request(Method::POST, host, &[("origin", "http://127.0.0.1:8080")]);
        assert!(decide(&p, &own).is_ok());
        for ok in [
            vec![("content-type", "application/json")],
            vec![("content-type", "application/json; charset=utf-8")],
            vec![],
        ] {
            assert!(decide(&p, &request(Method::POST, host, &ok)).is_ok());
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            assert!(matches!(
                decide(&p, &request(Method::POST, host, &[("content-type", bad)])),
                Err(ApiError::UnsupportedMediaType(_))
            ));
        }
    }
}
