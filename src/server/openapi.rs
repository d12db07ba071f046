//! The API's contract: an OpenAPI 3.1 document derived from the handlers' annotations and the
//! types they read and write (so it cannot drift from them), served at `/openapi.json`.
use super::{api, error, lookup, openai, request};
use crate::answer::{AnswerResult, Evidence, Timings, TokenCounts};
use crate::index::SearchHit;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ama",
        description = "Answers from the articles, with quoted evidence and citations; \
            the articles, search and suggested questions; an OpenAI-compatible chat API. \
            Every error is a status code with a JSON body `{\"error\": {\"message\", \"type\"}}`."
    ),
    paths(
        api::ask,
        api::ask_stream,
        api::articles,
        api::article,
        lookup::widget_article,
        api::search,
        api::feedback,
        api::healthz,
        api::readyz,
        openai::chat_completions,
        openai::models,
    ),
    components(schemas(
        AnswerResult,
        Evidence,
        Timings,
        TokenCounts,
        SearchHit,
        request::MessageIn,
        error::ErrorBody,
        error::ErrorDetail,
        AskStreamEvent,
        AskEventName,
        ChatStreamEvent,
    )),
    tags(
        (name = "answers", description = "Grounded answers, whole or streamed"),
        (name = "articles", description = "The corpus and retrieval"),
        (name = "feedback", description = "Readers' verdicts on answers"),
        (name = "openai", description = "OpenAI-compatible chat API"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The names of `/api/ask/stream`'s events.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // A schema only: the stream writes the names itself (api.rs).
pub enum AskEventName {
    /// First: `{"query", "evidence"}`, the evidence the answer will cite.
    Sources,
    /// The draft as the model writes it: `{"text"}`.
    Delta,
    /// Last: the checked answer, as `/api/ask` gives it (it replaces the draft).
    Done,
    /// Instead of `done`: an error body.
    Error,
}

/// One event of `/api/ask/stream`, as schemathesis and SSE clients parse it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AskStreamEvent {
    pub event: AskEventName,
    /// The event's JSON.
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// One event of `/v1/chat/completions` with `stream: true` (unnamed, as OpenAI's).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChatStreamEvent {
    /// A `chat.completion.chunk` as JSON (the last one with `usage` and the extension
    /// fields), an error body, or `[DONE]`.
    pub data: String,
}

/// The document as JSON, made once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot encode the document: {e}\"}}"))
    })
}

/// `GET /openapi.json`.
pub async fn document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_api_route_is_documented_with_json_errors() {
        let doc: Value = serde_json::from_str(document_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
        documented.sort_unstable();
        let mut routes = super::super::API_ROUTES.to_vec();
        routes.sort_unstable();
        assert_eq!(documented, routes);
        for (path, operations) in paths {
            for (method, operation) in operations.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                if path == "/healthz" {
                    continue;
                }
                let error = &responses["default"]["content"]["application/json"]["schema"];
                assert_eq!(
                    error["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path}"
                );
            }
        }
        // Every reference resolves.
        let text = document_json();
        for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "no schema {name}"
            );
        }
    }

    #[test]
    fn byte_ranges_are_described_as_serde_writes_them() {
        let doc: Value = serde_json::from_str(document_json()).unwrap();
        let evidence = &doc["components"]["schemas"]["Evidence"]["properties"];
        assert_eq!(
            evidence["highlight"]["required"],
            serde_json::json!(["start", "end"])
        );
        let range = serde_json::to_value(0usize..3).unwrap();
        assert_eq!(range, serde_json::json!({"start": 0, "end": 3}));
    }
}
