//! The server's failure paths against a scripted model (deterministic, no model file): a full
//! queue, a slow model (time limit: the evidence quoted), a client that goes away (cancellation), and retrieval
//! while the model is busy. The real model is driven by `tests/http.rs`.
use super::*;
use crate::answer::{AnswerConfig, Answerer, Retriever};
use crate::index::{ensure_index, IndexOptions};
use crate::llm::{
    ChatMessage, FinishReason, GenEvent, GenStream, GenSummary, GenerateParams, LanguageModel,
    LlmError,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A model that writes "General Syrsky [1]." a word at a time, `delay` apart, or is busy.
struct Scripted {
    delay: Duration,
    busy: bool,
    started: Arc<AtomicUsize>,
    cancelled: Arc<AtomicBool>,
}

impl LanguageModel for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn generate(&self, _: Vec<ChatMessage>, _: GenerateParams) -> Result<GenStream, LlmError> {
        if self.busy {
            return Err(LlmError::Busy);
        }
        self.started.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let delay = self.delay;
        let cancelled = self.cancelled.clone();
        std::thread::spawn(move || {
            for word in ["General ", "Syrsky ", "[1]."] {
                std::thread::sleep(delay);
                if tx.blocking_send(GenEvent::Delta(word.into())).is_err() {
                    cancelled.store(true, Ordering::SeqCst);
                    return;
                }
            }
            let _ = tx.blocking_send(GenEvent::Done(GenSummary {
                prompt_tokens: 10,
                completion_tokens: 3,
                prompt_trimmed: false,
                finish_reason: FinishReason::Stop,
                ttft_ms: 1.0,
                total_ms: 2.0,
                prefill_tok_s: 1.0,
                decode_tok_s: 1.0,
                decode_passes: 0,
            }));
        });
        Ok(GenStream::new(rx))
    }
    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
    fn context_length(&self) -> usize {
        2048
    }
}

struct Fixture {
    url: String,
    started: Arc<AtomicUsize>,
    cancelled: Arc<AtomicBool>,
    _data: tempfile::TempDir,
}

async fn fixture(delay: Duration, busy: bool, timeout: Duration) -> Fixture {
    let data = tempfile::tempdir().unwrap();
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let (index, _) = ensure_index(&seeds, data.path(), &IndexOptions::default()).unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicBool::new(false));
    let model = Arc::new(Scripted {
        delay,
        busy,
        started: started.clone(),
        cancelled: cancelled.clone(),
    });
    let state = AppState::new(ServerOptions {
        request_timeout: timeout,
        ..ServerOptions::default()
    });
    let retriever = Arc::new(Retriever::new(Arc::new(index), AnswerConfig::default()));
    state.set_answerer(Arc::new(Answerer::new(retriever, model).with_cache(16)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, state, std::future::pending()));
    Fixture {
        url,
        started,
        cancelled,
        _data: data,
    }
}

const QUESTION: &str = r#"{"question": "Who replaced General Zaluzhny?"}"#;

async fn post(url: &str, body: &'static str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_streams_from_the_model() {
    let f = fixture(Duration::from_millis(1), false, Duration::from_secs(30)).await;
    let r = post(&format!("{}/api/ask", f.url), QUESTION).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["answer"], "General Syrsky [1].");
    assert_eq!(v["cached"], false);
    assert_eq!(v["citations"][0]["number"], 1);
    // The same question again comes from the cache: the model is not called twice.
    let v: serde_json::Value = post(&format!("{}/api/ask", f.url), QUESTION)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["cached"], true);
    assert_eq!(f.started.load(Ordering::SeqCst), 1);
}

/// Asks the question on the three answer endpoints and checks that each gives the quoted,
/// cited evidence marked `degraded` (the stream ends with it, not with an error): the JSON
/// answer and the page's stream, to check further.
async fn quoted_evidence_everywhere(url: &str) -> (serde_json::Value, String) {
    let r = post(&format!("{url}/api/ask"), QUESTION).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["degraded"], true, "{v}");
    assert!(v["answer"].as_str().unwrap().starts_with('“'), "{v}");
    assert_eq!(v["citations"][0]["number"], 1, "{v}");
    let stream = post(&format!("{url}/api/ask/stream"), QUESTION)
        .await
        .text()
        .await
        .unwrap();
    assert!(stream.starts_with("event: sources"), "{stream}");
    assert!(!stream.contains("event: error"), "{stream}");
    assert!(
        stream.contains("event: done") && stream.contains("\"degraded\":true"),
        "{stream}"
    );
    let openai = post(
        &format!("{url}/v1/chat/completions"),
        r#"{"messages":[{"role":"user","content":"Who replaced General Zaluzhny?"}],"stream":true}"#,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        openai.contains("\"degraded\":true") && openai.contains("[DONE]"),
        "{openai}"
    );
    (v, stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_gives_the_quoted_evidence_at_once() {
    let f = fixture(Duration::from_millis(1), true, Duration::from_secs(30)).await;
    let (v, stream) = quoted_evidence_everywhere(&f.url).await;
    assert_eq!(v["busy"], true, "{v}");
    assert!(stream.contains("\"busy\":true"), "{stream}");
    // The model was never asked.
    assert_eq!(f.started.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_still_writing_at_the_time_limit_gives_the_quoted_evidence() {
    let f = fixture(
        Duration::from_millis(400),
        false,
        Duration::from_millis(300),
    )
    .await;
    let (v, _) = quoted_evidence_everywhere(&f.url).await;
    // Too slow is not busy.
    assert_eq!(v["busy"], false, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_cancels_its_generation_and_retrieval_never_waits() {
    let f = fixture(Duration::from_millis(300), false, Duration::from_secs(30)).await;
    let mut r = post(&format!("{}/api/ask/stream", f.url), QUESTION).await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: sources"));
    // While the model writes, retrieval-only requests answer.
    let search = reqwest::get(format!("{}/api/search?q=Syrsky", f.url))
        .await
        .unwrap();
    assert_eq!(search.status(), 200);
    let articles = reqwest::get(format!("{}/api/articles", f.url))
        .await
        .unwrap();
    assert_eq!(articles.status(), 200);
    assert!(!f.cancelled.load(Ordering::SeqCst));
    drop(r);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f.cancelled.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the generation went on after the client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_answerer_is_set() {
    let state = AppState::new(ServerOptions::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, state.clone(), std::future::pending()));
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        post(&format!("{url}/api/ask"), QUESTION).await.status(),
        503
    );
}
