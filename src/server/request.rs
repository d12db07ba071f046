//! A question as it arrives over HTTP, checked and turned into the flow's request. The
//! product's API (`history`) and the OpenAI endpoint (`messages`) share one message type.
use super::error::ApiError;
use crate::answer::AnswerRequest;
use crate::llm::{ChatMessage, Role};
use serde::Deserialize;
use serde_json::Value;

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;
/// Messages of the conversation kept as history (six turns of a question and an answer);
/// the oldest are dropped.
pub const MAX_HISTORY_MESSAGES: usize = 12;

/// A message as clients send it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct MessageIn {
    /// `user` or `assistant` (`system` and `developer` messages are ignored).
    #[schema(example = "user")]
    pub role: String,
    /// A string, or an array of content parts (`{"type":"text","text":...}`).
    #[serde(default)]
    pub content: Value,
}

impl MessageIn {
    /// The message's text (the text parts joined by newlines).
    pub fn text(&self) -> String {
        match &self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

/// Checks a question and builds the flow's request. System and developer messages are
/// dropped: a client's own system prompt does not steer the grounded answer.
pub fn answer_request(
    question: &str,
    history: &[MessageIn],
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
    for m in history {
        let role = match m.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" | "developer" => continue,
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "unknown history role {other:?}: use \"user\" or \"assistant\""
                )))
            }
        };
        messages.push(ChatMessage::new(role, m.text()));
    }
    let skip = messages.len().saturating_sub(MAX_HISTORY_MESSAGES);
    Ok(AnswerRequest {
        question: trimmed.to_string(),
        history: messages.split_off(skip),
        article: article.filter(|a| !a.trim().is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(role: &str, content: Value) -> MessageIn {
        MessageIn {
            role: role.into(),
            content,
        }
    }

    #[test]
    fn questions_are_checked() {
        assert!(matches!(
            answer_request("   ", &[], None),
            Err(ApiError::Unprocessable(_))
        ));
        let long = "why ".repeat(600);
        assert!(matches!(
            answer_request(&long, &[], None),
            Err(ApiError::Unprocessable(_))
        ));
        // 2,000 characters of a multi-byte script are fine: the limit counts characters.
        let cyrillic = "ж".repeat(MAX_QUESTION_CHARS);
        assert!(answer_request(&cyrillic, &[], None).is_ok());
        assert!(matches!(
            answer_request("q", &[message("robot", json!("x"))], None),
            Err(ApiError::Unprocessable(_))
        ));
    }

    #[test]
    fn history_is_trimmed_and_system_turns_dropped() {
        let mut history = vec![message("system", json!("be terse"))];
        for i in 0..20 {
            history.push(message("user", json!(format!("q{i}"))));
        }
        let r = answer_request(" Who? ", &history, Some(" ".into())).unwrap();
        assert_eq!(r.question, "Who?");
        assert_eq!(r.history.len(), MAX_HISTORY_MESSAGES);
        assert_eq!(r.history.last().map(|m| m.content.as_str()), Some("q19"));
        assert!(r.history.iter().all(|m| m.role == Role::User));
        assert_eq!(r.article, None);
    }

    #[test]
    fn content_parts_are_joined() {
        let m = message(
            "user",
            json!([{"type": "text", "text": "Who"}, {"type": "image"}, {"type": "text", "text": "else?"}]),
        );
        assert_eq!(m.text(), "Who\nelse?");
        assert_eq!(message("user", Value::Null).text(), "");
    }
}
