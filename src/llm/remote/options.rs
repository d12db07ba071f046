//! How to reach the model server and how long to wait for it: [`RemoteOptions`], and the
//! server's endpoints from whichever spelling of its URL was given.
use std::time::Duration;

use crate::llm::LlmError;

/// How to reach the server and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// The server: its base (`http://host:8000`), its `/v1`, or the full
    /// `/v1/chat/completions` address.
    pub url: String,
    /// The `model` sent with each request; `None`: the first of the server's `/v1/models`.
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    /// Generations at once.
    pub concurrency: usize,
    /// Generations that may wait for a slot; more are refused with `LlmError::Busy`.
    pub queue_capacity: usize,
    pub connect_timeout: Duration,
    /// From sending the request (after a slot is free) to the first token.
    pub first_token_timeout: Duration,
    /// Between two events of the stream.
    pub idle_timeout: Duration,
    /// The whole generation, from sending the request.
    pub total_timeout: Duration,
    /// Further attempts to open a generation after a connection error, 429 or 5xx.
    pub retries: usize,
    /// The context length assumed for prompt budgets.
    pub context_length: usize,
}

impl RemoteOptions {
    pub fn new(url: impl Into<String>) -> RemoteOptions {
        RemoteOptions {
            url: url.into(),
            model: None,
            api_key: None,
            concurrency: 4,
            queue_capacity: 16,
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(45),
            retries: 2,
            context_length: 4096,
        }
    }
}

/// The server's addresses, from the URL given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoints {
    pub(super) chat: String,
    pub(super) models: String,
}

impl Endpoints {
    /// The endpoints of the server at `url` (any of the spellings [`RemoteOptions::url`]
    /// takes).
    pub(super) fn parse(url: &str) -> Result<Endpoints, LlmError> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| LlmError::Remote(format!("the model server URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LlmError::Remote(format!(
                "the model server URL {url:?} must be http:// or https://"
            )));
        }
        let base = parsed.as_str().trim_end_matches('/');
        let base = base
            .strip_suffix("/chat/completions")
            .unwrap_or(base)
            .trim_end_matches('/');
        let v1 = if base.ends_with("/v1") {
            base.to_string()
        } else {
            format!("{base}/v1")
        };
        Ok(Endpoints {
            chat: format!("{v1}/chat/completions"),
            models: format!("{v1}/models"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_server_address_reaches_the_chat_endpoint() {
        for url in [
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8081/",
            "http://127.0.0.1:8081/v1",
            "http://127.0.0.1:8081/v1/",
            "http://127.0.0.1:8081/v1/chat/completions",
        ] {
            let e = Endpoints::parse(url).unwrap();
            assert_eq!(e.chat, "http://127.0.0.1:8081/v1/chat/completions", "{url}");
            assert_eq!(e.models, "http://127.0.0.1:8081/v1/models", "{url}");
        }
        assert_eq!(
            Endpoints::parse("https://fleet.example/api/v1")
                .unwrap()
                .chat,
            "https://fleet.example/api/v1/chat/completions"
        );
        assert!(Endpoints::parse("ftp://x").is_err());
        assert!(Endpoints::parse("not a url").is_err());
    }
}
