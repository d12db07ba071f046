//! Related questions: suggestions a reader would ask and the corpus answers, prepared ahead
//! of time (once per article version, cached on disk), so clicking one costs no model time.
//!
//! - [`candidates`]: questions proposed for a sentence, from templates on its names and from
//!   the model (asked for a question whose answer is a given span).
//! - [`verify`]: a candidate is kept only when well-formed, inventing nothing, and answered
//!   by the flow from the very sentence it was made from.
//! - [`premise`]: a candidate must not place a name where its source sentence does not.
//! - [`store`]: the verified suggestions of a corpus with their stored answers, and the
//!   on-disk cache.
//! - [`rank`]: which suggestions an article lists and which follow an answer.
//! - [`reader_log`]: readers' answered questions, offered to later readers once verified.
pub mod candidates;
pub mod premise;
pub mod rank;
pub mod reader_log;
pub mod span;
pub mod store;
pub mod verify;

pub use reader_log::{suggestable, AskedQuestion, QuestionLog};
pub use store::{StoreOptions, SuggestionStore};
pub use verify::{invented, well_formed, Rejection, NEAR_DUPLICATE};

use super::AnswerResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// Where a suggestion came from. Template and model suggestions are answered ahead of time
/// and served from their stored answers; readers' questions are answered when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Template,
    Model,
    /// The model's question joining two sentences of an article far apart.
    Linked,
    Reader,
}

impl Source {
    /// Written by the model (for one sentence or joining two): specific questions, shown
    /// before the templates.
    pub fn is_written(self) -> bool {
        matches!(self, Source::Model | Source::Linked)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Template => "template",
            Source::Model => "model",
            Source::Linked => "linked",
            Source::Reader => "reader",
        }
    }
}

/// A verified question with its answer, computed ahead of time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suggestion {
    pub question: String,
    pub source: Source,
    pub article_id: String,
    /// The sentence the question was made from (byte range in the article).
    pub sentence: Range<usize>,
    /// The entity or span the question is about (no two suggestions shown share one).
    pub focus: String,
    pub answer: AnswerResult,
}

impl Suggestion {
    /// A template that names its subject and nothing more ("What does the article say about
    /// Kursk?"): grounded, but no reader's question. At most [`rank::MAX_GENERIC`] are shown
    /// in one list.
    pub fn is_generic(&self) -> bool {
        self.source == Source::Template && self.question.starts_with(GENERIC_OPENING)
    }
}

/// How a generic template question opens.
pub const GENERIC_OPENING: &str = "What does the article say about ";

/// How the candidates of one source fared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceYield {
    pub candidates: usize,
    /// Verified (before each passage's best are kept).
    pub kept: usize,
    pub rejected: BTreeMap<Rejection, usize>,
}

/// How each source's candidates fared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Yield {
    pub sources: BTreeMap<Source, SourceYield>,
}

impl Yield {
    pub fn candidate(&mut self, source: Source) {
        self.sources.entry(source).or_default().candidates += 1;
    }

    pub fn kept(&mut self, source: Source) {
        self.sources.entry(source).or_default().kept += 1;
    }

    pub fn rejected(&mut self, source: Source, why: Rejection) {
        *self
            .sources
            .entry(source)
            .or_default()
            .rejected
            .entry(why)
            .or_default() += 1;
    }

    /// Adds another tally to this one.
    pub fn add(&mut self, other: &Yield) {
        for (source, theirs) in &other.sources {
            let ours = self.sources.entry(*source).or_default();
            ours.candidates += theirs.candidates;
            ours.kept += theirs.kept;
            for (why, n) in &theirs.rejected {
                *ours.rejected.entry(*why).or_default() += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_add_up_per_source_and_reason() {
        let mut a = Yield::default();
        a.candidate(Source::Model);
        a.kept(Source::Model);
        a.candidate(Source::Template);
        a.rejected(Source::Template, Rejection::Duplicate);
        let mut b = Yield::default();
        b.add(&a);
        b.add(&a);
        assert_eq!(b.sources[&Source::Model].kept, 2);
        assert_eq!(
            b.sources[&Source::Template].rejected[&Rejection::Duplicate],
            2
        );
        // Serialised with words for keys, so JSON readers see "template", "duplicate".
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["sources"]["template"]["rejected"]["duplicate"], 2);
    }
}
