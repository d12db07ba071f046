//! The answer pipeline from async code: the library's `prepare` and `finish` run on the
//! blocking pool (retrieval never waits for the model), generation goes through the model's
//! bounded queue (full → 503), and dropping a stream cancels its generation.
use super::error::ApiError;
use super::AppState;
use crate::answer::{asked_questions, related, AnswerRequest, AnswerResult, Answerer, Prepared};
use crate::llm::{ChatMessage, GenEvent, GenStream, GenSummary, Role};
use serde::Serialize;
use std::sync::Arc;
use tokio::time::Instant;

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;
/// Conversation turns kept as history (the oldest are dropped).
pub const MAX_HISTORY: usize = 12;

/// A result as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct ApiAnswer {
    #[serde(flatten)]
    pub result: AnswerResult,
    /// True when served from the in-memory answer cache.
    pub cached: bool,
}

/// Checks a question and builds the pipeline's request.
pub fn request(
    question: &str,
    history: Vec<(String, String)>,
    article: Option<String>,
) -> Result<AnswerRequest, ApiError> {
    let trimmed = question.trim();
    if trimmed.is_empty() {
        return Err(ApiError::Unprocessable("the question is empty".into()));
    }
    let chars = trimmed.chars().count();
    if chars > MAX_QUESTION_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "the question has {chars} characters; the limit is {MAX_QUESTION_CHARS}"
        )));
    }
    let mut messages = Vec::new();
    for (role, content) in history {
        let role = match role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            // A client's own system prompt does not steer the grounded answer.
            "system" | "developer" => continue,
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "unknown history role {other:?}: use \"user\" or \"assistant\""
                )))
            }
        };
        messages.push(ChatMessage::new(role, content));
    }
    let skip = messages.len().saturating_sub(MAX_HISTORY);
    Ok(AnswerRequest {
        question: trimmed.to_string(),
        history: messages.split_off(skip),
        article: article.filter(|a| !a.trim().is_empty()),
    })
}

/// A question after retrieval: answered already, or being written by the model.
pub enum Started {
    Ready(ApiAnswer),
    Generating(Generation),
}

pub struct Generation {
    pub prepared: Prepared,
    pub stream: GenStream,
    request: AnswerRequest,
}

impl Generation {
    pub fn evidence(&self) -> &[crate::answer::Evidence] {
        &self.prepared.evidence
    }
    pub fn query(&self) -> &str {
        &self.prepared.query
    }
}

/// Retrieval and the decision, then (when the corpus can answer) a queued generation.
pub async fn start(state: &AppState, request: AnswerRequest) -> Result<Started, ApiError> {
    let answerer = state.answerer()?;
    if let Some(result) = state.cache.get(&request) {
        return Ok(Started::Ready(ApiAnswer {
            result,
            cached: true,
        }));
    }
    let a = answerer.clone();
    let r = request.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        if let Some(stored) = a.precomputed(&r) {
            return Ok::<_, crate::answer::AnswerError>(Err(stored));
        }
        let prepared = a.prepare(&r)?;
        if prepared.decline.is_some() {
            let asked = asked_questions(&r);
            return Ok(Err(a.finish(prepared, String::new(), 0.0, None, &asked)));
        }
        Ok(Ok(prepared))
    })
    .await??;
    match outcome {
        Err(result) => {
            remember(state, &request, &result);
            Ok(Started::Ready(ApiAnswer {
                result,
                cached: false,
            }))
        }
        Ok(prepared) => {
            let stream = answerer
                .model
                .generate(prepared.messages.clone(), answerer.generate_params())?;
            Ok(Started::Generating(Generation {
                prepared,
                stream,
                request,
            }))
        }
    }
}

/// What the model wrote.
#[derive(Default)]
pub struct Draft {
    pub text: String,
    pub ttft_ms: f64,
    pub summary: Option<GenSummary>,
}

impl Draft {
    /// Takes one generation event; `Ok(true)` once the generation is over.
    pub fn take(&mut self, event: GenEvent, prepared: &Prepared) -> Result<bool, ApiError> {
        match event {
            GenEvent::Delta(d) => {
                if self.text.is_empty() {
                    self.ttft_ms = prepared.elapsed_ms();
                }
                self.text.push_str(&d);
                Ok(false)
            }
            GenEvent::Done(s) => {
                self.summary = Some(s);
                Ok(true)
            }
            GenEvent::Error(e) => Err(ApiError::Internal(format!("generation failed: {e}"))),
        }
    }
}

/// Checks the draft against the evidence and builds the result (on the blocking pool).
pub async fn finish(
    state: &AppState,
    generation: Generation,
    draft: Draft,
) -> Result<ApiAnswer, ApiError> {
    let answerer: Arc<Answerer> = state.answerer()?;
    let Generation {
        prepared, request, ..
    } = generation;
    let r = request.clone();
    let result = tokio::task::spawn_blocking(move || {
        let asked = asked_questions(&r);
        answerer.finish(prepared, draft.text, draft.ttft_ms, draft.summary, &asked)
    })
    .await?;
    remember(state, &request, &result);
    Ok(ApiAnswer {
        result,
        cached: false,
    })
}

/// The whole answer, without streaming, within the deadline.
pub async fn answer(
    state: &AppState,
    request: AnswerRequest,
    deadline: Instant,
) -> Result<ApiAnswer, ApiError> {
    let limit = state.options.request_timeout.as_secs();
    let work = async {
        match start(state, request).await? {
            Started::Ready(answer) => Ok(answer),
            Started::Generating(mut generation) => {
                let mut draft = Draft::default();
                loop {
                    let Some(event) = generation.stream.recv().await else {
                        return Err(ApiError::Internal("the model stopped".into()));
                    };
                    if draft.take(event, &generation.prepared)? {
                        break;
                    }
                }
                finish(state, generation, draft).await
            }
        }
    };
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| ApiError::Timeout(limit))?
}

/// Caches a result and logs the question for later readers' suggestions.
fn remember(state: &AppState, request: &AnswerRequest, result: &AnswerResult) {
    state.cache.put(request, result);
    if let Some(log) = state.options.reader_log.clone() {
        let result = result.clone();
        let had_history = !request.history.is_empty();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = related::record_asked(&log, &result, had_history) {
                tracing::warn!("could not log the question for suggestions: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_checked() {
        assert!(matches!(
            request("   ", vec![], None),
            Err(ApiError::Unprocessable(_))
        ));
        let long = "why ".repeat(600);
        assert!(matches!(
            request(&long, vec![], None),
            Err(ApiError::Unprocessable(_))
        ));
        // 2,000 characters of a multi-byte script are fine: the limit counts characters.
        let cyrillic = "ж".repeat(MAX_QUESTION_CHARS);
        assert!(request(&cyrillic, vec![], None).is_ok());
        assert!(matches!(
            request("q", vec![("robot".into(), "x".into())], None),
            Err(ApiError::Unprocessable(_))
        ));
    }

    #[test]
    fn history_is_trimmed_and_system_turns_dropped() {
        let mut history = vec![("system".to_string(), "be terse".to_string())];
        for i in 0..20 {
            history.push(("user".into(), format!("q{i}")));
        }
        let r = request(" Who? ", history, Some(" ".into())).unwrap();
        assert_eq!(r.question, "Who?");
        assert_eq!(r.history.len(), MAX_HISTORY);
        assert_eq!(r.history.last().map(|m| m.content.as_str()), Some("q19"));
        assert!(r.history.iter().all(|m| m.role == Role::User));
        assert_eq!(r.article, None);
    }
}
