//! The OpenAI-compatible endpoints, so existing clients and SDKs work: the last user message
//! is the question, earlier user and assistant messages are the history, and the answer comes
//! from the same grounded answer flow. The content ends with the sources; they are also in the
//! extra fields `sources` and `related_questions`, which clients that do not know them ignore.
//!
//! Streaming sends the role at once, then the *checked* answer: the draft is checked against
//! its evidence before the first content chunk, so a streamed answer is the same text as a
//! non-streamed one and never shows a sentence that the check removed. (The page's own
//! stream, `/api/ask/stream`, shows the draft live and then replaces it.)
use super::answering;
use super::error::ApiError;
use super::extract::ApiJson;
use super::request::{answer_request, MessageIn};
use super::AppState;
use crate::answer::{AnswerResult, Evidence, Started};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::time::Instant;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<MessageIn>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub model: Option<String>,
    /// Extension: restrict the answer to one article.
    #[serde(default)]
    pub article: Option<String>,
}

/// The flow's request from a chat: the last user message and what came before it (user and
/// assistant messages; any other role is ignored here).
fn to_request(chat: &ChatRequest) -> Result<crate::answer::AnswerRequest, ApiError> {
    let last_user = chat
        .messages
        .iter()
        .rposition(|m| m.role == "user")
        .ok_or_else(|| ApiError::Unprocessable("messages hold no user message".into()))?;
    let question = chat.messages[last_user].text();
    let history: Vec<MessageIn> = chat.messages[..last_user]
        .iter()
        .filter(|m| matches!(m.role.as_str(), "user" | "assistant"))
        .cloned()
        .collect();
    answer_request(&question, &history, chat.article.clone())
}

/// The answer followed by its numbered sources (or, when declined, questions to try).
pub fn content(result: &AnswerResult) -> String {
    let mut text = result.answer.clone();
    if !result.citations.is_empty() {
        text.push_str("\n\nSources:");
        for c in &result.citations {
            text.push_str(&format!(
                "\n[{}] {} — “{}”",
                c.number, c.article_title, c.quote
            ));
        }
    }
    if result.declined && !result.related.is_empty() {
        text.push_str("\n\nQuestions the articles can answer:");
        for q in &result.related {
            text.push_str(&format!("\n- {q}"));
        }
    }
    text
}

#[derive(Serialize)]
struct Extra<'a> {
    sources: &'a [Evidence],
    related_questions: &'a [String],
    declined: bool,
}

fn extra(result: &AnswerResult) -> Extra<'_> {
    Extra {
        sources: &result.citations,
        related_questions: &result.related,
        declined: result.declined,
    }
}

fn completion_id() -> String {
    format!("chatcmpl-{:016x}", rand::random::<u64>())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    ApiJson(chat): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let deadline = Instant::now() + state.options.request_timeout;
    let request = to_request(&chat)?;
    let model = state.answerer()?.model().name().to_string();
    if chat.stream {
        return stream(state, request, model, deadline).await;
    }
    let result = answering::answer(&state, request, deadline).await?;
    let usage = json!({
        "prompt_tokens": result.tokens.prompt,
        "completion_tokens": result.tokens.completion,
        "total_tokens": result.tokens.prompt + result.tokens.completion,
    });
    let mut body = json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content(&result) },
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage,
    });
    merge(&mut body, &extra(&result));
    Ok(Json(body).into_response())
}

fn merge(body: &mut Value, extra: &impl Serialize) {
    if let (Some(map), Ok(Value::Object(more))) =
        (body.as_object_mut(), serde_json::to_value(extra))
    {
        map.extend(more);
    }
}

fn chunk(id: &str, created: u64, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
    })
}

fn data(value: &Value) -> Event {
    Event::default().data(value.to_string())
}

/// Words with their following space, so a client renders the answer as it arrives.
fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_string).collect()
}

async fn stream(
    state: Arc<AppState>,
    request: crate::answer::AnswerRequest,
    model: String,
    deadline: Instant,
) -> Result<Response, ApiError> {
    // Input errors and a full queue are HTTP errors before the stream opens.
    let started = answering::within(&state, deadline, answering::start(&state, request)).await?;
    let id = completion_id();
    let created = now();
    let events = async_stream::stream! {
        yield data(&chunk(&id, created, &model, json!({"role": "assistant", "content": ""}), None));
        let answer = match started {
            Started::Finished(result) => Ok(result),
            Started::Generating(generation) => {
                answering::within(&state, deadline, answering::complete(&state, generation)).await
            }
        };
        match answer {
            Ok(result) => {
                for piece in pieces(&content(&result)) {
                    yield data(&chunk(&id, created, &model, json!({"content": piece}), None));
                }
                let mut last = chunk(&id, created, &model, json!({}), Some("stop"));
                merge(&mut last, &extra(&result));
                last["usage"] = json!({
                    "prompt_tokens": result.tokens.prompt,
                    "completion_tokens": result.tokens.completion,
                    "total_tokens": result.tokens.prompt + result.tokens.completion,
                });
                yield data(&last);
            }
            Err(e) => yield data(&e.body()),
        }
        yield Event::default().data("[DONE]");
    };
    // Comments every 15 s keep proxies and clients from closing a quiet stream (a long prefill).
    Ok(Sse::new(events.map(Ok::<_, std::convert::Infallible>))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The one model behind the API.
pub async fn models(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let answerer = state.answerer()?;
    Ok(Json(json!({
        "object": "list",
        "data": [{
            "id": answerer.model().name(),
            "object": "model",
            "created": state.created,
            "owned_by": "ama",
        }],
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn last_user_message_is_the_question() {
        let c = chat(json!({
            "model": "whatever", "temperature": 0.2, "n": 1, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "Who is Zaluzhny?"},
                {"role": "assistant", "content": "A general [1]."},
                {"role": "user", "content": [{"type": "text", "text": "Who replaced him?"}]}
            ]
        }));
        let r = to_request(&c).unwrap();
        assert_eq!(r.question, "Who replaced him?");
        assert_eq!(r.history.len(), 2);
        assert!(to_request(&chat(
            json!({"messages": [{"role": "system", "content": "x"}]})
        ))
        .is_err());
    }

    #[test]
    fn pieces_rebuild_the_text() {
        let t = "General Syrsky [1].\n\nSources:\n[1] T — “q”";
        assert_eq!(pieces(t).concat(), t);
    }
}
