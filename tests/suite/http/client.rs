//! Talking to the server under test: a client with a long timeout, JSON posts, error bodies,
//! Server-Sent Events, raw requests that no client normalises, and the store's report.
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

pub(super) fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

pub(super) fn post(url: &str, body: impl Into<reqwest::blocking::Body>) -> Response {
    client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap()
}

pub(super) fn post_json(url: &str, body: &Value) -> Response {
    post(url, body.to_string())
}

/// Asserts an error response: its status and a JSON body `{"error": {"message", "type"}}`.
pub(super) fn assert_error(r: Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().expect("an error body is JSON");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v["error"]["type"].is_string(), "{v}");
    v
}

/// Server-Sent Events of a finished stream: (event name, data).
pub(super) fn sse(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                }
            }
            (!data.is_empty()).then(|| (name, data.join("\n")))
        })
        .collect()
}

/// The editors' report of a server's store (`ama report --json` on its data folder).
pub(super) fn report(data: &Path) -> Value {
    crate::common::server::report(&["--data".as_ref(), data.as_os_str()])
}

/// Polls the report until `ready` holds (the store writes after the response).
pub(super) fn report_until(data: &Path, ready: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let r = report(data);
        if ready(&r) || started.elapsed() > Duration::from_secs(10) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A raw request line, so that no client normalises the path first.
pub(super) fn raw_get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Sends a raw request and returns what the server answered (headers and body).
pub(super) fn raw_request(url: &str, request: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
