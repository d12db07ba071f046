//! The real server (`ama serve` on the seed article, the real model) over real HTTP: every
//! endpoint and every error path. One server per test function, one at a time (the server
//! holds the suite's heavy lock).

use crate::common::server::Server;
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn post(url: &str, body: impl Into<reqwest::blocking::Body>) -> Response {
    client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap()
}

fn post_json(url: &str, body: &Value) -> Response {
    post(url, body.to_string())
}

/// Asserts an error response: its status and a JSON body `{"error": {"message", "type"}}`.
fn assert_error(r: Response, status: u16) -> Value {
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
fn sse(text: &str) -> Vec<(String, String)> {
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
fn report(data: &Path) -> Value {
    crate::common::server::report(&["--data".as_ref(), data.as_os_str()])
}

/// Polls the report until `ready` holds (the store writes after the response).
fn report_until(data: &Path, ready: impl Fn(&Value) -> bool) -> Value {
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
fn raw_get(url: &str, path: &str) -> String {
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

#[test]
fn api_against_the_real_server() {
    // Dozens of questions in a few seconds from one address: no per-client limit here (the
    // limits have their own test below).
    let server = Server::start_with(&["--rate-limit", "0"]);
    let url = server.url.clone();

    // Health and the model list.
    let health: Value = client()
        .get(format!("{url}/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = client()
        .get(format!("{url}/readyz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["articles"], 1);
    let models: Value = client()
        .get(format!("{url}/v1/models"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "SmolLM2-135M-Instruct.Q4_1");

    // Articles: the list, one whole with passages and its related questions, an unknown id.
    let list: Value = client()
        .get(format!("{url}/api/articles"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let first = &list["articles"][0];
    let id = first["id"].as_str().unwrap().to_string();
    assert!(first["passages"].as_u64().unwrap() >= 5, "{first}");
    let article: Value = client()
        .get(format!("{url}/api/articles/{id}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let text = article["text"].as_str().unwrap();
    let passages = article["passages"].as_array().unwrap();
    assert_eq!(passages.len() as u64, first["passages"].as_u64().unwrap());
    for p in passages {
        let (s, e) = (
            p["range"]["start"].as_u64().unwrap() as usize,
            p["range"]["end"].as_u64().unwrap() as usize,
        );
        assert!(s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e));
        for sentence in p["sentences"].as_array().unwrap() {
            let ss = sentence["start"].as_u64().unwrap() as usize;
            assert!(ss >= s && sentence["end"].as_u64().unwrap() as usize <= e);
        }
    }
    let related = article["related"].as_array().unwrap();
    assert!(related.len() >= 3, "{related:?}");
    assert_error(
        client()
            .get(format!("{url}/api/articles/no-such-article"))
            .send()
            .unwrap(),
        404,
    );

    // An answer with its citation, whose highlight is the quoted sentence of the article.
    let r = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "Who replaced General Zaluzhny?"}),
    );
    assert_eq!(r.status(), 200);
    let a: Value = r.json().unwrap();
    assert!(a["answer"].as_str().unwrap().contains("Syrsky"), "{a}");
    assert_eq!(a["declined"], false);
    let c = &a["citations"][0];
    assert_eq!(c["article_id"], id.as_str());
    let (hs, he) = (
        c["highlight"]["start"].as_u64().unwrap() as usize,
        c["highlight"]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[hs..he], c["quote"].as_str().unwrap());
    assert!(a["related"].as_array().unwrap().len() >= 2, "{a}");
    assert!(a["timings"]["total_ms"].as_f64().is_some());

    // Asked again: from the cache, the same answer.
    let again: Value = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "who replaced general Zaluzhny"}),
    )
    .json()
    .unwrap();
    assert_eq!(again["cached"], true);
    assert_eq!(again["answer"], a["answer"]);

    // A question the article cannot answer is declined, with questions it can answer.
    let off: Value = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "What is the boiling point of mercury?", "article": id}),
    )
    .json()
    .unwrap();
    assert_eq!(off["declined"], true, "{off}");
    assert!(off["citations"].as_array().unwrap().is_empty());
    assert!(!off["related"].as_array().unwrap().is_empty());

    // A follow-up borrows the subject of the conversation.
    let follow: Value = post_json(
        &format!("{url}/api/ask"),
        &json!({
            "question": "Who replaced him?",
            "history": [
                {"role": "user", "content": "Who spearheaded Ukraine's defense in Kyiv?"},
                {"role": "assistant", "content": "General Zaluzhny [1]."}
            ]
        }),
    )
    .json()
    .unwrap();
    assert!(
        follow["query"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("zaluzhny"),
        "{follow}"
    );
    assert!(
        follow["answer"].as_str().unwrap().contains("Syrsky"),
        "{follow}"
    );

    // The stream: sources, deltas of the draft, then the checked result; nothing after it.
    let body = post_json(
        &format!("{url}/api/ask/stream"),
        &json!({"question": "What do North Korean reinforcements aim to do in Kursk?"}),
    );
    assert_eq!(body.status(), 200);
    assert!(body.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse(&body.text().unwrap());
    assert_eq!(
        events.first().map(|e| e.0.as_str()),
        Some("sources"),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|e| e.0.as_str()),
        Some("done"),
        "{events:?}"
    );
    let deltas: String = events
        .iter()
        .filter(|e| e.0 == "delta")
        .map(|e| {
            serde_json::from_str::<Value>(&e.1).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let done: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(!deltas.is_empty());
    assert_eq!(
        done["draft"].as_str().unwrap(),
        deltas,
        "the deltas are the draft"
    );
    let sources: Value = serde_json::from_str(&events[0].1).unwrap();
    assert!(!sources["evidence"].as_array().unwrap().is_empty());
    assert!(!done["answer"].as_str().unwrap().is_empty());

    // The answered question is recorded in the store (SQLite in the data folder), for the
    // editors' report and later readers' suggestions (written aside from the response).
    assert_eq!(done["declined"], false, "{done}");
    let question = done["question"].as_str().unwrap().to_string();
    let logged = report_until(&server.data, |r| r.to_string().contains(&question));
    assert!(
        logged.to_string().contains(&question),
        "the streamed question was not recorded: {logged}"
    );

    // Retrieval only.
    let hits: Value = client()
        .get(format!("{url}/api/search?q=Ukraine%20Russia&k=2"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(hits["hits"].as_array().unwrap().len(), 2);
    assert_error(
        client()
            .get(format!("{url}/api/search?q=%20"))
            .send()
            .unwrap(),
        422,
    );

    // Feedback is recorded.
    let r = post_json(
        &format!("{url}/api/feedback"),
        &json!({"question": "Who replaced General Zaluzhny?", "answer": "General Syrsky [1].", "useful": true}),
    );
    assert_eq!(r.status(), 204);
    let feedback = report_until(&server.data, |r| r["feedback"] == 1);
    assert_eq!(feedback["feedback"], 1, "{feedback}");
    assert_eq!(feedback["not_useful_count"], 0, "{feedback}");

    // OpenAI-compatible chat, without and with streaming.
    let chat: Value = post_json(
        &format!("{url}/v1/chat/completions"),
        &json!({"model": "any", "temperature": 0.7, "user": "x", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Who replaced General Zaluzhny?"}
        ]}),
    )
    .json()
    .unwrap();
    assert_eq!(chat["object"], "chat.completion");
    let content = chat["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.contains("Syrsky") && content.contains("Sources:\n[1]"),
        "{content}"
    );
    assert_eq!(chat["sources"][0]["number"], 1);
    let streamed = post_json(
        &format!("{url}/v1/chat/completions"),
        &json!({"stream": true, "messages": [{"role": "user", "content": "Who replaced General Zaluzhny?"}]}),
    )
    .text()
    .unwrap();
    let chunks = sse(&streamed);
    assert_eq!(chunks.last().map(|c| c.1.as_str()), Some("[DONE]"));
    let mut text = String::new();
    for (_, data) in &chunks[..chunks.len() - 1] {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
    }
    assert!(chunks.len() > 4, "the answer arrives in several chunks");
    assert_eq!(text, content, "streamed and whole answers agree");

    // Error paths: every one a JSON body.
    let api = format!("{url}/api/ask");
    assert_error(post(&api, vec![b'a'; 70 * 1024]), 413);
    assert_error(
        post(
            &api,
            format!("{{\"question\": \"{}\"}}", "x".repeat(70_000)),
        ),
        413,
    );
    assert_error(post_json(&api, &json!({"question": "  \n "})), 422);
    assert_error(post_json(&api, &json!({"question": "w".repeat(2001)})), 422);
    assert_error(post_json(&api, &json!({"questio": "typo"})), 422);
    assert_error(
        post_json(
            &api,
            &json!({"question": "Who?", "history": [{"role": "robot", "content": "x"}]}),
        ),
        422,
    );
    assert_error(post(&api, "{\"question\": "), 400);
    assert_error(post(&api, b"{\"question\": \"\xff\xfe\"}".to_vec()), 400);
    assert_error(post(&api, ""), 400);
    assert_error(
        post_json(&api, &json!({"question": "Who?", "article": "missing"})),
        404,
    );
    assert_error(
        post_json(
            &format!("{url}/v1/chat/completions"),
            &json!({"messages": []}),
        ),
        422,
    );
    assert_error(client().get(&api).send().unwrap(), 405);
    assert_error(
        client().get(format!("{url}/api/nothing")).send().unwrap(),
        404,
    );

    // The page, and nothing outside web/.
    let page = client().get(&url).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().unwrap().contains("Ask me anything"));
    for path in [
        "/../Cargo.toml",
        "/..%2fCargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/web/../src/main.rs",
        "/README.md",
    ] {
        let response = raw_get(&url, path);
        assert!(
            !response.contains("[package]") && !response.contains("root:"),
            "{path}: {response}"
        );
        assert!(response.starts_with("HTTP/1.1 4"), "{path}: {response}");
    }

    // Python's official OpenAI client.
    openai_python_client(&url);

    // SIGTERM shuts down cleanly.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// The official `openai` package, pinned, in a virtual environment under `target/` (made
/// with pip the first time, like the model).
const OPENAI_PACKAGE: &str = "openai==3.57.0";
/// Schemathesis, pinned, the same way.
const SCHEMATHESIS_PACKAGE: &str = "schemathesis==4.32.5";

/// The virtual environment `target/NAME` with one pinned package, made the first time (the
/// marker file, named as the pin, says it is complete). `.ci/run` makes the same ones ahead.
fn python_venv(name: &str, package: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target").join(name);
    let marker = venv.join(package);
    if !marker.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for the Python client tests");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "pip install {package} failed");
        std::fs::write(&marker, "").unwrap();
    }
    venv.join("bin")
}

fn openai_python() -> std::path::PathBuf {
    python_venv("openai-venv", OPENAI_PACKAGE).join("python")
}

/// Runs `tests/openai_client.py` with the official client against the server.
fn openai_python_client(url: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stdout = succeeded(
        Command::new(openai_python())
            .arg(root.join("tests/openai_client.py"))
            .arg(format!("{url}/v1")),
        "the openai client",
    );
    assert!(stdout.contains("ok: models, chat, stream"), "{stdout}");
}

/// Runs a command, asserts that it succeeded (showing its output when not), returns its
/// standard output.
fn succeeded(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    stdout
}

/// The contract: `/openapi.json` describes the API, and schemathesis, generating requests
/// from it (examples, boundary and malformed values, random ones), finds no 5xx, no
/// undocumented content type and no body that breaks its schema: every error is the
/// documented JSON error body.
#[test]
fn schemathesis_finds_no_server_error_and_only_documented_responses() {
    let server = Server::start_with(&["--rate-limit", "0", "--feedback-rate-limit", "0"]);
    let doc: Value = client()
        .get(format!("{}/openapi.json", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["paths"]["/api/ask"]["post"].is_object(), "{doc}");
    let st = python_venv("schemathesis-venv", SCHEMATHESIS_PACKAGE).join("schemathesis");
    // Hypothesis keeps its example database in the working folder: a temporary one.
    let work = tempfile::tempdir().unwrap();
    let stdout = succeeded(
        Command::new(st)
            .current_dir(work.path())
        .args(["--no-color", "run"])
        .arg(format!("{}/openapi.json", server.url))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "8",
            "--request-timeout",
            "60",
            "--seed",
            "1",
        ]),
        "schemathesis",
    );
    // It ran every operation (a schema it could not read would test nothing).
    assert!(stdout.contains("10 selected"), "{stdout}");
}

/// With a queue of one, a burst of different questions gets some 503s with Retry-After and
/// JSON bodies, never anything else; the server keeps answering afterwards.
#[test]
fn a_burst_beyond_the_queue_is_refused_cleanly() {
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
        let (status, retry, body) = h.join().unwrap();
        match status {
            200 => assert!(body.contains("event: done"), "{body}"),
            503 => {
                busy += 1;
                assert!(retry);
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["error"]["type"], "overloaded_error");
            }
            other => panic!("unexpected status {other}: {body}"),
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

/// Sends a raw request and returns what the server answered (headers and body).
fn raw_request(url: &str, request: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
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
