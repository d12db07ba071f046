//! Opening a generation: the request body, the POST, and which failures are worth another
//! try; and the server's and reqwest's errors in a sentence.
use serde_json::{json, Value};

use super::Shared;
use crate::llm::{ChatMessage, GenerateParams};

/// Why opening a generation failed, and whether to try again.
#[derive(Debug)]
pub(super) struct OpenError {
    pub(super) message: String,
    pub(super) retry: bool,
}

/// The request body: the OpenAI fields, and llama.cpp's and vLLM's sampling extras only when
/// they are not the default (strict servers refuse unknown fields).
pub(super) fn request_body(
    model: &str,
    messages: &[ChatMessage],
    params: &GenerateParams,
) -> Value {
    let mut body = json!({
        "messages": messages,
        "max_tokens": params.max_tokens.max(1),
        "temperature": params.temperature.max(0.0),
        "seed": params.seed,
        "stream": true,
    });
    if !model.is_empty() {
        body["model"] = json!(model);
    }
    if let Some(top_p) = params.top_p {
        body["top_p"] = json!(top_p);
    }
    if let Some(top_k) = params.top_k {
        body["top_k"] = json!(top_k);
    }
    if (params.repeat_penalty - 1.0).abs() > f32::EPSILON {
        body["repeat_penalty"] = json!(params.repeat_penalty);
    }
    if !params.stop.is_empty() {
        // OpenAI takes at most four.
        body["stop"] = json!(params.stop.iter().take(4).collect::<Vec<_>>());
    }
    body
}

/// Sends `body`; the response once the server accepts it.
pub(super) async fn open(shared: &Shared, body: &Value) -> Result<reqwest::Response, OpenError> {
    let response = shared
        .client
        .post(&shared.endpoints.chat)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .json(body)
        .send()
        .await
        .map_err(|e| OpenError {
            message: describe(&e),
            retry: e.is_connect() || e.is_timeout() || e.is_request(),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let detail = error_message(&text).unwrap_or_else(|| text.chars().take(200).collect());
    Err(OpenError {
        message: format!("the model server answered {status}: {detail}"),
        retry: status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
    })
}

/// `{"error": {"message": …}}` or `{"error": "…"}`, as OpenAI-compatible servers send errors.
pub(super) fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let error = v.get("error")?;
    error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_string)
}

/// A reqwest error in a sentence, with its cause (reqwest's own message is "error sending
/// request for url …" whatever the cause).
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_extras_are_sent_only_when_set() {
        let plain = request_body("m", &[ChatMessage::user("hi")], &GenerateParams::default());
        assert_eq!(plain["model"], "m");
        assert_eq!(plain["stream"], true);
        assert_eq!(plain["temperature"], 0.0);
        for extra in ["top_k", "top_p", "repeat_penalty", "stop"] {
            assert!(plain.get(extra).is_none(), "{extra}");
        }
        let params = GenerateParams {
            top_k: Some(40),
            repeat_penalty: 1.1,
            stop: (0..6).map(|i| format!("s{i}")).collect(),
            ..GenerateParams::default()
        };
        let tuned = request_body("", &[ChatMessage::user("hi")], &params);
        assert!(tuned.get("model").is_none());
        assert_eq!(tuned["top_k"], 40);
        assert_eq!(tuned["stop"].as_array().map(Vec::len), Some(4));
        assert_eq!(tuned["messages"][0]["role"], "user");
    }
}
