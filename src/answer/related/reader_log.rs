//! Readers' questions, offered to later readers. Every question the flow answers is
//! recorded in a [`QuestionLog`] (the product's store: SQLite in the data folder, or
//! PostgreSQL shared by replicas), declined ones too, for the editors' report. Those fit to
//! suggest ([`suggestable`]) are read back at the next start: each is verified again against
//! the corpus as it is (well-formed, inventing nothing, not declined) and offered if it holds;
//! clicked, it is answered by the current pipeline like any typed question, so a first
//! answer, right or wrong, is never served again.
//!
//! Bounded: only the newest [`READER_QUESTIONS`] questions are read, and those older than
//! [`READER_LOG_MAX_AGE_DAYS`] are ignored (the store itself keeps 180 days).
use super::verify::{answerable_question, well_formed, Rejection};
use super::{Source, Suggestion, SuggestionStore, Yield};
use crate::answer::{compose, AnswerRequest, AnswerResult, Draft, Retriever};
use crate::text;
use std::collections::HashSet;

/// How many of the latest reader questions are considered.
pub const READER_QUESTIONS: usize = 200;

/// Questions older than this are no longer offered.
pub const READER_LOG_MAX_AGE_DAYS: u64 = 30;

/// A reader's question as recorded: what it asked, about which article, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedQuestion {
    pub question: String,
    /// The article it was asked about, when the reader was on one.
    pub article: Option<String>,
    /// Unix seconds.
    pub asked_at: i64,
}

/// Where the flow records readers' questions.
pub trait QuestionLog: Send + Sync {
    /// Records a question and how it was answered (never blocks on the storage).
    fn record(&self, request: &AnswerRequest, result: &AnswerResult);
    /// The newest [`suggestable`] questions asked at or after `since` (unix seconds), newest
    /// first; empty (with a warning) when the storage cannot be read.
    fn recent(&self, limit: usize, since: i64) -> Vec<AskedQuestion>;
}

/// Whether a reader's question may become a suggestion for others: answered by the model
/// (not declined, degraded, cached or a stored suggestion), asked without history (a
/// follow-up means nothing on its own), and well-formed. Its answer is never kept for it.
pub fn suggestable(request: &AnswerRequest, result: &AnswerResult) -> bool {
    !(result.declined
        || result.degraded
        || result.precomputed
        || result.cached
        || !request.history.is_empty()
        || well_formed(&result.question).is_err())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl SuggestionStore {
    /// Adds readers' earlier answered questions (from the log) as suggestions, each verified
    /// again against the current corpus: well-formed, nothing invented, not declined, its
    /// evidence in the article it was asked about. No model call is made: they are answered
    /// when clicked.
    pub fn add_reader_questions(&mut self, retriever: &Retriever, log: &dyn QuestionLog) {
        let mut seen: HashSet<String> = self.all().map(|s| text::normalise(&s.question)).collect();
        let mut yields = Yield::default();
        let oldest = now_secs() - (READER_LOG_MAX_AGE_DAYS * 24 * 3600) as i64;
        for asked in log.recent(READER_QUESTIONS, oldest) {
            yields.candidate(Source::Reader);
            if !seen.insert(text::normalise(&asked.question)) {
                yields.rejected(Source::Reader, Rejection::Duplicate);
                continue;
            }
            match verify_reader(retriever, asked) {
                Ok(s) => {
                    yields.kept(Source::Reader);
                    self.insert(s);
                }
                Err(why) => yields.rejected(Source::Reader, why),
            }
        }
        self.yields.add(&yields);
    }
}

/// A logged question that still makes a suggestion: the flow, as it is now, answers it from
/// the articles (the article it was asked about, when there was one). Its answer here is the
/// evidence alone, for ranking; it is never served (see [`Source::Reader`]).
fn verify_reader(retriever: &Retriever, asked: AskedQuestion) -> Result<Suggestion, Rejection> {
    let prepared = answerable_question(retriever, &asked.question)?;
    let first = prepared
        .evidence
        .first()
        .ok_or(Rejection::Declined)?
        .clone();
    if asked
        .article
        .as_ref()
        .is_some_and(|a| a != &first.article_id)
    {
        return Err(Rejection::EvidenceElsewhere);
    }
    if super::premise::misplaced(&asked.question, &first.quote).is_some() {
        return Err(Rejection::Misplaced);
    }
    Ok(Suggestion {
        question: asked.question.clone(),
        source: Source::Reader,
        article_id: first.article_id.clone(),
        sentence: first.highlight.clone(),
        focus: asked.question,
        answer: compose(retriever.config(), prepared, Draft::default()),
    })
}
