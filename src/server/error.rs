//! API errors: every failure is a status code and a JSON body
//! `{"error": {"message": "...", "type": "..."}}` (the OpenAI shape, so its clients read it).
use crate::answer::AnswerError;
use crate::llm::LlmError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Seconds a client is asked to wait before retrying a busy or starting server.
pub const RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request names a host this server does not answer to (DNS rebinding).
    #[error("{0}")]
    MisdirectedHost(String),
    /// A write from a page whose origin is not allowed.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// This client asked too often; retry after the given seconds.
    #[error("too many requests from this client; retry in {0} s")]
    TooManyRequests(u64),
    #[error("the model is busy answering other questions; retry in a few seconds")]
    Busy,
    #[error("the server is still starting (indexing the articles or loading the model)")]
    NotReady,
    #[error("the answer took longer than the {0} s limit")]
    Timeout(u64),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MisdirectedHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy | ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error's `type`, as OpenAI clients expect one.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::TooLarge(_) | ApiError::Unprocessable(_) => {
                "invalid_request_error"
            }
            ApiError::NotFound(_) => "not_found_error",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::MisdirectedHost(_) | ApiError::Forbidden(_) => "permission_error",
            ApiError::UnsupportedMediaType(_) => "invalid_request_error",
            ApiError::TooManyRequests(_) => "rate_limit_error",
            ApiError::Busy => "overloaded_error",
            ApiError::NotReady => "not_ready",
            ApiError::Timeout(_) => "timeout_error",
            ApiError::Internal(_) => "server_error",
        }
    }

    /// The JSON body, also sent as the data of an SSE `error` event.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!(ErrorBody {
            error: ErrorDetail {
                message: self.to_string(),
                kind: self.kind().to_string(),
            },
        })
    }
}

/// Every error's body (the OpenAI shape).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for a person to read.
    pub message: String,
    /// The kind of error, for a program: `invalid_request_error`, `not_found_error`,
    /// `permission_error`, `rate_limit_error`, `overloaded_error`, `not_ready`,
    /// `timeout_error`, `method_not_allowed`, `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(message) = &self {
            tracing::error!("internal error: {message}");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after = match self {
            ApiError::Busy | ApiError::NotReady => Some(RETRY_AFTER_SECS),
            ApiError::TooManyRequests(secs) => Some(secs.max(1)),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<AnswerError> for ApiError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::UnknownArticle(id) => ApiError::NotFound(format!("no article {id:?}")),
            AnswerError::Model(LlmError::Busy) => ApiError::Busy,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<LlmError> for ApiError {
    fn from(e: LlmError) -> Self {
        ApiError::from(AnswerError::Model(e))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("a worker task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_503_with_retry_after_and_a_json_body() {
        let response = ApiError::Busy.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let body = ApiError::Busy.body();
        assert_eq!(body["error"]["type"], "overloaded_error");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("busy")));
    }

    #[test]
    fn unknown_article_is_404() {
        let e = ApiError::from(AnswerError::UnknownArticle("x".into()));
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }
}
