//! The JSON body extractor of the API: the body limit, UTF-8 and JSON errors become
//! `ApiError`s (413, 400, 422) with a JSON body, whatever the `Content-Type` (curl users
//! forget it; OpenAI clients send it).
use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(MAX_BODY_BYTES)
            } else {
                ApiError::BadRequest(format!("cannot read the request body: {e}"))
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses a body: not UTF-8 or not JSON is 400; JSON of the wrong shape is 422.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::Unprocessable(format!("invalid request: {e}")),
            _ => ApiError::BadRequest(format!("the request body is not valid JSON: {e}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        question: String,
    }

    #[test]
    fn classifies_bad_bodies() {
        assert!(matches!(
            parse::<Body>(b"\xff\xfe{}"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse::<Body>(b"{\"question\": "),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(parse::<Body>(b""), Err(ApiError::BadRequest(_))));
        assert!(matches!(
            parse::<Body>(b"{\"question\": 3}"),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            parse::<Body>(b"{}"),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(parse::<Body>(b"{\"question\": \"hi\", \"extra\": [1]}").is_ok());
    }
}
