//! The answer flow, shared by the CLI, the server, `eval` and the benchmarks: resolve the
//! question against the conversation, retrieve passages, select evidence sentences, decide
//! whether the corpus can answer, let the model write a short cited answer from the evidence
//! only, check it, and offer related questions.
//!
//! - [`Retriever`]: retrieval, evidence and the decision (no model).
//! - [`Generation`]: the model writing a draft, with one policy for a stream that ends early.
//! - [`Answerer`]: the whole flow. [`Answerer::start`] returns either a finished answer
//!   (cached, a stored suggestion's, declined) or a generation whose deltas the caller may
//!   forward; [`Answerer::finish`] checks the draft, cites it and adds related questions.
//! - [`related`]: the suggested questions, prepared ahead of time.

mod answerer;
pub mod asked;
pub mod cache;
pub mod check;
mod compose;
pub mod evidence;
mod generation;
mod hypothesis;
pub mod judge;
pub mod named;
pub mod prompt;
pub mod query;
pub mod related;
mod result;
mod retriever;
mod second_look;
pub mod text;

pub use answerer::{Answerer, Started};
pub use compose::{answer_alone, compose, degraded};
pub use evidence::Evidence;
pub use generation::{Draft, Generation};
pub use result::{asked_questions, AnswerEvent, AnswerRequest, AnswerResult, Timings, TokenCounts};
pub use retriever::{AnswerConfig, Prepared, Retriever};

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
}

impl AnswerError {
    /// The model failed (not the question, the index, or a full queue): the answer can still
    /// quote its evidence.
    pub fn is_model_failure(&self) -> bool {
        match self {
            AnswerError::Model(LlmError::Busy) => false,
            AnswerError::Model(_) | AnswerError::Unfinished => true,
            _ => false,
        }
    }
}

pub const DECLINE_TEXT: &str =
    "The articles don't say. Try one of the questions below, which they can answer.";
