//! The remote model backend (`serve --llm-url`) against a real peer, llama.cpp's own
//! OpenAI-compatible server (`../shared/tools/llama-reference serve`): answers, streaming,
//! concurrent and cancelled generations, and the degradation when the peer stalls, dies and
//! comes back. Faults a real server cannot be made to produce (503s, bytes that are not an
//! answer, a stream cut short) come from a socket that writes them, at the client's level.

use crate::common::llm_harness::smollm2;
use crate::common::server::Server;
use ama::llm::{ChatMessage, GenerateParams, LanguageModel, RemoteModel, RemoteOptions};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first start builds llama.cpp's Python package (several minutes on 2 cores).
const PEER_READY_WITHIN: Duration = Duration::from_secs(1200);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// llama.cpp's server on loopback, serving the small reader's GGUF; killed on drop.
struct LlamaServer {
    port: u16,
    child: Child,
}

impl LlamaServer {
    fn start(port: u16) -> LlamaServer {
        let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/llama-reference");
        let model = smollm2();
        // llama.cpp logs every request; its log goes to a file, named if it fails.
        let log = std::fs::File::create(Self::log()).expect("the peer's log file");
        let child = Command::new(tool)
            .args(["serve", "--port", &port.to_string(), "--model"])
            .arg(&model)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start llama.cpp's server (../shared/tools/llama-reference serve)");
        let mut peer = LlamaServer { port, child };
        peer.wait_ready();
        peer
    }

    fn log() -> std::path::PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("llama-server.log")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        let client = Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/v1/models", self.url())).send() {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "llama.cpp's server exited: {status} (its log: {})",
                    Self::log().display()
                );
            }
            assert!(
                started.elapsed() < PEER_READY_WITHIN,
                "llama.cpp's server did not start (its log: {})",
                Self::log().display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn ask(server: &Server, question: &str) -> Value {
    let r = client()
        .post(format!("{}/api/ask", server.url))
        .json(&json!({ "question": question }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{question}");
    r.json().unwrap()
}

fn backend(server: &Server) -> Value {
    let ready: Value = client()
        .get(format!("{}/readyz", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    ready["backend"].clone()
}

/// A result that quotes its evidence with a citation.
fn assert_cites(result: &Value) {
    let citations = result["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{result}");
    let quote = citations[0]["quote"].as_str().unwrap();
    assert!(!quote.is_empty() && result["answer"].as_str().unwrap().contains("[1]"));
}

fn wait_for_state(server: &Server, state: &str, within: Duration) {
    let started = Instant::now();
    while backend(server)["state"] != state {
        assert!(
            started.elapsed() < within,
            "the backend was not {state} within {within:?}: {}",
            backend(server)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const QUESTIONS: [&str; 4] = [
    "Who spearheaded Ukraine's defense in Kyiv?",
    "What happened at Bakhmut?",
    "What bargaining chip does Ukraine hold?",
    "Who replaced the army chief?",
];

#[test]
fn answers_come_from_llama_cpps_server_and_degrade_while_it_is_down() {
    let peer = LlamaServer::start(free_port());
    let url = peer.url();
    let server = Server::start_with(&[
        "--llm-url",
        &url,
        // Long enough for three queued answers on a slow machine (llama.cpp's server writes
        // one at a time), short enough to see a stall degrade.
        "--llm-timeout-secs",
        "10",
        "--rate-limit",
        "0",
        "--cache",
        "0",
        // This test is of the answers: the peer writes no suggested questions first (28 s of
        // the test's 52 on 2 cores); the suggestions are tested with the local readers.
        "--related-articles",
        "0",
    ]);
    let status = backend(&server);
    assert_eq!(status["kind"], "remote", "{status}");
    assert_eq!(status["state"], "up", "{status}");
    assert_eq!(
        status["url"],
        format!("{url}/v1/chat/completions"),
        "{status}"
    );

    // Answers written by the peer: the model was called, and the answer is cited.
    let first = ask(&server, QUESTIONS[0]);
    assert_eq!(first["degraded"], false, "{first}");
    assert!(
        first["timings"]["ttft_ms"].as_f64().unwrap() > 0.0,
        "{first}"
    );
    assert!(
        first["tokens"]["completion"].as_u64().unwrap() > 0,
        "{first}"
    );
    assert!(!first["draft"].as_str().unwrap().is_empty(), "{first}");
    assert_cites(&first);

    // Streamed: the sources, the peer's deltas as they come, then the checked answer.
    let streamed = client()
        .post(format!("{}/api/ask/stream", server.url))
        .json(&json!({ "question": QUESTIONS[1] }))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let deltas = streamed.matches("event: delta").count();
    assert!(streamed.starts_with("event: sources"), "{streamed}");
    assert!(
        deltas >= 2,
        "the draft streamed in {deltas} pieces: {streamed}"
    );
    assert!(streamed.contains("event: done"), "{streamed}");
    assert!(streamed.contains("\"degraded\":false"), "{streamed}");

    // Several at once: the backend takes more than one generation at a time.
    let answers: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = QUESTIONS[1..]
            .iter()
            .map(|q| s.spawn(|| ask(&server, q)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for a in &answers {
        assert_eq!(a["degraded"], false, "{a}");
    }

    // A reader who leaves mid-answer cancels the generation.
    let mut stream = client()
        .post(format!("{}/api/ask/stream", server.url))
        .json(&json!({ "question": "Why does the article call the Bakhmut defense disastrous, in detail?" }))
        .send()
        .unwrap();
    let mut head = [0u8; 64];
    stream.read_exact(&mut head).unwrap();
    drop(stream);
    let started = Instant::now();
    while backend(&server)["in_flight"] != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the generation went on after its reader left: {}",
            backend(&server)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A stalled peer: after the first-token deadline the reader gets the evidence, quoted.
    peer.signal("-STOP");
    let started = Instant::now();
    let stalled = ask(&server, "Who leads Ukraine's army now?");
    peer.signal("-CONT");
    assert_eq!(stalled["degraded"], true, "{stalled}");
    assert_cites(&stalled);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );

    // A dead peer: answers degrade (never a 5xx), the backend is reported down, and then
    // answers come at once instead of after retries.
    let port = peer.port;
    drop(peer);
    for q in QUESTIONS {
        let r = ask(&server, q);
        assert_eq!(r["degraded"], true, "{r}");
        assert_cites(&r);
    }
    let down = backend(&server);
    assert_eq!(down["state"], "down", "{down}");
    assert!(
        down["last_error"].as_str().unwrap().contains("connect"),
        "{down}"
    );
    let started = Instant::now();
    let fast = ask(&server, "What did Zelensky insist on?");
    assert_eq!(fast["degraded"], true);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The streamed answer degrades the same way.
    let streamed = client()
        .post(format!("{}/api/ask/stream", server.url))
        .json(&json!({ "question": "What did Zelensky insist on at Bakhmut?" }))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(streamed.contains("\"degraded\":true"), "{streamed}");

    // The peer comes back on its port: the probe finds it, and answers are written again.
    let _peer = LlamaServer::start(port);
    wait_for_state(&server, "up", Duration::from_secs(30));
    let back = ask(
        &server,
        "What happened at Bakhmut, according to the article?",
    );
    assert_eq!(back["degraded"], false, "{back}");
    assert!(back["timings"]["ttft_ms"].as_f64().unwrap() > 0.0, "{back}");
}

/// One scripted HTTP exchange per connection: the next response of `responses` (the last one
/// repeats), after reading the request. Counts the requests.
struct Scripted {
    url: String,
    requests: Arc<AtomicUsize>,
}

fn scripted(responses: Vec<String>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let response = responses[n.min(responses.len() - 1)].clone();
            read_request(&mut stream);
            let _ = stream.write_all(response.as_bytes());
            let _ = stream.flush();
        }
    });
    Scripted { url, requests }
}

/// Reads a request's head and its body (by Content-Length).
fn read_request(stream: &mut TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
}

fn http(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn sse(chunks: &[&str]) -> String {
    let body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    http("200 OK", "text/event-stream", &body)
}

fn remote(url: &str) -> RemoteModel {
    RemoteModel::connect(RemoteOptions {
        model: Some("m".into()),
        first_token_timeout: Duration::from_secs(3),
        idle_timeout: Duration::from_secs(2),
        ..RemoteOptions::new(url)
    })
    .unwrap()
}

fn generate(model: &RemoteModel) -> Result<String, String> {
    model
        .generate(vec![ChatMessage::user("Who?")], GenerateParams::default())
        .map_err(|e| e.to_string())?
        .collect_blocking()
        .map(|(text, _)| text)
        .map_err(|e| e.to_string())
}

const GOOD: [&str; 3] = [
    r#"{"choices":[{"delta":{"content":"General "},"finish_reason":null}]}"#,
    r#"{"choices":[{"delta":{"content":"Syrsky"},"finish_reason":"stop"}]}"#,
    "[DONE]",
];

#[test]
fn server_errors_are_retried_and_what_is_not_an_answer_is_an_error() {
    // Two 503s, then an answer: retried with backoff, and the reader never sees the 503s.
    let flaky = scripted(vec![
        http("503 Service Unavailable", "text/plain", "overloaded"),
        http("503 Service Unavailable", "text/plain", "overloaded"),
        sse(&GOOD),
    ]);
    let model = remote(&flaky.url);
    assert_eq!(generate(&model).unwrap(), "General Syrsky");
    assert_eq!(flaky.requests.load(Ordering::SeqCst), 3);
    assert_eq!(model.status().state, "up");

    // A refusal of the request itself is not retried, and its message is kept.
    let refusing = scripted(vec![http(
        "400 Bad Request",
        "application/json",
        r#"{"error":{"message":"the prompt is longer than the context"}}"#,
    )]);
    let err = generate(&remote(&refusing.url)).unwrap_err();
    assert!(err.contains("longer than the context"), "{err}");
    assert_eq!(refusing.requests.load(Ordering::SeqCst), 1);

    // Bytes that are not an answer, and a stream cut before its end, are errors (the answer
    // flow then quotes the evidence), never half an answer.
    let garbage = scripted(vec![sse(&["<html>502 Bad Gateway</html>"])]);
    let err = generate(&remote(&garbage.url)).unwrap_err();
    assert!(err.contains("not JSON"), "{err}");
    let cut = scripted(vec![sse(&GOOD[..1])]);
    let err = generate(&remote(&cut.url)).unwrap_err();
    assert!(err.contains("ended before"), "{err}");

    // A server that ignores `stream` and sends the whole completion is read too.
    let whole = scripted(vec![http(
        "200 OK",
        "application/json",
        r#"{"choices":[{"message":{"role":"assistant","content":"General Syrsky"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3}}"#,
    )]);
    assert_eq!(generate(&remote(&whole.url)).unwrap(), "General Syrsky");

    // Three failures in a row: down, and refused at once without a request.
    let failing = scripted(vec![http("500 Internal Server Error", "text/plain", "x")]);
    let model = RemoteModel::connect(RemoteOptions {
        model: Some("m".into()),
        retries: 0,
        ..RemoteOptions::new(failing.url.as_str())
    })
    .unwrap();
    for _ in 0..3 {
        assert!(generate(&model).is_err());
    }
    assert_eq!(model.status().state, "down");
    let before = failing.requests.load(Ordering::SeqCst);
    let err = generate(&model).unwrap_err();
    assert!(err.contains("down"), "{err}");
    assert_eq!(failing.requests.load(Ordering::SeqCst), before);
}

#[test]
fn a_model_server_that_answers_garbage_never_costs_the_reader_an_answer() {
    let garbage = scripted(vec![sse(&["{\"nonsense\": true}"])]);
    let server = Server::start_with(&["--llm-url", &garbage.url, "--rate-limit", "0"]);
    for q in QUESTIONS {
        let r = ask(&server, q);
        assert_eq!(r["degraded"], true, "{r}");
        assert_cites(&r);
    }
    // The OpenAI-compatible endpoint degrades the same way.
    let r = client()
        .post(format!("{}/v1/chat/completions", server.url))
        .json(&json!({"model": "ama", "messages": [{"role": "user", "content": QUESTIONS[0]}]}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["degraded"], true, "{v}");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(backend(&server)["state"], "down");
}
