//! The answer flow, shared by the CLI, the server, `eval` and the benchmarks: resolve the
//! question against the conversation, retrieve passages, select evidence sentences, decide
//! whether the corpus can answer, let the model write a short cited answer from the evidence
//! only, check it, and offer related questions.
//!
//! - [`AnswerConfig`]: the flow's settings, one documented table, overridable by name.
//! - [`Retriever`]: retrieval, evidence and the decision (no model).
//! - [`grounded_answer`]: the flow itself, once: retrieve, decide, let the reader write (its
//!   deltas reported as [`AnswerEvent`]s), check and cite; the evidence quoted when the model
//!   fails or is too slow.
//! - [`Answerer`]: that flow with the answer cache, stored answers of suggested questions,
//!   related questions and the log of readers' questions: what every caller uses.
//! - [`related`]: the suggested questions, prepared ahead of time.

mod answerer;
pub mod background;
mod budget;
pub mod cache;
pub mod check;
pub mod citations;
mod compose;
mod config;
mod draft;
pub mod evidence;
mod flow;
#[cfg(test)]
mod flow_tests;
mod in_flight;
pub mod judge;
mod prepared_cache;
pub mod prompt;
pub mod query;
mod query_vectors;
pub mod question_kind;
pub mod question_names;
pub mod related;
mod result;
mod retriever;
pub mod support;
#[cfg(test)]
pub(crate) mod testing;

pub use answerer::Answerer;
pub use budget::RetrievalBudget;
pub use compose::{compose, degraded};
pub(crate) use config::billion_or_more;
pub use config::{settings_lines, AnswerConfig, ConfigError};
pub use draft::Draft;
pub use evidence::Evidence;
pub use flow::{grounded_answer, quoted_answer, OnEvent};
pub use result::{asked_questions, AnswerEvent, AnswerRequest, AnswerResult, Timings, TokenCounts};
pub use retriever::{Prepared, Retriever};

use crate::index::IndexError;
use crate::llm::LlmError;

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    #[error("no article with id {0:?}")]
    UnknownArticle(String),
    /// The model's stream ended before the model said it was done (the worker stopped or
    /// the generation was cut off): no answer is built from half a draft.
    #[error("the model stopped before finishing the answer")]
    Unfinished,
    /// The caller stopped listening before the answer was made.
    #[error("the answer was cancelled")]
    Cancelled,
}

pub const DECLINE_TEXT: &str =
    "The articles don't say. Try one of the questions below, which they can answer.";
