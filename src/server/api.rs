//! The product's own API: answers (JSON and Server-Sent Events), articles, retrieval-only
//! search, feedback, health.
use super::answering;
use super::error::ApiError;
use super::extract::ApiJson;
use super::request::{answer_request, MessageIn};
use super::AppState;
use crate::answer::{AnswerResult, Evidence, Started};
use crate::index::SearchHit;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;
use tokio::time::Instant;

/// Related questions listed with an article.
pub const ARTICLE_RELATED: usize = 6;

#[derive(Debug, Deserialize)]
pub struct AskBody {
    pub question: String,
    #[serde(default)]
    pub history: Vec<MessageIn>,
    #[serde(default)]
    pub article: Option<String>,
}

impl AskBody {
    fn into_request(self) -> Result<crate::answer::AnswerRequest, ApiError> {
        answer_request(&self.question, &self.history, self.article)
    }
}

pub async fn ask(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Json<AnswerResult>, ApiError> {
    let deadline = Instant::now() + state.options.request_timeout;
    let request = body.into_request()?;
    Ok(Json(answering::answer(&state, request, deadline).await?))
}

#[derive(Serialize)]
struct SourcesEvent<'a> {
    query: &'a str,
    evidence: &'a [Evidence],
}

#[derive(Serialize)]
struct DeltaEvent<'a> {
    text: &'a str,
}

fn event(name: &str, data: &impl Serialize) -> Event {
    let json = serde_json::to_string(data).unwrap_or_else(|e| {
        ApiError::Internal(format!("cannot encode an event: {e}"))
            .body()
            .to_string()
    });
    Event::default().event(name).data(json)
}

fn error_event(e: &ApiError) -> Event {
    if let ApiError::Internal(message) = e {
        tracing::error!("stream failed: {message}");
    }
    event("error", &e.body())
}

/// `sources`, then `delta`s of the draft as the model writes it, then `done` with the
/// checked result (or one `error`). Errors found before the stream opens (bad input, busy
/// model) are plain HTTP errors.
pub async fn ask_stream(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Response, ApiError> {
    let deadline = Instant::now() + state.options.request_timeout;
    let request = body.into_request()?;
    let started = answering::within(&state, deadline, answering::start(&state, request)).await?;
    let stream = async_stream::stream! {
        match started {
            Started::Finished(result) => {
                yield event("sources", &SourcesEvent {
                    query: &result.query,
                    evidence: &result.evidence,
                });
                yield event("delta", &DeltaEvent { text: &result.answer });
                yield event("done", &result);
            }
            Started::Generating(mut generation) => {
                yield event("sources", &SourcesEvent {
                    query: &generation.prepared().query,
                    evidence: &generation.prepared().evidence,
                });
                loop {
                    let next = answering::within(&state, deadline, async {
                        Ok(generation.next_delta().await?)
                    })
                    .await;
                    match next {
                        Ok(Some(text)) => yield event("delta", &DeltaEvent { text: &text }),
                        Ok(None) => break,
                        Err(e) => {
                            yield error_event(&e);
                            return;
                        }
                    }
                }
                match answering::finish(&state, generation).await {
                    Ok(result) => yield event("done", &result),
                    Err(e) => yield error_event(&e),
                }
            }
        }
    };
    let stream = stream.map(Ok::<_, std::convert::Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Debug, Serialize)]
pub struct ArticleSummary {
    pub id: String,
    pub title: String,
    pub date: Option<String>,
    pub url: Option<String>,
    pub passages: usize,
    pub words: usize,
}

pub async fn articles(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let answerer = state.answerer()?;
    let index = answerer.index();
    let list: Vec<ArticleSummary> = index
        .articles()
        .iter()
        .map(|a| ArticleSummary {
            id: a.id.clone(),
            title: a.title.clone(),
            date: a.date.clone(),
            url: a.url.clone(),
            passages: index.passages_of(&a.id).len(),
            words: a.text.split_whitespace().count(),
        })
        .collect();
    Ok(Json(serde_json::json!({ "articles": list })).into_response())
}

#[derive(Debug, Serialize)]
struct PassageOut {
    id: String,
    ordinal: usize,
    range: Range<usize>,
    sentences: Vec<Range<usize>>,
}

pub async fn article(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let answerer = state.answerer()?;
    let index = answerer.index();
    let article = index
        .article(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no article {id:?}")))?;
    let passages: Vec<PassageOut> = index
        .passages_of(&id)
        .iter()
        .map(|p| PassageOut {
            id: p.id(),
            ordinal: p.ordinal,
            range: p.range.clone(),
            sentences: p.sentences.clone(),
        })
        .collect();
    let related: Vec<String> = answerer
        .suggestions()
        .map(|store| {
            store
                .for_article(&id, ARTICLE_RELATED)
                .into_iter()
                .map(|s| s.question.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "id": article.id,
        "title": article.title,
        "date": article.date,
        "url": article.url,
        "text": article.text,
        "passages": passages,
        "related": related,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    pub q: String,
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default)]
    pub article: Option<String>,
}

fn default_k() -> usize {
    5
}

/// Retrieval only: never waits for the model.
pub async fn search(
    State(state): State<Arc<AppState>>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let answerer = state.answerer()?;
    let request = answer_request(&params.q, &[], params.article)?;
    if let Some(a) = &request.article {
        if answerer.index().article(a).is_none() {
            return Err(ApiError::NotFound(format!("no article {a:?}")));
        }
    }
    let k = params.k.clamp(1, 50);
    // The same fused ranking the answers use (BM25 alone for a lexical index).
    let hits: Vec<SearchHit> = tokio::task::spawn_blocking(move || {
        answerer
            .retriever()
            .search(&request.question, k, request.article.as_deref())
    })
    .await??;
    Ok(Json(serde_json::json!({ "query": params.q, "hits": hits })).into_response())
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Feedback {
    pub question: String,
    #[serde(default)]
    pub answer: String,
    pub useful: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Size at which the feedback log rotates (one older generation is kept as `.1`).
pub const FEEDBACK_LOG_BYTES: u64 = 16 << 20;

/// A reader's verdict on an answer, appended to the feedback log.
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    ApiJson(feedback): ApiJson<Feedback>,
) -> Result<StatusCode, ApiError> {
    if feedback.question.trim().is_empty() {
        return Err(ApiError::Unprocessable("the question is empty".into()));
    }
    let Some(log) = state.options.feedback_log.clone() else {
        return Ok(StatusCode::NO_CONTENT);
    };
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let line = serde_json::to_string(&feedback).map_err(std::io::Error::other)?;
        // One write of the whole line (concurrent appends do not interleave), rotated at its cap.
        crate::logfile::BoundedLog::new(log, FEEDBACK_LOG_BYTES).append(&line)
    })
    .await?
    .map_err(|e| ApiError::Internal(format!("cannot record feedback: {e}")))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready once the index and the model are loaded.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let answerer = state.answerer()?;
    Ok(Json(serde_json::json!({
        "status": "ready",
        "model": answerer.model().name(),
        "articles": answerer.index().articles().len(),
        "passages": answerer.index().passages().len(),
    }))
    .into_response())
}
