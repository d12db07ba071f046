//! Readers' answered questions, one JSON a line in the data folder. At the next start each
//! is verified again against the corpus as it is, and offered to later readers if it holds.
use super::verify::{answerable_question, well_formed, Rejection};
use super::{Source, Suggestion, SuggestionStore, Yield};
use crate::answer::{text, AnswerRequest, AnswerResult, Retriever};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File (in the data folder) where answered reader questions are kept.
pub const READER_LOG: &str = "asked.jsonl";

/// How many of the latest reader questions are considered.
const READER_QUESTIONS: usize = 200;

/// A reader's question that the flow answered, as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Asked {
    question: String,
    answer: AnswerResult,
}

/// The log of readers' answered questions.
#[derive(Debug, Clone)]
pub struct ReaderLog {
    path: PathBuf,
}

impl ReaderLog {
    pub fn new(path: impl Into<PathBuf>) -> ReaderLog {
        ReaderLog { path: path.into() }
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
        let mut line = serde_json::to_string(&Asked {
            question: result.question.clone(),
            answer: result.without_related(),
        })
        .map_err(std::io::Error::other)?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // One write of the whole line: concurrent appends do not interleave.
        file.write_all(line.as_bytes())?;
        Ok(true)
    }

    /// The latest logged questions, newest first.
    fn latest(&self) -> Vec<Asked> {
        let Ok(log) = std::fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        log.lines()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(READER_QUESTIONS)
            .collect()
    }
}

impl SuggestionStore {
    /// Adds readers' earlier answered questions (from the log) as suggestions, each verified
    /// again against the current corpus: well-formed, nothing invented, not declined, and its
    /// stored answer still quoting the articles as they are. No model call is made.
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

fn verify_reader(retriever: &Retriever, asked: Asked) -> Result<Suggestion, Rejection> {
    answerable_question(retriever, &asked.question)?;
    // The stored answer must still quote the articles exactly where it says it does.
    let index = retriever.index();
    let still_true = !asked.answer.citations.is_empty()
        && asked.answer.citations.iter().all(|c| {
            index
                .article(&c.article_id)
                .and_then(|a| a.text.get(c.highlight.clone()))
                .is_some_and(|t| t == c.quote)
        });
    if !still_true {
        return Err(Rejection::StaleAnswer);
    }
    let first = &asked.answer.citations[0];
    Ok(Suggestion {
        question: asked.question.clone(),
        source: Source::Reader,
        article_id: first.article_id.clone(),
        sentence: first.highlight.clone(),
        focus: asked.question.clone(),
        answer: asked.answer,
    })
}
