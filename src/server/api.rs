//! The product's own API: answers (JSON and Server-Sent Events), articles, retrieval-only
//! search, feedback, health.
use super::answering::{self, Answering, Update};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::request::{answer_request, MessageIn};
use super::AppState;
use crate::answer::{AnswerEvent, AnswerResult, Evidence};
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
pub use crate::answer::related::rank::ARTICLE_LIST as ARTICLE_RELATED;

/// A question, with the conversation so far.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AskBody {
    /// The question, up to 2,000 characters.
    #[schema(example = "Who replaced Zaluzhny?", min_length = 1)]
    pub question: String,
    /// Earlier turns, oldest first (the last 12 are kept).
    #[serde(default)]
    pub history: Vec<MessageIn>,
    /// Restricts the answer to one article (an id from `/api/articles`).
    #[serde(default)]
    pub article: Option<String>,
}

impl AskBody {
    fn into_request(self) -> Result<crate::answer::AnswerRequest, ApiError> {
        answer_request(&self.question, &self.history, self.article)
    }
}

/// A grounded answer with its evidence, citations and related questions.
#[utoipa::path(post, path = "/api/ask", tag = "answers", request_body = AskBody,
    responses(
        (status = 200, description = "The checked answer (or a decline with questions the articles answer)", body = AnswerResult),
        (status = "default", description = "An error", body = ErrorBody),
    ))]
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
#[utoipa::path(post, path = "/api/ask/stream", tag = "answers", request_body = AskBody,
    responses(
        (status = 200, description = "Server-sent events: `sources` ({query, evidence}), `delta` ({text}) as the draft is written, then `done` (the checked answer, as `/api/ask` gives it) or `error` (an error body)", content_type = "text/event-stream", body = super::openapi::AskStreamEvent),
        (status = "default", description = "An error before the stream opened", body = ErrorBody),
    ))]
pub async fn ask_stream(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Response, ApiError> {
    let deadline = Instant::now() + state.options.request_timeout;
    let request = body.into_request()?;
    let mut answering = Answering::start(&state, request, deadline)?;
    // Bad input, an unknown article or a full queue: a plain HTTP error, before the stream.
    let first = answering.first().await?;
    let stream = async_stream::stream! {
        let mut next = first;
        loop {
            match next {
                Update::Event(AnswerEvent::Sources { query, evidence }) => {
                    yield event("sources", &SourcesEvent { query: &query, evidence: &evidence });
                }
                Update::Event(AnswerEvent::Delta(text)) => {
                    yield event("delta", &DeltaEvent { text: &text });
                }
                Update::Done(result) => {
                    yield event("done", &result);
                    return;
                }
                Update::Failed(e) => {
                    yield error_event(&e);
                    return;
                }
            }
            next = answering.next().await;
        }
    };
    let stream = stream.map(Ok::<_, std::convert::Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleSummary {
    pub id: String,
    pub title: String,
    pub date: Option<String>,
    pub url: Option<String>,
    pub passages: usize,
    pub words: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleList {
    pub articles: Vec<ArticleSummary>,
}

/// The articles of the corpus.
#[utoipa::path(get, path = "/api/articles", tag = "articles",
    responses(
        (status = 200, description = "The articles", body = ArticleList),
        (status = "default", description = "An error", body = ErrorBody),
    ))]
pub async fn articles(State(state): State<Arc<AppState>>) -> Result<Json<ArticleList>, ApiError> {
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
    Ok(Json(ArticleList { articles: list }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PassageOut {
    pub id: String,
    pub ordinal: usize,
    #[schema(schema_with = crate::corpus::byte_range_schema)]
    pub range: Range<usize>,
    /// The passage's sentences, as byte ranges of the article's text.
    #[schema(schema_with = byte_ranges_schema)]
    pub sentences: Vec<Range<usize>>,
}

fn byte_ranges_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::Array::new(crate::corpus::byte_range_schema())
}

/// An article with its passages and the questions it answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleOut {
    pub id: String,
    pub title: String,
    pub date: Option<String>,
    pub url: Option<String>,
    pub text: String,
    pub passages: Vec<PassageOut>,
    /// Suggested questions this article answers.
    pub related: Vec<String>,
}

/// One article: its text, passages and suggested questions.
#[utoipa::path(get, path = "/api/articles/{id}", tag = "articles",
    params(("id" = String, Path, description = "The article's id, from `/api/articles`")),
    responses(
        (status = 200, description = "The article", body = ArticleOut),
        (status = "default", description = "An error (404 for an unknown id)", body = ErrorBody),
    ))]
pub async fn article(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ArticleOut>, ApiError> {
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
    Ok(Json(ArticleOut {
        id: article.id.clone(),
        title: article.title.clone(),
        date: article.date.clone(),
        url: article.url.clone(),
        text: article.text.clone(),
        passages,
        related,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The search, in plain words.
    #[param(min_length = 1)]
    pub q: String,
    /// How many passages (1 to 50; outside values are clamped).
    #[serde(default = "default_k")]
    #[param(minimum = 0, default = 5)]
    pub k: usize,
    /// Restricts the search to one article.
    #[serde(default)]
    pub article: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchOut {
    pub query: String,
    pub hits: Vec<SearchHit>,
}

fn default_k() -> usize {
    5
}

/// Retrieval only: never waits for the model.
#[utoipa::path(get, path = "/api/search", tag = "articles", params(SearchParams),
    responses(
        (status = 200, description = "The passages, best first (the same fused ranking the answers use)", body = SearchOut),
        (status = "default", description = "An error", body = ErrorBody),
    ))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchOut>, ApiError> {
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
    Ok(Json(SearchOut {
        query: params.q,
        hits,
    }))
}

/// A reader's verdict on an answer.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Feedback {
    #[schema(min_length = 1)]
    pub question: String,
    #[serde(default)]
    pub answer: String,
    pub useful: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A reader's verdict on an answer, recorded in the store.
#[utoipa::path(post, path = "/api/feedback", tag = "feedback", request_body = Feedback,
    responses(
        (status = 204, description = "Recorded"),
        (status = "default", description = "An error", body = ErrorBody),
    ))]
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    ApiJson(feedback): ApiJson<Feedback>,
) -> Result<StatusCode, ApiError> {
    if feedback.question.trim().is_empty() {
        return Err(ApiError::Unprocessable("the question is empty".into()));
    }
    if let Some(store) = &state.store {
        // Queued: a slow or dead database never holds up the reader (see `crate::store`).
        store.record_feedback(crate::store::FeedbackEvent {
            question: feedback.question,
            answer: feedback.answer,
            useful: feedback.useful,
            comment: feedback.comment,
        });
        return Ok(StatusCode::NO_CONTENT);
    }
    if state.options.read_only {
        return Err(ApiError::Forbidden(
            "this replica is read-only and has no --database-url: feedback is not recorded here"
                .into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// Answers as soon as the server listens, before the index and the model are loaded.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    #[schema(example = "ready")]
    pub status: String,
    pub model: String,
    pub articles: usize,
    pub passages: usize,
    /// Where the answers' model runs, and whether it works (`down`: answers are `degraded`).
    pub backend: crate::llm::BackendStatus,
    /// The store of readers' questions and feedback (none on a read-only replica without one).
    pub store: Option<crate::store::StoreStatus>,
}

/// Ready once the index and the model are loaded.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready to answer", body = Ready),
        (status = "default", description = "Not ready yet (503 with Retry-After)", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Ready>, ApiError> {
    let answerer = state.answerer()?;
    Ok(Json(Ready {
        status: "ready".into(),
        model: answerer.model().name().to_string(),
        articles: answerer.index().articles().len(),
        passages: answerer.index().passages().len(),
        backend: answerer.model().status(),
        store: state.store.as_ref().map(|s| s.status()),
    }))
}
