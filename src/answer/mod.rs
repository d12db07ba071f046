//! The answer pipeline, shared by the CLI and the server: resolve the question against the
//! conversation, retrieve passages, select evidence sentences, decide whether the corpus can
//! answer, generate a short cited answer from the evidence only, and check it.

pub mod check;
pub mod evidence;
pub mod prompt;
pub mod query;
pub mod related;
pub mod text;

pub use evidence::Evidence;

use crate::index::{IndexError, SearchIndex};
use crate::llm::{ChatMessage, GenEvent, GenSummary, GenerateParams, LanguageModel, LlmError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error("no article with id {0:?}")]
    UnknownArticle(String),
}

/// Settings of the pipeline. The defaults were chosen from `eval` figures.
#[derive(Debug, Clone)]
pub struct AnswerConfig {
    /// Passages retrieved by BM25.
    pub passages: usize,
    /// Evidence sentences selected and shown with the answer.
    pub evidence_sentences: usize,
    /// Of those, how many the model reads. Measured with `eval` (300 SQuAD questions): the
    /// model's short answer holds the gold span more often from the single best sentence
    /// (0.616) than from two (0.548), and sooner, while showing two sentences holds the span
    /// more often (0.870 against 0.795).
    pub model_sentences: usize,
    /// A further sentence must match at least this share as well as the best.
    pub evidence_min_ratio: f32,
    /// Below this share of the question's weight found in the two best passages, decline.
    pub min_coverage: f32,
    /// Below this share of the question's weight found in the best evidence sentence,
    /// decline: a question whose words are scattered over unrelated sentences is off topic.
    pub min_sentence_coverage: f32,
    /// Cap on new tokens of an answer.
    pub max_new_tokens: usize,
    /// Generated sentences kept after the check: the first is the answer; a small model's
    /// later sentences mostly restate it, sometimes inverted.
    pub answer_sentences: usize,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            passages: 5,
            evidence_sentences: 2,
            model_sentences: 1,
            evidence_min_ratio: 0.35,
            min_coverage: 0.4,
            min_sentence_coverage: 0.35,
            max_new_tokens: 48,
            answer_sentences: 1,
        }
    }
}

/// A question, with the conversation so far and an optional article to restrict it to.
#[derive(Debug, Clone, Default)]
pub struct AnswerRequest {
    pub question: String,
    pub history: Vec<ChatMessage>,
    pub article: Option<String>,
}

/// A citation: where an evidence sentence sits, for a page to link and highlight it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Citation {
    pub number: usize,
    pub passage_id: String,
    pub article_id: String,
    pub article_title: String,
    pub passage_text: String,
    /// Byte range of the passage inside the article text.
    pub passage_range: std::ops::Range<usize>,
    /// Byte range of the evidence sentence inside the article text (to highlight).
    pub highlight: std::ops::Range<usize>,
    /// The quoted evidence sentence.
    pub quote: String,
}

impl From<&Evidence> for Citation {
    fn from(e: &Evidence) -> Self {
        Citation {
            number: e.number,
            passage_id: e.passage_id.clone(),
            article_id: e.article_id.clone(),
            article_title: e.article_title.clone(),
            passage_text: e.passage_text.clone(),
            passage_range: e.passage_range.clone(),
            highlight: e.range.clone(),
            quote: e.text.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Timings {
    pub retrieval_ms: f64,
    /// From the request to the first streamed token (0 when the model was not called).
    pub ttft_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct TokenCounts {
    pub prompt: usize,
    pub completion: usize,
}

/// The pipeline's result.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AnswerResult {
    pub question: String,
    /// The query actually searched (the question, plus terms from the history for a follow-up).
    pub query: String,
    /// The checked short answer, with citation markers like `[1]`.
    pub answer: String,
    /// The evidence given to the model, numbered as the markers are.
    pub evidence: Vec<Evidence>,
    /// The evidence the answer cites, with locations for highlighting.
    pub citations: Vec<Citation>,
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
    pub timings: Timings,
    pub tokens: TokenCounts,
}

impl AnswerResult {
    /// The result without its follow-up suggestions (they are recomputed when shown).
    pub fn answer_without_related(&self) -> AnswerResult {
        AnswerResult {
            related: Vec::new(),
            ..self.clone()
        }
    }
}

/// What a question needs before generation: the evidence, the decision and the prompt.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub question: String,
    pub query: String,
    pub evidence: Vec<Evidence>,
    /// Why the corpus cannot answer, when it cannot.
    pub decline: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub coverage: f32,
    pub sentence_coverage: f32,
    pub retrieval_ms: f64,
    started: Instant,
}

impl Prepared {
    /// Milliseconds since the request started (for time to first token).
    pub fn elapsed_ms(&self) -> f64 {
        crate::millis(self.started.elapsed())
    }
}

/// Events of a streamed answer: the sources first, then text deltas, then the result.
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    Sources(Vec<Evidence>),
    Delta(String),
}

/// The user's questions so far, this one included: not to be suggested again.
pub fn asked_questions(request: &AnswerRequest) -> Vec<String> {
    let mut asked: Vec<String> = request
        .history
        .iter()
        .filter(|m| m.role == crate::llm::Role::User)
        .map(|m| m.content.clone())
        .collect();
    asked.push(request.question.clone());
    asked
}

pub const DECLINE_TEXT: &str =
    "The articles don't say. Try one of the questions below, which they can answer.";

/// The pipeline over one index and one model.
pub struct Answerer {
    pub index: Arc<SearchIndex>,
    pub model: Arc<dyn LanguageModel>,
    pub config: AnswerConfig,
    /// Verified suggestions with their answers, once prepared.
    pub related: Option<Arc<related::RelatedStore>>,
}

/// How many related questions follow an answer.
pub const RELATED_AFTER_ANSWER: usize = 4;

impl Answerer {
    pub fn new(index: Arc<SearchIndex>, model: Arc<dyn LanguageModel>) -> Answerer {
        Answerer {
            index,
            model,
            config: AnswerConfig::default(),
            related: None,
        }
    }

    /// Retrieval, evidence and the decision. Cheap: no model call.
    pub fn prepare(&self, request: &AnswerRequest) -> Result<Prepared, AnswerError> {
        let started = Instant::now();
        if let Some(id) = &request.article {
            if self.index.article(id).is_none() {
                return Err(AnswerError::UnknownArticle(id.clone()));
            }
        }
        let question = request.question.trim().to_string();
        let (query, _) = query::resolve(&question, &request.history);
        let hits = self
            .index
            .search(&query, self.config.passages, request.article.as_deref())?;
        let terms = evidence::query_terms(&self.index, &query);
        let evidence = evidence::select(
            &self.index,
            &terms,
            &hits,
            self.config.evidence_sentences,
            self.config.evidence_min_ratio,
        );
        // How much of what the question asks about the best passages mention at all.
        let context: String = hits
            .iter()
            .take(2)
            .map(|h| h.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let coverage = evidence::coverage(&self.index, &terms, &context);
        let sentence_coverage = evidence
            .first()
            .map(|e| evidence::coverage(&self.index, &terms, &e.text))
            .unwrap_or(0.0);
        let decline = if terms.is_empty() {
            Some("the question names nothing to look for".to_string())
        } else if evidence.is_empty() {
            Some("no passage matches the question".to_string())
        } else if coverage < self.config.min_coverage {
            Some(format!(
                "the best passages mention too little of the question ({:.0}% of its weight)",
                (coverage * 100.0).max(0.0)
            ))
        } else if sentence_coverage < self.config.min_sentence_coverage {
            Some(format!(
                "no sentence speaks to the question ({:.0}% of its weight in the best one)",
                (sentence_coverage * 100.0).max(0.0)
            ))
        } else {
            None
        };
        let read = self.config.model_sentences.max(1).min(evidence.len());
        let messages = prompt::messages(&question, &evidence[..read]);
        Ok(Prepared {
            question,
            query,
            evidence,
            decline,
            messages,
            coverage,
            sentence_coverage,
            retrieval_ms: crate::millis(started.elapsed()),
            started,
        })
    }

    pub fn generate_params(&self) -> GenerateParams {
        GenerateParams {
            max_tokens: self.config.max_new_tokens,
            stop: vec!["\n\n".to_string(), "Question:".to_string()],
            ..GenerateParams::default()
        }
    }

    /// Builds the result from the model's draft (empty when the model was not called).
    pub fn finish(
        &self,
        prepared: Prepared,
        draft: String,
        ttft_ms: f64,
        summary: Option<GenSummary>,
        asked: &[String],
    ) -> AnswerResult {
        let tokens = summary
            .map(|s| TokenCounts {
                prompt: s.prompt_tokens,
                completion: s.completion_tokens,
            })
            .unwrap_or_default();
        let (answer, citations, revised, quoted_evidence) = match &prepared.decline {
            Some(_) => (DECLINE_TEXT.to_string(), Vec::new(), false, false),
            None => {
                let checked = check::check(
                    &draft,
                    &prepared.question,
                    &prepared.evidence,
                    self.config.answer_sentences,
                );
                let citations = checked
                    .cited
                    .iter()
                    .filter_map(|n| prepared.evidence.get(n - 1))
                    .map(Citation::from)
                    .collect();
                let revised = checked.text.trim() != draft.trim();
                (checked.text, citations, revised, checked.fallback)
            }
        };
        let mut result = AnswerResult {
            question: prepared.question,
            query: prepared.query,
            answer,
            evidence: prepared.evidence,
            citations,
            related: Vec::new(),
            declined: prepared.decline.is_some(),
            decline_reason: prepared.decline,
            draft,
            revised,
            quoted_evidence,
            timings: Timings {
                retrieval_ms: prepared.retrieval_ms,
                ttft_ms,
                total_ms: crate::millis(prepared.started.elapsed()),
            },
            tokens,
            precomputed: false,
        };
        result.related = self.related_for(&result, asked);
        result
    }

    /// Follow-up suggestions for a result: near its sources, or for a declined question the
    /// best questions of the article asked about (or of the corpus).
    fn related_for(&self, result: &AnswerResult, asked: &[String]) -> Vec<String> {
        let Some(store) = &self.related else {
            return Vec::new();
        };
        if result.declined || result.evidence.is_empty() {
            let articles: Vec<&str> = match &result.evidence.first() {
                Some(e) => vec![e.article_id.as_str()],
                None => self
                    .index
                    .articles()
                    .iter()
                    .map(|a| a.id.as_str())
                    .collect(),
            };
            let pool: Vec<&related::Suggestion> = articles
                .iter()
                .flat_map(|a| store.for_article(a, RELATED_AFTER_ANSWER))
                .collect();
            return related::diverse(pool, asked, RELATED_AFTER_ANSWER)
                .into_iter()
                .map(|s| s.question.clone())
                .collect();
        }
        store.after_answer(&self.index, result, asked, RELATED_AFTER_ANSWER)
    }

    /// The stored answer of a suggested question, when this one is (asked without history,
    /// since a follow-up may mean something else).
    pub fn precomputed(&self, request: &AnswerRequest) -> Option<AnswerResult> {
        if !request.history.is_empty() {
            return None;
        }
        let store = self.related.as_ref()?;
        let s = store.find(&request.question)?;
        if let Some(a) = &request.article {
            if &s.article_id != a {
                return None;
            }
        }
        let mut result = s.answer.clone();
        result.precomputed = true;
        result.timings = Timings::default();
        let asked = asked_questions(request);
        result.related = self.related_for(&result, &asked);
        Some(result)
    }

    /// Answers from sync code, reporting sources and text deltas to `on_event` as they come.
    pub fn ask_streaming(
        &self,
        request: &AnswerRequest,
        mut on_event: impl FnMut(AnswerEvent),
    ) -> Result<AnswerResult, AnswerError> {
        if let Some(stored) = self.precomputed(request) {
            on_event(AnswerEvent::Sources(stored.evidence.clone()));
            on_event(AnswerEvent::Delta(stored.answer.clone()));
            return Ok(stored);
        }
        let asked = asked_questions(request);
        let prepared = self.prepare(request)?;
        on_event(AnswerEvent::Sources(prepared.evidence.clone()));
        if prepared.decline.is_some() {
            return Ok(self.finish(prepared, String::new(), 0.0, None, &asked));
        }
        let mut stream = self
            .model
            .generate(prepared.messages.clone(), self.generate_params())?;
        let mut draft = String::new();
        let mut ttft_ms = 0.0;
        let mut summary = None;
        while let Some(event) = stream.blocking_recv() {
            match event {
                GenEvent::Delta(d) => {
                    if draft.is_empty() {
                        ttft_ms = prepared.elapsed_ms();
                    }
                    draft.push_str(&d);
                    on_event(AnswerEvent::Delta(d));
                }
                GenEvent::Done(s) => {
                    summary = Some(s);
                    break;
                }
                GenEvent::Error(e) => return Err(AnswerError::Model(LlmError::Inference(e))),
            }
        }
        Ok(self.finish(prepared, draft, ttft_ms, summary, &asked))
    }

    /// Answers from sync code.
    pub fn ask(&self, request: &AnswerRequest) -> Result<AnswerResult, AnswerError> {
        self.ask_streaming(request, |_| {})
    }
}
