//! What the server refuses, and how: a burst beyond its queue, foreign pages, DNS
//! rebinding, floods, slow clients, and a second server on the same data folder.
use super::client::{assert_error, client, post, post_json, raw_request, report, report_until};
use crate::common::server::Server;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// With a queue of one, a burst of different questions is answered, never refused: those
/// beyond the queue at once with their quoted, cited evidence, marked busy; the server keeps
/// answering afterwards.
#[test]
fn a_burst_beyond_the_queue_gets_the_evidence_at_once() {
    let server = Server::start_with(&["--queue", "1", "--cache", "0"]);
    let url = server.url.clone();
    let subjects: [&'static str; 12] = [
        "Zaluzhny",
        "Syrsky",
        "Kursk",
        "Putin",
        "Zelensky",
        "Bakhmut",
        "Mariupol",
        "Donbas",
        "North Korea",
        "Trump",
        "Kherson",
        "Kyiv",
    ];
    let handles: Vec<_> = subjects
        .into_iter()
        .map(|s| {
            let url = url.clone();
            let q = format!("What does the article say about {s} and the war?");
            std::thread::spawn(move || {
                let r = post_json(
                    &format!("{url}/api/ask/stream"),
                    &json!({"question": q, "history": [{"role": "user", "content": s}]}),
                );
                let status = r.status().as_u16();
                let retry = r.headers().get("retry-after").is_some();
                let body = r.text().unwrap();
                (status, retry, body)
            })
        })
        .collect();
    let mut busy = 0;
    for h in handles {
        let (status, _, body) = h.join().unwrap();
        assert_eq!(status, 200, "{body}");
        let done = body
            .split("event: done\ndata: ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .unwrap_or_else(|| panic!("no done event: {body}"));
        let v: Value = serde_json::from_str(done).unwrap();
        if v["busy"] == true {
            busy += 1;
            assert_eq!(v["degraded"], true, "{v}");
            assert!(v["answer"].as_str().unwrap().starts_with('“'), "{v}");
            assert!(!v["citations"].as_array().unwrap().is_empty(), "{v}");
        }
    }
    assert!(
        busy > 0,
        "12 simultaneous generations never filled a queue of one"
    );
    let r = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "Who replaced General Zaluzhny?"}),
    );
    assert_eq!(r.status(), 200);
}

/// As an attacker on the same machine would try it: a foreign page posting `text/plain`, a
/// DNS-rebinding page reading an article, a client that never finishes its headers, a client
/// asking too often, and a second server on the same data folder.
#[test]
fn foreign_pages_rebinding_floods_and_slow_clients_are_refused() {
    let server = Server::start_with(&[
        "--rate-limit",
        "3",
        "--feedback-rate-limit",
        "6",
        "--read-timeout-secs",
        "1",
        "--allow-origin",
        "https://news.example",
    ]);
    let url = server.url.clone();
    let addr = url.trim_start_matches("http://").to_string();
    let recorded = |data: &Path| report(data)["feedback"].as_i64().unwrap();
    let verdict = r#"{"question": "Who replaced General Zaluzhny?", "answer": "General Syrsky [1].", "useful": true}"#;
    let feedback = |origin: Option<&str>, content_type: &str| {
        let mut r = client()
            .post(format!("{url}/api/feedback"))
            .header("content-type", content_type)
            .body(verdict);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send().unwrap()
    };

    // A page elsewhere posts without a preflight: 403, and nothing is written.
    let v = assert_error(feedback(Some("http://evil.example"), "text/plain"), 403);
    assert_eq!(v["error"]["type"], "permission_error");
    assert_error(feedback(Some("null"), "application/json"), 403);
    // Without an origin, a body declared as something other than JSON: 415.
    assert_error(feedback(None, "application/x-www-form-urlencoded"), 415);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        recorded(&server.data),
        0,
        "a refused request wrote feedback"
    );
    // The chat page's own origin, and one allowed with --allow-origin, may post.
    assert_eq!(feedback(Some(&url), "text/plain").status(), 204);
    assert_eq!(
        feedback(Some("https://news.example"), "application/json").status(),
        204
    );
    assert_eq!(
        report_until(&server.data, |r| r["feedback"] == 2)["feedback"],
        2
    );

    // Over the feedback quota (6 a minute, 2 at once): 429 with Retry-After, nothing written.
    let r = feedback(None, "application/json");
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_error(r, 429);
    assert_eq!(
        report_until(&server.data, |r| r["feedback"] == 2)["feedback"],
        2
    );

    // DNS rebinding: the page's name, not an IP, arrives as the Host: 421 for every route.
    let article = client().get(format!("{url}/api/articles")).send().unwrap();
    let articles: Value = article.json().unwrap();
    let id = articles["articles"][0]["id"].as_str().unwrap().to_string();
    let rebound = raw_request(
        &url,
        &format!(
            "GET /api/articles/{id} HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
            addr.rsplit(':').next().unwrap()
        ),
    );
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound}");
    assert!(rebound.contains("--allow-host"), "{rebound}");
    let own = raw_request(
        &url,
        &format!("GET /api/articles/{id} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert!(
        own.starts_with("HTTP/1.1 200"),
        "{}",
        &own[..own.len().min(200)]
    );

    // The model routes' quota: 3 a minute, 1 at once.
    let ask = || {
        post(
            &format!("{url}/api/ask"),
            r#"{"question": "Who replaced General Zaluzhny?"}"#,
        )
    };
    assert_eq!(ask().status(), 200);
    let r = ask();
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429);

    // A client that never finishes its request head is cut off (the limit is 1 s here).
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    assert!(
        read.is_ok(),
        "the server kept a connection without a request head open: {read:?}"
    );
    // The server still answers everyone else.
    assert_eq!(
        client()
            .get(format!("{url}/healthz"))
            .send()
            .unwrap()
            .status(),
        200
    );

    // A second server on the same data folder stops at once and says who holds it.
    let second = Command::new(env!("CARGO_BIN_EXE_ama"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--corpus",
            "seeds",
            "--data",
        ])
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use") && stderr.contains(&server.child.id().to_string()),
        "{stderr}"
    );
}
