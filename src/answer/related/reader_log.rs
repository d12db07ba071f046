//! Readers' answered questions, one JSON a line in the data folder: the question, the article
//! it was asked about and when, never its answer. At the next start each is verified again
//! against the corpus as it is (well-formed, inventing nothing, not declined) and offered to
//! later readers if it holds; clicked, it is answered by the current pipeline like any typed
//! question, so a first answer, right or wrong, is never served again.
//!
//! The log is bounded: it rotates at [`READER_LOG_BYTES`] (one older generation kept as
//! `asked.jsonl.1`), only its newest [`READER_QUESTIONS`] questions are read, and questions
//! older than [`READER_LOG_MAX_AGE_DAYS`] are ignored.
use super::verify::{answerable_question, well_formed, Rejection};
use super::{Source, Suggestion, SuggestionStore, Yield};
use crate::answer::{compose, text, AnswerRequest, AnswerResult, Draft, Retriever};
use crate::logfile::BoundedLog;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// File (in the data folder) where answered reader questions are kept.
pub const READER_LOG: &str = "asked.jsonl";

/// How many of the latest reader questions are considered.
pub const READER_QUESTIONS: usize = 200;

/// Size at which the log rotates.
pub const READER_LOG_BYTES: u64 = 4 << 20;

/// Questions older than this are no longer offered.
pub const READER_LOG_MAX_AGE_DAYS: u64 = 30;

/// A reader's question that the flow answered, as logged (older logs also hold the answer,
/// which is ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Asked {
    question: String,
    /// The article it was asked about, when the reader was on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    article: Option<String>,
    /// Unix seconds when it was asked (0 in logs written before this field).
    #[serde(default)]
    at: u64,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The log of readers' answered questions.
#[derive(Debug, Clone)]
pub struct ReaderLog {
    path: PathBuf,
    log: BoundedLog,
}

impl ReaderLog {
    pub fn new(path: impl Into<PathBuf>) -> ReaderLog {
        let path = path.into();
        ReaderLog {
            log: BoundedLog::new(&path, READER_LOG_BYTES),
            path,
        }
    }

    /// The log in a data folder.
    pub fn in_data_dir(data: &Path) -> ReaderLog {
        ReaderLog::new(data.join(READER_LOG))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs a reader's question when it makes a good suggestion for others: answered (not
    /// declined), asked without history (a follow-up means nothing on its own), not itself a
    /// stored suggestion, and well-formed. `Ok(true)` when it was logged.
    pub fn record(&self, request: &AnswerRequest, result: &AnswerResult) -> std::io::Result<bool> {
        if result.declined
            || result.precomputed
            || result.cached
            || !request.history.is_empty()
            || well_formed(&result.question).is_err()
        {
            return Ok(false);
        }
        let line = serde_json::to_string(&Asked {
            question: result.question.clone(),
            article: request.article.clone(),
            at: now_secs(),
        })
        .map_err(std::io::Error::other)?;
        self.log.append(&line)?;
        Ok(true)
    }

    /// The latest logged questions that are recent enough, newest first.
    fn latest(&self) -> Vec<Asked> {
        let log = match self.log.tail() {
            Ok(log) => log,
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", self.path.display());
                return Vec::new();
            }
        };
        let oldest = now_secs().saturating_sub(READER_LOG_MAX_AGE_DAYS * 24 * 3600);
        log.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Asked>(l).ok())
            .filter(|a| a.at == 0 || a.at >= oldest)
            .take(READER_QUESTIONS)
            .collect()
    }
}

impl SuggestionStore {
    /// Adds readers' earlier answered questions (from the log) as suggestions, each verified
    /// again against the current corpus: well-formed, nothing invented, not declined, its
    /// evidence in the article it was asked about. No model call is made: they are answered
    /// when clicked.
    pub fn add_reader_questions(&mut self, retriever: &Retriever, log: &ReaderLog) {
        let mut seen: HashSet<String> = self.all().map(|s| text::normalise(&s.question)).collect();
        let mut yields = Yield::default();
        for asked in log.latest() {
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
fn verify_reader(retriever: &Retriever, asked: Asked) -> Result<Suggestion, Rejection> {
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
    Ok(Suggestion {
        question: asked.question.clone(),
        source: Source::Reader,
        article_id: first.article_id.clone(),
        sentence: first.highlight.clone(),
        focus: asked.question,
        answer: compose(retriever.config(), prepared, Draft::default()),
    })
}
