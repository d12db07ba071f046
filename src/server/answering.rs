//! The answer flow ([`crate::answer::Answerer::answer`]) from async code: it runs on the
//! blocking pool, so retrieval and the check never hold up the runtime, and its events come
//! back on a channel for the handlers to translate. The flow owns the deadline and the
//! fallback to quoted evidence; dropping the receiver (a client that left) cancels it.
use super::error::ApiError;
use super::AppState;
use crate::answer::{AnswerEvent, AnswerRequest, AnswerResult};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Past the deadline (which the flow meets by quoting its evidence), how long the check of a
/// finished answer may still take before the request fails with 504.
const CHECK_GRACE: Duration = Duration::from_secs(5);

/// What a handler receives: the flow's events, then its result or error.
pub enum Update {
    Event(AnswerEvent),
    Done(Box<AnswerResult>),
    Failed(ApiError),
}

/// A running answer.
pub struct Answering {
    events: mpsc::Receiver<Update>,
    deadline: Instant,
    limit: u64,
}

impl Answering {
    /// Starts the flow for `request`, to be answered by `deadline`, for a reader who watches
    /// the answer being written (a stream).
    pub fn start(
        state: &AppState,
        request: AnswerRequest,
        deadline: Instant,
    ) -> Result<Answering, ApiError> {
        Self::start_waiting(state, request, deadline, None, false)
    }

    /// [`Self::start`]; a question being answered for someone else is followed until
    /// `follow_wait` from now, then quoted ([`crate::answer::Answerer::answer_waiting`]).
    /// `keep_writing`: the answer is finished (and cached) even once its reader has gone.
    fn start_waiting(
        state: &AppState,
        request: AnswerRequest,
        deadline: Instant,
        follow_wait: Option<Duration>,
        keep_writing: bool,
    ) -> Result<Answering, ApiError> {
        let answerer = state.answerer()?;
        let (tx, events) = mpsc::channel(64);
        let flow_deadline = deadline.into_std();
        let follow_until = follow_wait.map(|wait| std::time::Instant::now() + wait);
        tokio::task::spawn_blocking(move || {
            let mut send = |event| tx.blocking_send(Update::Event(event)).is_ok() || keep_writing;
            let result =
                answerer.answer_waiting(&request, Some(flow_deadline), follow_until, &mut send);
            let last = match result {
                Ok(result) => Update::Done(Box::new(result)),
                Err(e) => Update::Failed(e.into()),
            };
            let _ = tx.blocking_send(last);
        });
        Ok(Answering {
            events,
            deadline,
            limit: state.options.request_timeout.as_secs(),
        })
    }

    /// The next event, the result, or the error; a 504 once the deadline (and the check's
    /// grace after it) has passed.
    pub async fn next(&mut self) -> Update {
        match tokio::time::timeout_at(self.deadline + CHECK_GRACE, self.events.recv()).await {
            Ok(Some(update)) => update,
            Ok(None) => Update::Failed(ApiError::Internal("the answer flow stopped".into())),
            Err(_) => Update::Failed(ApiError::Timeout(self.limit)),
        }
    }

    /// The first event (the sources, or a finished answer's), or the error that came before
    /// anything could be sent: what decides between a stream and a plain HTTP error.
    pub async fn first(&mut self) -> Result<Update, ApiError> {
        let first = tokio::time::timeout_at(self.deadline, self.next())
            .await
            .map_err(|_| ApiError::Timeout(self.limit))?;
        match first {
            Update::Failed(e) => Err(e),
            other => Ok(other),
        }
    }

    /// The result, skipping the events.
    pub async fn result(mut self) -> Result<AnswerResult, ApiError> {
        match self.first().await? {
            Update::Done(result) => Ok(*result),
            _ => self.finish().await,
        }
    }

    /// The result, skipping the events still to come (after [`Self::first`]).
    pub async fn finish(mut self) -> Result<AnswerResult, ApiError> {
        loop {
            match self.next().await {
                Update::Event(_) => {}
                Update::Done(result) => return Ok(*result),
                Update::Failed(e) => return Err(e),
            }
        }
    }
}

/// The whole answer, without streaming. A reader of a question asked before (whose answer is
/// not cached yet: the model was busy, or is writing it for someone else) waits for it up to
/// the server's `follow_wait`, then gets the quoted evidence, and the answer goes on being
/// written for the cache; a new question's reader waits for its answer.
pub async fn answer(
    state: &AppState,
    request: AnswerRequest,
    deadline: Instant,
) -> Result<AnswerResult, ApiError> {
    let wait = state.options.follow_wait;
    let answerer = state.answerer()?;
    let repeat = answerer.asked_before(&request);
    let quoted = repeat.then(|| request.clone());
    let answering = Answering::start_waiting(state, request, deadline, Some(wait), repeat)?;
    let Some(request) = quoted else {
        return answering.result().await;
    };
    let patience = (Instant::now() + wait).min(deadline);
    match tokio::time::timeout_at(patience, answering.result()).await {
        Ok(result) => result,
        Err(_) => tokio::task::spawn_blocking(move || answerer.quoted_now(&request))
            .await
            .map_err(|e| ApiError::Internal(format!("the quoted answer: {e}")))?
            .map_err(ApiError::from),
    }
}
