//! The OpenAI-compatible endpoints, so existing clients and SDKs work: the last user message
//! is the question, earlier user and assistant messages are the history, and the answer comes
//! from the same grounded answer flow. The content ends with the sources; they are also in the
//! extra fields `sources` and `related_questions`, which clients that do not know them ignore.
//!
//! Streaming sends the role at once, then the *checked* answer: the draft is checked against
//! its evidence before the first content chunk, so a streamed answer is the same text as a
//! non-streamed one and never shows a sentence that the check removed. (The page's own
//! stream, `/api/ask/stream`, shows the draft live and then replaces it.)
use super::answering::{self, Answering, Update};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::request::{answer_request, MessageIn};
use super::AppState;
use crate::answer::{AnswerResult, Evidence};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::time::Instant;

/// OpenAI's chat request; fields this server does not use (temperature, n, …) are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The conversation: the last user message is the question.
    #[schema(min_items = 1)]
    pub messages: Vec<MessageIn>,
    /// Server-sent `chat.completion.chunk`s, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// Ignored: the server has one model (`/v1/models`).
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

/// Extension fields of a completion (and of the stream's last chunk).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Extra {
    /// The evidence the answer cites.
    pub sources: Vec<Evidence>,
    /// Questions the articles answer, to ask next.
    pub related_questions: Vec<String>,
    /// True when the articles do not hold the answer.
    pub declined: bool,
    /// True when the model could not answer and the content quotes the best evidence.
    pub degraded: bool,
}

fn extra(result: &AnswerResult) -> Extra {
    Extra {
        sources: result.citations.clone(),
        related_questions: result.related.clone(),
        declined: result.declined,
        degraded: result.degraded,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl Usage {
    fn of(result: &AnswerResult) -> Usage {
        Usage {
            prompt_tokens: result.tokens.prompt,
            completion_tokens: result.tokens.completion,
            total_tokens: result.tokens.prompt + result.tokens.completion,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssistantMessage {
    #[schema(example = "assistant")]
    pub role: String,
    /// The answer, then its numbered sources.
    pub content: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Choice {
    pub index: usize,
    pub message: AssistantMessage,
    /// Always null.
    pub logprobs: Option<Value>,
    #[schema(example = "stop")]
    pub finish_reason: String,
}

/// OpenAI's `chat.completion`, with the extension fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    #[schema(example = "chat.completion")]
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Usage,
    #[serde(flatten)]
    pub extra: Extra,
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

/// The grounded answer through OpenAI's chat API (SDKs work unchanged).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatRequest,
    responses(
        (status = 200, description = "A `chat.completion`, or with `stream: true` server-sent `chat.completion.chunk`s ending with `data: [DONE]`", content(
            (ChatCompletion = "application/json"),
            (super::openapi::ChatStreamEvent = "text/event-stream"),
        )),
        (status = "default", description = "An error", body = ErrorBody),
    ))]
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
    Ok(Json(ChatCompletion {
        id: completion_id(),
        object: "chat.completion".into(),
        created: now(),
        model,
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                content: content(&result),
            },
            logprobs: None,
            finish_reason: "stop".into(),
        }],
        usage: Usage::of(&result),
        extra: extra(&result),
    })
    .into_response())
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
    let mut answering = Answering::start(&state, request, deadline)?;
    let first = answering.first().await?;
    let id = completion_id();
    let created = now();
    let events = async_stream::stream! {
        yield data(&chunk(&id, created, &model, json!({"role": "assistant", "content": ""}), None));
        // The checked answer is what is streamed (see the module), so the draft is not.
        let answer = match first {
            Update::Done(result) => Ok(*result),
            _ => answering.finish().await,
        };
        match answer {
            Ok(result) => {
                for piece in pieces(&content(&result)) {
                    yield data(&chunk(&id, created, &model, json!({"content": piece}), None));
                }
                let mut last = chunk(&id, created, &model, json!({}), Some("stop"));
                merge(&mut last, &extra(&result));
                last["usage"] = json!(Usage::of(&result));
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelCard {
    pub id: String,
    #[schema(example = "model")]
    pub object: String,
    pub created: u64,
    #[schema(example = "ama")]
    pub owned_by: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelList {
    #[schema(example = "list")]
    pub object: String,
    pub data: Vec<ModelCard>,
}

/// The one model behind the API.
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses(
        (status = 200, description = "The model", body = ModelList),
        (status = "default", description = "An error", body = ErrorBody),
    ))]
pub async fn models(State(state): State<Arc<AppState>>) -> Result<Json<ModelList>, ApiError> {
    let answerer = state.answerer()?;
    Ok(Json(ModelList {
        object: "list".into(),
        data: vec![ModelCard {
            id: answerer.model().name().to_string(),
            object: "model".into(),
            created: state.created,
            owned_by: "ama".into(),
        }],
    }))
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
