//! The library's answer flow from async code: its synchronous steps (retrieval, the check)
//! run on the blocking pool so that retrieval never waits for the model, the model's draft
//! is read as it comes, and every step keeps to the request's deadline. Dropping a
//! generation cancels it.
use super::error::ApiError;
use super::AppState;
use crate::answer::{AnswerError, AnswerRequest, AnswerResult, Generation, Started};
use crate::llm::LlmError;
use tokio::time::Instant;

/// Everything up to the model: a finished answer or a queued generation (full queue → 503).
pub async fn start(state: &AppState, request: AnswerRequest) -> Result<Started, ApiError> {
    let answerer = state.answerer()?;
    Ok(tokio::task::spawn_blocking(move || answerer.start(&request)).await??)
}

/// Checks a finished generation's draft and builds the result.
pub async fn finish(state: &AppState, generation: Generation) -> Result<AnswerResult, ApiError> {
    let answerer = state.answerer()?;
    Ok(tokio::task::spawn_blocking(move || answerer.finish(generation)).await??)
}

/// The whole answer, without streaming, within the deadline.
pub async fn answer(
    state: &AppState,
    request: AnswerRequest,
    deadline: Instant,
) -> Result<AnswerResult, ApiError> {
    match within(state, deadline, start(state, request)).await? {
        Started::Finished(result) => Ok(result),
        Started::Generating(generation) => complete(state, generation, deadline).await,
    }
}

/// Reads the rest of a generation and finishes it. A model that fails, or is still writing
/// when the deadline passes, gives the degraded answer (the evidence quoted), not an error.
pub async fn complete(
    state: &AppState,
    mut generation: Generation,
    deadline: Instant,
) -> Result<AnswerResult, ApiError> {
    match tokio::time::timeout_at(deadline, generation.complete()).await {
        Ok(Ok(())) => within(state, deadline, finish(state, generation)).await,
        Ok(Err(e)) if e.is_model_failure() => degrade(state, generation, e).await,
        Ok(Err(e)) => Err(e.into()),
        Err(_) => degrade(state, generation, too_slow(state)).await,
    }
}

/// Why a generation still running at the request's deadline is given up.
pub fn too_slow(state: &AppState) -> AnswerError {
    AnswerError::Model(LlmError::Inference(format!(
        "the model was still writing after {} s",
        state.options.request_timeout.as_secs()
    )))
}

/// The answer of a generation the model failed (`error`): its evidence quoted, `degraded`.
pub async fn degrade(
    state: &AppState,
    generation: Generation,
    error: AnswerError,
) -> Result<AnswerResult, ApiError> {
    let answerer = state.answerer()?;
    Ok(tokio::task::spawn_blocking(move || answerer.finish_degraded(generation, &error)).await?)
}

/// `work`, or a 504 once the deadline passes.
pub async fn within<T>(
    state: &AppState,
    deadline: Instant,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let limit = state.options.request_timeout.as_secs();
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| ApiError::Timeout(limit))?
}
