//! Reading what the server sends: one event's chunk of a stream, or a whole completion from
//! a server that ignored `stream`.
use serde::Deserialize;
use serde_json::Value;

use super::request::error_message;
use crate::llm::FinishReason;

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: usize,
    #[serde(default)]
    completion_tokens: usize,
}

/// What one chunk (or a whole non-streamed completion) says.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Piece {
    pub(super) text: String,
    pub(super) finish: Option<FinishReason>,
    /// Prompt and completion tokens, when the server counts them.
    pub(super) usage: Option<(usize, usize)>,
}

/// Reads one chunk of a stream, or a whole completion (a server that ignored `stream`).
pub(super) fn parse_piece(data: &str) -> Result<Piece, String> {
    let v: Value = serde_json::from_str(data).map_err(|_| {
        format!(
            "the model server sent something that is not JSON: {:?}",
            data.chars().take(80).collect::<String>()
        )
    })?;
    if let Some(message) = error_message(data) {
        return Err(format!("the model server failed: {message}"));
    }
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| "the model server sent a chunk without choices".to_string())?;
    let mut piece = Piece {
        usage: v
            .get("usage")
            .filter(|u| !u.is_null())
            .and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok())
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        ..Piece::default()
    };
    if let Some(choice) = choices.first() {
        let content = choice
            .pointer("/delta/content")
            .or_else(|| choice.pointer("/message/content"));
        if let Some(text) = content.and_then(Value::as_str) {
            piece.text = text.to_string();
        }
        piece.finish = match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => Some(FinishReason::Length),
            Some(_) => Some(FinishReason::Stop),
            None => None,
        };
    }
    Ok(piece)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_deltas_completions_and_errors_are_read() {
        let delta =
            parse_piece(r#"{"choices":[{"delta":{"content":"Syr"},"finish_reason":null}]}"#)
                .unwrap();
        assert_eq!(delta.text, "Syr");
        assert_eq!(delta.finish, None);
        let last = parse_piece(
            r#"{"choices":[{"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#,
        )
        .unwrap();
        assert_eq!(last.finish, Some(FinishReason::Length));
        assert_eq!(last.usage, Some((12, 3)));
        let whole = parse_piece(
            r#"{"choices":[{"message":{"role":"assistant","content":"General Syrsky"},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        assert_eq!(whole.text, "General Syrsky");
        assert_eq!(whole.finish, Some(FinishReason::Stop));
        let usage_only = parse_piece(r#"{"choices":[],"usage":null}"#).unwrap();
        assert_eq!(usage_only, Piece::default());
        assert!(parse_piece("<html>bad gateway</html>")
            .unwrap_err()
            .contains("not JSON"));
        assert!(parse_piece(r#"{"error":{"message":"context too long"}}"#)
            .unwrap_err()
            .contains("context too long"));
        assert!(parse_piece(r#"{"id":"x"}"#).is_err());
    }
}
