//! What the flow takes and gives: the request, the result and its parts, the stream events.
use super::evidence::Evidence;
use crate::llm::{ChatMessage, Role};
use serde::{Deserialize, Serialize};

/// A question, with the conversation so far and an optional article to restrict it to.
#[derive(Debug, Clone, Default)]
pub struct AnswerRequest {
    pub question: String,
    pub history: Vec<ChatMessage>,
    pub article: Option<String>,
}

impl AnswerRequest {
    /// A question asked on its own, of the whole corpus.
    pub fn new(question: impl Into<String>) -> AnswerRequest {
        AnswerRequest {
            question: question.into(),
            ..AnswerRequest::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timings {
    pub retrieval_ms: f64,
    /// From the request to the first streamed token (0 when the model was not called).
    pub ttft_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenCounts {
    pub prompt: usize,
    pub completion: usize,
}

/// The flow's result.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnswerResult {
    pub question: String,
    /// The query actually searched (the question, plus terms from the history for a follow-up).
    pub query: String,
    /// The checked short answer, with citation markers like `[1]`.
    pub answer: String,
    /// The evidence given to the model, numbered as the markers are.
    pub evidence: Vec<Evidence>,
    /// The evidence the answer cites (with its locations, for highlighting).
    pub citations: Vec<Evidence>,
    pub related: Vec<String>,
    pub declined: bool,
    pub decline_reason: Option<String>,
    /// What the model wrote, before the check.
    pub draft: String,
    /// True when the check changed the draft (a streamed draft must be replaced).
    pub revised: bool,
    /// True when the answer quotes the best evidence because no generated sentence held up.
    pub quoted_evidence: bool,
    /// True when the answer was prepared ahead of time (a suggested question): no model call.
    #[serde(default)]
    pub precomputed: bool,
    /// True when served from the in-memory answer cache.
    #[serde(default)]
    pub cached: bool,
    /// True when the model could not answer (its server down, too slow, or sending
    /// something that is not an answer): the answer quotes the best evidence instead.
    #[serde(default)]
    pub degraded: bool,
    /// True when the model was busy with other readers' questions (its queue full): the
    /// answer quotes the best evidence at once, `degraded` too.
    #[serde(default)]
    pub busy: bool,
    pub timings: Timings,
    pub tokens: TokenCounts,
}

impl AnswerResult {
    /// The result with only its first `shown` evidence items and those its answer cites,
    /// numbered on from them (the reader may have read more than is shown: the rest of a
    /// passage it read whole).
    pub fn shown_and_cited(mut self, shown: usize) -> AnswerResult {
        if self.evidence.len() <= shown {
            return self;
        }
        let cited: Vec<usize> = self.citations.iter().map(|e| e.number).collect();
        let mut numbers = std::collections::HashMap::new();
        let mut kept = Vec::new();
        for (i, mut e) in std::mem::take(&mut self.evidence).into_iter().enumerate() {
            if i < shown || cited.contains(&e.number) {
                numbers.insert(e.number, kept.len() + 1);
                e.number = kept.len() + 1;
                kept.push(e);
            }
        }
        self.evidence = kept;
        self.answer = super::citations::renumbered(&self.answer, |n| numbers.get(&n).copied());
        for c in &mut self.citations {
            c.number = numbers.get(&c.number).copied().unwrap_or(c.number);
        }
        self
    }

    /// The result without its follow-up suggestions (they are recomputed when shown).
    pub fn without_related(&self) -> AnswerResult {
        AnswerResult {
            related: Vec::new(),
            ..self.clone()
        }
    }
}

/// Events of an answer as it is made: the sources first (the query searched and the
/// evidence), then the text as the reader writes it (a finished answer is one delta). The
/// checked result follows them.
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    Sources {
        query: String,
        evidence: Vec<Evidence>,
    },
    Delta(String),
}

/// The user's questions so far, this one included: not to be suggested again.
pub fn asked_questions(request: &AnswerRequest) -> Vec<String> {
    let mut asked: Vec<String> = request
        .history
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.clone())
        .collect();
    asked.push(request.question.clone());
    asked
}
