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
//! The client's tasks run on the process's background runtime ([`crate::runtime`]), so sync
//! callers (the CLI, `eval`) and the server use it alike; they end when the model is dropped.
//!
//! One concern a file: `options` (the options and the server's endpoints), `connect`
//! (the client and the model's name), `probe` (up or down, and the probe while down), `queue`
//! (the bounded queue and the slots), `request` (the request, and which failures to retry),
//! `chunk` (reading one event of the stream) and `stream` (one generation to the reader:
//! retries, deadlines, deltas and the summary).
mod chunk;
mod connect;
mod options;
mod probe;
mod queue;
mod request;
mod stream;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

pub use options::RemoteOptions;
pub use probe::{DOWN_AFTER, PROBE_EVERY};

use super::{BackendStatus, ChatMessage, GenStream, GenerateParams, LanguageModel, LlmError};
use crate::health::{Health, HealthState};
use crate::runtime::BackgroundTasks;
use options::Endpoints;

/// What the model and its running generations share.
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
    /// The probe and the running generations: they end with the model (their connections
    /// close).
    tasks: BackgroundTasks,
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
        let health = self.shared.health.snapshot();
        if health.state == HealthState::Down {
            return Err(LlmError::Remote(format!(
                "the model server is down: {}",
                health.last_error.unwrap_or_else(|| "no answer".into())
            )));
        }
        queue::enqueue(&self.shared, &self.tasks, messages, params)
    }

    fn count_tokens(&self, text: &str) -> usize {
        stream::estimate_tokens(text.len())
    }

    fn context_length(&self) -> usize {
        self.shared.options.context_length
    }

    fn status(&self) -> BackendStatus {
        let health = self.shared.health.snapshot();
        let up = health.state != HealthState::Down;
        BackendStatus {
            kind: "remote".into(),
            url: Some(self.shared.endpoints.chat.clone()),
            state: if up { "up" } else { "down" }.into(),
            failures_in_a_row: health.failures_in_a_row,
            last_error: health.last_error,
            seconds_since_ok: health.since_ok.map(|d| d.as_secs()),
            in_flight: self.shared.in_flight.load(Ordering::SeqCst),
            concurrency: self.shared.options.concurrency.max(1),
        }
    }
}
