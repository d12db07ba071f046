//! A remote model server behind the [`LanguageModel`] trait: any OpenAI-compatible
//! `/v1/chat/completions` (llama.cpp's server, vLLM, a hosted API).
//!
//! - One pooled `reqwest` client; its server-sent events are parsed by `eventsource-stream`.
//! - Up to [`RemoteOptions::concurrency`] generations run at once; up to
//!   [`RemoteOptions::queue_capacity`] more wait for a slot, and beyond that `generate` refuses
//!   with [`LlmError::Busy`] (as the local worker's queue does).
//! - Opening a generation is retried with exponential backoff (`backon`) on connection errors,
//!   429 and 5xx; once text has streamed nothing is retried (the reader has seen it).
//! - Deadlines: to connect, to the first token, between tokens and for the whole generation.
//!   Past one, the stream ends with an error (the answer flow then degrades to the evidence).
//! - Dropping the [`GenStream`] cancels: the HTTP response is dropped, which closes the
//!   connection, and the server stops generating.
//! - After [`DOWN_AFTER`] failures in a row the backend is *down*: generations fail at once
//!   (no reader waits for a dead server) while a probe of `/v1/models` runs every
//!   [`PROBE_EVERY`]; the first probe or generation that succeeds makes it *up* again.
//!
//! The client runs on a small runtime of its own, so sync callers (the CLI, `eval`) and the
//! server use it alike.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

use super::{
    BackendStatus, ChatMessage, FinishReason, GenEvent, GenStream, GenSummary, GenerateParams,
    LanguageModel, LlmError,
};

/// Failures in a row after which the backend counts as down.
pub const DOWN_AFTER: u32 = 3;
/// How often a down backend is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How to reach the server and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// The server: its base (`http://host:8000`), its `/v1`, or the full
    /// `/v1/chat/completions` address.
    pub url: String,
    /// The `model` sent with each request; `None`: the first of the server's `/v1/models`.
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    /// Generations at once.
    pub concurrency: usize,
    /// Generations that may wait for a slot; more are refused with `LlmError::Busy`.
    pub queue_capacity: usize,
    pub connect_timeout: Duration,
    /// From sending the request (after a slot is free) to the first token.
    pub first_token_timeout: Duration,
    /// Between two events of the stream.
    pub idle_timeout: Duration,
    /// The whole generation, from sending the request.
    pub total_timeout: Duration,
    /// Further attempts to open a generation after a connection error, 429 or 5xx.
    pub retries: usize,
    /// The context length assumed for prompt budgets.
    pub context_length: usize,
}

impl RemoteOptions {
    pub fn new(url: impl Into<String>) -> RemoteOptions {
        RemoteOptions {
            url: url.into(),
            model: None,
            api_key: None,
            concurrency: 4,
            queue_capacity: 16,
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(45),
            retries: 2,
            context_length: 4096,
        }
    }
}

/// The server's addresses, from the URL given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoints {
    chat: String,
    models: String,
}

fn endpoints(url: &str) -> Result<Endpoints, LlmError> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| LlmError::Remote(format!("the model server URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(LlmError::Remote(format!(
            "the model server URL {url:?} must be http:// or https://"
        )));
    }
    let base = parsed.as_str().trim_end_matches('/');
    let base = base
        .strip_suffix("/chat/completions")
        .unwrap_or(base)
        .trim_end_matches('/');
    let v1 = if base.ends_with("/v1") {
        base.to_string()
    } else {
        format!("{base}/v1")
    };
    Ok(Endpoints {
        chat: format!("{v1}/chat/completions"),
        models: format!("{v1}/models"),
    })
}

/// What the health tracker knows.
#[derive(Debug, Default)]
struct HealthState {
    failures_in_a_row: u32,
    last_error: Option<String>,
    last_ok: Option<Instant>,
}

#[derive(Debug, Default)]
struct Health {
    state: Mutex<HealthState>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn ok(&self) {
        let mut s = self.lock();
        if s.failures_in_a_row >= DOWN_AFTER {
            tracing::info!("the model server is back");
        }
        s.failures_in_a_row = 0;
        s.last_ok = Some(Instant::now());
    }
    fn failed(&self, error: &str) {
        let mut s = self.lock();
        s.failures_in_a_row = s.failures_in_a_row.saturating_add(1);
        if s.failures_in_a_row == DOWN_AFTER {
            tracing::warn!(
                "the model server is down ({error}); answers quote their evidence until it is back"
            );
        }
        s.last_error = Some(error.to_string());
    }
    fn is_down(&self) -> bool {
        self.lock().failures_in_a_row >= DOWN_AFTER
    }
}

struct Shared {
    client: reqwest::Client,
    endpoints: Endpoints,
    model: String,
    options: RemoteOptions,
    slots: Arc<Semaphore>,
    /// Generations running or waiting for a slot.
    in_flight: AtomicUsize,
    health: Health,
}

/// A `LanguageModel` served by a remote OpenAI-compatible server.
pub struct RemoteModel {
    name: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RemoteModel {
    /// The client for `options.url`. Asks the server for its model when none is given; a
    /// server that is down at start is not an error (answers degrade until it is up).
    pub fn connect(options: RemoteOptions) -> Result<RemoteModel, LlmError> {
        let endpoints = endpoints(&options.url)?;
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &options.api_key {
            let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| LlmError::Remote("the API key is not a valid header value".into()))?;
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.idle_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("ama/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Remote(format!("cannot build the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("llm-remote")
            .enable_all()
            .build()
            .map_err(|e| LlmError::Remote(format!("cannot start the client's runtime: {e}")))?;
        let model = match &options.model {
            Some(model) => model.clone(),
            None => {
                let probe = runtime.block_on(list_models(&client, &endpoints.models));
                match probe {
                    Ok(models) => models.into_iter().next().unwrap_or_default(),
                    Err(e) => {
                        tracing::warn!("the model server does not answer yet: {e}");
                        String::new()
                    }
                }
            }
        };
        let shown = if model.is_empty() { "default" } else { &model };
        let name = format!(
            "remote:{}",
            std::path::Path::new(shown)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(shown)
        );
        let shared = Arc::new(Shared {
            client,
            endpoints,
            model,
            slots: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            in_flight: AtomicUsize::new(0),
            health: Health::default(),
        });
        runtime.spawn(probe_while_down(Arc::downgrade(&shared)));
        tracing::info!(
            url = shared.endpoints.chat,
            model = name,
            concurrency = shared.options.concurrency,
            "remote model server"
        );
        Ok(RemoteModel {
            name,
            shared,
            runtime: Some(runtime),
        })
    }
}

impl Drop for RemoteModel {
    fn drop(&mut self) {
        // Never blocks (it may be dropped on an async thread): running generations end when
        // their tasks are dropped, which closes their connections.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn list_models(client: &reqwest::Client, url: &str) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Card {
        id: String,
    }
    #[derive(Deserialize)]
    struct List {
        data: Vec<Card>,
    }
    let response = client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let list: List = response
        .json()
        .await
        .map_err(|e| format!("{url}: not a model list: {e}"))?;
    Ok(list.data.into_iter().map(|c| c.id).collect())
}

/// While the backend is down, asks for its model list every [`PROBE_EVERY`]; ends with the
/// model.
async fn probe_while_down(shared: std::sync::Weak<Shared>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !shared.health.is_down() {
            continue;
        }
        match list_models(&shared.client, &shared.endpoints.models).await {
            Ok(_) => shared.health.ok(),
            Err(e) => shared.health.failed(&e),
        }
    }
}

/// A reqwest error in a sentence, with its cause (reqwest's own message is "error sending
/// request for url …" whatever the cause).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why opening a generation failed, and whether to try again.
#[derive(Debug)]
struct OpenError {
    message: String,
    retry: bool,
}

/// The request body: the OpenAI fields, and llama.cpp's and vLLM's sampling extras only when
/// they are not the default (strict servers refuse unknown fields).
fn request_body(model: &str, messages: &[ChatMessage], params: &GenerateParams) -> Value {
    let mut body = json!({
        "messages": messages,
        "max_tokens": params.max_tokens.max(1),
        "temperature": params.temperature.max(0.0),
        "seed": params.seed,
        "stream": true,
    });
    if !model.is_empty() {
        body["model"] = json!(model);
    }
    if let Some(top_p) = params.top_p {
        body["top_p"] = json!(top_p);
    }
    if let Some(top_k) = params.top_k {
        body["top_k"] = json!(top_k);
    }
    if (params.repeat_penalty - 1.0).abs() > f32::EPSILON {
        body["repeat_penalty"] = json!(params.repeat_penalty);
    }
    if !params.stop.is_empty() {
        // OpenAI takes at most four.
        body["stop"] = json!(params.stop.iter().take(4).collect::<Vec<_>>());
    }
    body
}

async fn open(shared: &Shared, body: &Value) -> Result<reqwest::Response, OpenError> {
    let response = shared
        .client
        .post(&shared.endpoints.chat)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .json(body)
        .send()
        .await
        .map_err(|e| OpenError {
            message: describe(&e),
            retry: e.is_connect() || e.is_timeout() || e.is_request(),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let detail = error_message(&text).unwrap_or_else(|| text.chars().take(200).collect());
    Err(OpenError {
        message: format!("the model server answered {status}: {detail}"),
        retry: status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
    })
}

/// `{"error": {"message": …}}` or `{"error": "…"}`, as OpenAI-compatible servers send errors.
fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let error = v.get("error")?;
    error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_string)
}

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: usize,
    #[serde(default)]
    completion_tokens: usize,
}

/// What one chunk (or a whole non-streamed completion) says.
#[derive(Debug, Default, PartialEq)]
struct Piece {
    text: String,
    finish: Option<FinishReason>,
    usage: Option<(usize, usize)>,
}

/// Reads one chunk of a stream, or a whole completion (a server that ignored `stream`).
fn parse_piece(data: &str) -> Result<Piece, String> {
    let v: Value = serde_json::from_str(data).map_err(|_| {
        format!(
            "the model server sent something that is not JSON: {:?}",
            data.chars().take(80).collect::<String>()
        )
    })?;
    if let Some(message) = error_message(data) {
        return Err(format!("the model server failed: {message}"));
    }
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| "the model server sent a chunk without choices".to_string())?;
    let mut piece = Piece {
        usage: v
            .get("usage")
            .filter(|u| !u.is_null())
            .and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok())
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        ..Piece::default()
    };
    if let Some(choice) = choices.first() {
        let content = choice
            .pointer("/delta/content")
            .or_else(|| choice.pointer("/message/content"));
        if let Some(text) = content.and_then(Value::as_str) {
            piece.text = text.to_string();
        }
        piece.finish = match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => Some(FinishReason::Length),
            Some(_) => Some(FinishReason::Stop),
            None => None,
        };
    }
    Ok(piece)
}

struct Job {
    messages: Vec<ChatMessage>,
    params: GenerateParams,
    events: mpsc::Sender<GenEvent>,
}

/// Counts a generation in flight until dropped.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run(shared: Arc<Shared>, job: Job, _in_flight: InFlight) {
    let Job {
        messages,
        params,
        events,
    } = job;
    let permit = tokio::select! {
        permit = shared.slots.clone().acquire_owned() => permit,
        _ = events.closed() => return,
    };
    let Ok(_permit) = permit else { return };
    match generate(&shared, &messages, &params, &events).await {
        Ok(Some(summary)) => {
            shared.health.ok();
            let _ = events.send(GenEvent::Done(summary)).await;
        }
        // The reader went away.
        Ok(None) => {}
        Err(e) => {
            tracing::warn!("remote generation failed: {e}");
            shared.health.failed(&e);
            let _ = events.send(GenEvent::Error(e)).await;
        }
    }
}

/// One generation: `Ok(None)` when the reader went away.
async fn generate(
    shared: &Shared,
    messages: &[ChatMessage],
    params: &GenerateParams,
    events: &mpsc::Sender<GenEvent>,
) -> Result<Option<GenSummary>, String> {
    let options = &shared.options;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + options.total_timeout;
    let body = request_body(&shared.model, messages, params);
    let attempts = (|| open(shared, &body))
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(2))
                .with_max_times(options.retries)
                .with_jitter(),
        )
        .when(|e: &OpenError| e.retry)
        .notify(|e: &OpenError, wait: Duration| {
            tracing::info!("the model server: {}; again in {wait:?}", e.message);
        });
    let response = tokio::select! {
        r = tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + options.first_token_timeout), attempts) => match r {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(e.message),
            Err(_) => return Err(format!("no answer from the model server within {} s", options.first_token_timeout.as_secs())),
        },
        _ = events.closed() => return Ok(None),
    };
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut summary = GenSummary {
        prompt_tokens: 0,
        completion_tokens: 0,
        prompt_trimmed: false,
        finish_reason: FinishReason::Stop,
        ttft_ms: 0.0,
        total_ms: 0.0,
        prefill_tok_s: 0.0,
        decode_tok_s: 0.0,
    };
    let mut text_len = 0usize;
    let mut deltas = 0usize;
    let mut usage = None;
    let mut finished = false;
    if !streamed {
        // A server that ignored `stream`: one whole completion.
        let body = tokio::select! {
            r = tokio::time::timeout_at(deadline, response.text()) => match r {
                Ok(Ok(body)) => body,
                Ok(Err(e)) => return Err(describe(&e)),
                Err(_) => return Err("the model server's answer took too long".into()),
            },
            _ = events.closed() => return Ok(None),
        };
        let piece = parse_piece(&body)?;
        summary.ttft_ms = crate::millis(started.elapsed());
        if piece.finish.is_none() && piece.text.is_empty() {
            return Err("the model server sent an empty completion".into());
        }
        text_len = piece.text.len();
        deltas = 1;
        usage = piece.usage;
        summary.finish_reason = piece.finish.unwrap_or(FinishReason::Stop);
        if events.send(GenEvent::Delta(piece.text)).await.is_err() {
            return Ok(None);
        }
        finished = true;
    } else {
        let mut stream = response.bytes_stream().eventsource();
        loop {
            let wait = if deltas == 0 {
                (tokio::time::Instant::now() + options.first_token_timeout).min(deadline)
            } else {
                (tokio::time::Instant::now() + options.idle_timeout).min(deadline)
            };
            let next = tokio::select! {
                next = tokio::time::timeout_at(wait, stream.next()) => next,
                _ = events.closed() => return Ok(None),
            };
            let event = match next {
                Err(_) if deltas == 0 => {
                    return Err(format!(
                        "no token from the model server within {} s",
                        options.first_token_timeout.as_secs()
                    ))
                }
                Err(_) => return Err("the model server stopped sending tokens".into()),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(format!("the model server's stream broke: {e}")),
                Ok(Some(Ok(event))) => event,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                finished = true;
                break;
            }
            let piece = parse_piece(data)?;
            if piece.usage.is_some() {
                usage = piece.usage;
            }
            if let Some(finish) = piece.finish {
                summary.finish_reason = finish;
                finished = true;
            }
            if !piece.text.is_empty() {
                if deltas == 0 {
                    summary.ttft_ms = crate::millis(started.elapsed());
                }
                deltas += 1;
                text_len += piece.text.len();
                if events.send(GenEvent::Delta(piece.text)).await.is_err() {
                    return Ok(None);
                }
            }
        }
    }
    if !finished {
        return Err("the model server's stream ended before the answer did".into());
    }
    summary.total_ms = crate::millis(started.elapsed());
    // Without usage figures, estimates (the server's tokenizer is not known here).
    let (prompt, completion) = usage.unwrap_or_else(|| {
        let chars: usize = messages.iter().map(|m| m.content.len()).sum();
        (
            estimate_tokens(chars),
            deltas.max(estimate_tokens(text_len)),
        )
    });
    summary.prompt_tokens = prompt;
    summary.completion_tokens = completion;
    let decode_s = (summary.total_ms - summary.ttft_ms) / 1000.0;
    if decode_s > 0.0 {
        summary.decode_tok_s = completion.saturating_sub(1) as f64 / decode_s;
    }
    if summary.ttft_ms > 0.0 {
        summary.prefill_tok_s = prompt as f64 / (summary.ttft_ms / 1000.0);
    }
    Ok(Some(summary))
}

/// Tokens of `bytes` of text, over-estimated for budgets (English runs about four bytes a token
/// in these models' vocabularies; three keeps a margin).
fn estimate_tokens(bytes: usize) -> usize {
    bytes.div_ceil(3)
}

impl LanguageModel for RemoteModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerateParams,
    ) -> Result<GenStream, LlmError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| LlmError::Remote("the client has stopped".into()))?;
        if self.shared.health.is_down() {
            let why = self.shared.health.lock().last_error.clone();
            return Err(LlmError::Remote(format!(
                "the model server is down: {}",
                why.unwrap_or_else(|| "no answer".into())
            )));
        }
        let limit = self.shared.options.concurrency.max(1) + self.shared.options.queue_capacity;
        let before = self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let in_flight = InFlight(self.shared.clone());
        if before >= limit {
            return Err(LlmError::Busy);
        }
        let (tx, rx) = mpsc::channel(1024);
        let job = Job {
            messages,
            params,
            events: tx,
        };
        runtime.spawn(run(self.shared.clone(), job, in_flight));
        Ok(GenStream::new(rx))
    }

    fn count_tokens(&self, text: &str) -> usize {
        estimate_tokens(text.len())
    }

    fn context_length(&self) -> usize {
        self.shared.options.context_length
    }

    fn status(&self) -> BackendStatus {
        let health = self.shared.health.lock();
        let up = health.failures_in_a_row < DOWN_AFTER;
        BackendStatus {
            kind: "remote".into(),
            url: Some(self.shared.endpoints.chat.clone()),
            state: if up { "up" } else { "down" }.into(),
            failures_in_a_row: health.failures_in_a_row,
            last_error: health.last_error.clone(),
            seconds_since_ok: health.last_ok.map(|t| t.elapsed().as_secs()),
            in_flight: self.shared.in_flight.load(Ordering::SeqCst),
            concurrency: self.shared.options.concurrency.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_server_address_reaches_the_chat_endpoint() {
        for url in [
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8081/",
            "http://127.0.0.1:8081/v1",
            "http://127.0.0.1:8081/v1/",
            "http://127.0.0.1:8081/v1/chat/completions",
        ] {
            let e = endpoints(url).unwrap();
            assert_eq!(e.chat, "http://127.0.0.1:8081/v1/chat/completions", "{url}");
            assert_eq!(e.models, "http://127.0.0.1:8081/v1/models", "{url}");
        }
        assert_eq!(
            endpoints("https://fleet.example/api/v1").unwrap().chat,
            "https://fleet.example/api/v1/chat/completions"
        );
        assert!(endpoints("ftp://x").is_err());
        assert!(endpoints("not a url").is_err());
    }

    #[test]
    fn chunks_deltas_completions_and_errors_are_read() {
        let delta =
            parse_piece(r#"{"choices":[{"delta":{"content":"Syr"},"finish_reason":null}]}"#)
                .unwrap();
        assert_eq!(delta.text, "Syr");
        assert_eq!(delta.finish, None);
        let last = parse_piece(
            r#"{"choices":[{"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#,
        )
        .unwrap();
        assert_eq!(last.finish, Some(FinishReason::Length));
        assert_eq!(last.usage, Some((12, 3)));
        let whole = parse_piece(
            r#"{"choices":[{"message":{"role":"assistant","content":"General Syrsky"},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        assert_eq!(whole.text, "General Syrsky");
        assert_eq!(whole.finish, Some(FinishReason::Stop));
        let usage_only = parse_piece(r#"{"choices":[],"usage":null}"#).unwrap();
        assert_eq!(usage_only, Piece::default());
        assert!(parse_piece("<html>bad gateway</html>")
            .unwrap_err()
            .contains("not JSON"));
        assert!(parse_piece(r#"{"error":{"message":"context too long"}}"#)
            .unwrap_err()
            .contains("context too long"));
        assert!(parse_piece(r#"{"id":"x"}"#).is_err());
    }

    #[test]
    fn sampling_extras_are_sent_only_when_set() {
        let plain = request_body("m", &[ChatMessage::user("hi")], &GenerateParams::default());
        assert_eq!(plain["model"], "m");
        assert_eq!(plain["stream"], true);
        assert_eq!(plain["temperature"], 0.0);
        for extra in ["top_k", "top_p", "repeat_penalty", "stop"] {
            assert!(plain.get(extra).is_none(), "{extra}");
        }
        let params = GenerateParams {
            top_k: Some(40),
            repeat_penalty: 1.1,
            stop: (0..6).map(|i| format!("s{i}")).collect(),
            ..GenerateParams::default()
        };
        let tuned = request_body("", &[ChatMessage::user("hi")], &params);
        assert!(tuned.get("model").is_none());
        assert_eq!(tuned["top_k"], 40);
        assert_eq!(tuned["stop"].as_array().map(Vec::len), Some(4));
        assert_eq!(tuned["messages"][0]["role"], "user");
    }
}
