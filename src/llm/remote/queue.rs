//! The bounded queue: up to `concurrency` generations at once, up to `queue_capacity` more
//! waiting for a slot, and [`LlmError::Busy`] beyond; each generation's outcome goes to the
//! health tracker.
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{stream, Shared};
use crate::llm::{ChatMessage, GenEvent, GenStream, GenerateParams, LlmError};
use crate::runtime::BackgroundTasks;

/// Events a generation may send before the reader takes them.
const EVENTS: usize = 1024;

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

/// Starts a generation on `tasks`, or refuses with [`LlmError::Busy`] when the queue is full.
pub(super) fn enqueue(
    shared: &Arc<Shared>,
    tasks: &BackgroundTasks,
    messages: Vec<ChatMessage>,
    params: GenerateParams,
) -> Result<GenStream, LlmError> {
    let limit = shared.options.concurrency.max(1) + shared.options.queue_capacity;
    let before = shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let in_flight = InFlight(shared.clone());
    if before >= limit {
        return Err(LlmError::Busy);
    }
    let (tx, rx) = mpsc::channel(EVENTS);
    let job = Job {
        messages,
        params,
        events: tx,
    };
    tasks.spawn(run(shared.clone(), job, in_flight));
    Ok(GenStream::new(rx))
}

/// Waits for a slot (unless the reader goes away first), then generates.
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
    match stream::generate(&shared, &messages, &params, &events).await {
        Ok(Some(summary)) => {
            shared.record_success();
            let _ = events.send(GenEvent::Done(summary)).await;
        }
        // The reader went away.
        Ok(None) => {}
        Err(e) => {
            tracing::warn!("remote generation failed: {e}");
            shared.record_failure(&e);
            let _ = events.send(GenEvent::Error(e)).await;
        }
    }
}
