//! The grounded answer, once: retrieve and choose the evidence → decline? → the reader writes
//! a draft (streamed to the caller) → check and cite; when the model fails, is busy (its
//! queue full) or is still writing at the deadline, the best evidence is quoted instead
//! (`degraded`). The
//! [`super::Answerer`] wraps it with the answer cache, stored answers, related questions and
//! the question log; the suggestions are verified with it directly.
use super::compose::{compose, degraded};
use super::draft::{self, Draft, Interruption};
use super::result::{AnswerEvent, AnswerRequest, AnswerResult};
use super::retriever::{Prepared, Retriever};
use super::AnswerError;
use crate::llm::{LanguageModel, LlmError};
use std::time::Instant;

/// Receives the flow's events as they come; returns false once its reader has gone (the flow
/// then stops, and dropping the model's stream cancels the generation).
pub type OnEvent<'a> = dyn FnMut(AnswerEvent) -> bool + 'a;

/// The answer to `request` from `retriever`'s evidence and `model`'s draft, without related
/// questions. `deadline`: when the model must have finished (`None`: no limit).
///
/// Errors: the question or the index (`UnknownArticle`, `Index`, `Embed`), and `Cancelled`
/// when `on_event` said its reader has gone. A model that fails, is too slow or is busy (its
/// queue full) is not an error: the answer quotes its evidence, `degraded` (and `busy`).
pub fn grounded_answer(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    request: &AnswerRequest,
    deadline: Option<Instant>,
    on_event: &mut OnEvent<'_>,
) -> Result<AnswerResult, AnswerError> {
    let prepared = retriever.prepare(request)?;
    answer_prepared(retriever, model, prepared, deadline, on_event)
}

/// [`grounded_answer`] from its retrieval, already done (or kept from an earlier ask).
pub fn answer_prepared(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    prepared: Prepared,
    deadline: Option<Instant>,
    on_event: &mut OnEvent<'_>,
) -> Result<AnswerResult, AnswerError> {
    if prepared.decline.is_some() {
        let result = compose(retriever.config(), prepared, Draft::default());
        return announced(result, on_event);
    }
    let stream = match model.generate(prepared.messages.clone(), retriever.generate_params()) {
        Ok(stream) => stream,
        // Its queue is full: the reader gets the evidence now rather than an error.
        Err(LlmError::Busy) => return announced(busy_answer(retriever, prepared), on_event),
        Err(e) => {
            let result = quoted_instead(retriever, prepared, Draft::default(), &e.to_string());
            return announced(result, on_event);
        }
    };
    if !on_event(sources(&prepared)) {
        return Err(AnswerError::Cancelled);
    }
    let read = draft::read(stream, prepared.started, deadline, &mut |d| {
        on_event(AnswerEvent::Delta(d.to_string()))
    });
    let unfinished = match read {
        Ok(draft) => return Ok(compose(retriever.config(), prepared, draft)),
        Err(unfinished) => *unfinished,
    };
    let why = match unfinished.why {
        Interruption::Cancelled => return Err(AnswerError::Cancelled),
        Interruption::Failed(e) => e.to_string(),
        Interruption::Deadline => "the model was still writing at the time limit".to_string(),
    };
    Ok(quoted_instead(
        retriever,
        prepared,
        unfinished.partial,
        &why,
    ))
}

/// The answer without calling the model: the evidence quoted, or the decline (`eval
/// --no-generate`).
pub fn quoted_answer(
    retriever: &Retriever,
    request: &AnswerRequest,
) -> Result<AnswerResult, AnswerError> {
    let prepared = retriever.prepare(request)?;
    Ok(compose(retriever.config(), prepared, Draft::default()))
}

/// The answer when the model cannot write it now (its queue full, or the answer this request
/// follows not ready in time): the evidence quoted at once, `busy` and `degraded`, or the
/// decline.
pub fn busy_answer(retriever: &Retriever, prepared: Prepared) -> AnswerResult {
    if prepared.decline.is_some() {
        return compose(retriever.config(), prepared, Draft::default());
    }
    let mut result = degraded(retriever.config(), prepared, Draft::default());
    result.busy = true;
    result
}

/// The evidence of a finished result, then its whole answer as one delta.
pub fn announced(
    result: AnswerResult,
    on_event: &mut OnEvent<'_>,
) -> Result<AnswerResult, AnswerError> {
    let sources = AnswerEvent::Sources {
        query: result.query.clone(),
        evidence: result.evidence.clone(),
    };
    if !on_event(sources) || !on_event(AnswerEvent::Delta(result.answer.clone())) {
        return Err(AnswerError::Cancelled);
    }
    Ok(result)
}

fn sources(prepared: &Prepared) -> AnswerEvent {
    AnswerEvent::Sources {
        query: prepared.query.clone(),
        evidence: prepared.shown_evidence().to_vec(),
    }
}

/// The result when the model could not write the answer (`why`): its evidence quoted.
fn quoted_instead(
    retriever: &Retriever,
    prepared: Prepared,
    partial: Draft,
    why: &str,
) -> AnswerResult {
    tracing::warn!("the model could not answer ({why}): the answer quotes its evidence");
    degraded(retriever.config(), prepared, partial)
}
