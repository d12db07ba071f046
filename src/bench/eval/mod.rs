//! `eval`: the answer flow on a SQuAD-format question set. Accuracy of answers and
//! evidence, abstention on unanswerable and off-topic questions, and latency; the summary is
//! made in [`report`].
mod report;

use super::conversation::{self, Conversation, ConversationReport, TurnOutcome};
use super::metrics;
use super::retrieval::{BenchError, Question};

use crate::answer::{citations, AnswerRequest, Answerer, Retriever};
use crate::corpus::{self, ChunkConfig, Corpus};
use crate::index::{self, IndexOptions, SearchIndex};
use crate::llm::{ChatMessage, Role};
use crate::progress::{Progress, Unit};
use crate::text;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use report::summarise;
pub use report::{EvalReport, OwnWordsReport};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Corpus(#[from] crate::corpus::CorpusError),
    #[error(transparent)]
    Answer(#[from] crate::answer::AnswerError),
    #[error("writing per-question results: {0}")]
    Io(#[from] std::io::Error),
}

/// How to run the evaluation.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Sample this many questions (all when `None`).
    pub limit: Option<usize>,
    pub seed: u64,
    /// Only retrieval, evidence and the decision: no model calls (fast, for calibration).
    pub no_generate: bool,
    /// How passages are cut (for the indexes built with one article left out).
    pub chunking: ChunkConfig,
    pub progress: Progress,
    /// A second set, questions put in a reader's own words, asked of the same index and
    /// reported apart (those about articles the corpus does not hold are left out).
    pub own_words: Vec<Question>,
    /// Conversations whose follow-ups are asked with the flow's own earlier answers as
    /// history, and reported apart.
    pub conversations: Vec<Conversation>,
}

/// One question's outcome, written as a JSONL line.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionOutcome {
    pub id: String,
    pub question: String,
    /// The question as the reader read it (a follow-up's pronouns resolved).
    pub read_as: String,
    pub answerable: bool,
    pub gold: Vec<String>,
    pub answer: String,
    pub draft: String,
    pub evidence: Vec<String>,
    pub declined: bool,
    pub decline_reason: Option<String>,
    pub coverage: f32,
    /// The best cosine between the question and a retrieved sentence (with vectors).
    pub similarity: Option<f32>,
    /// The best cosine between the question and a retrieved passage's whole text.
    pub passage_similarity: Option<f32>,
    pub sentence_coverage: f32,
    pub answer_contains: bool,
    pub evidence_contains: bool,
    pub token_f1: f64,
    pub retrieved_at_3: bool,
    pub quoted_evidence: bool,
    pub related: Vec<String>,
    pub total_ms: f64,
}

fn sample(questions: &[Question], limit: Option<usize>, seed: u64) -> Vec<Question> {
    let mut qs = questions.to_vec();
    if let Some(n) = limit {
        if n < qs.len() {
            qs.shuffle(&mut StdRng::seed_from_u64(seed));
            qs.truncate(n);
        }
    }
    qs
}

fn build(
    corpus: &Corpus,
    options: &IndexOptions,
    reuse: Option<&SearchIndex>,
) -> Result<(tempfile::TempDir, SearchIndex), EvalError> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path().join("index");
    let previous = reuse.and_then(|i| i.vectors());
    let index = index::build_at_reusing(corpus, &dir, options, previous)?;
    Ok((scratch, index))
}

/// Runs the evaluation of `answerer` (assembled over `corpus_dir`, with the suggestions to
/// score, if any); per-question outcomes go to `out` as JSONL.
pub fn run(
    corpus_dir: &Path,
    questions: &[Question],
    answerer: &Answerer,
    options: &EvalOptions,
    out: &mut dyn Write,
) -> Result<EvalReport, EvalError> {
    let corpus = corpus::read_corpus(corpus_dir)?;
    let sampled = sample(questions, options.limit, options.seed);
    let retriever = answerer.retriever().clone();
    let model = answerer.model().clone();
    let index_options = IndexOptions {
        chunking: options.chunking.clone(),
        progress: Progress::silent(),
        embedder: retriever.embedder().cloned(),
    };
    let outcomes = ask_all(&sampled, &retriever, answerer, options, "answering", out)?;
    let files: std::collections::HashSet<String> = corpus
        .articles
        .iter()
        .map(|a| a.path.to_string_lossy().to_string())
        .collect();
    let own: Vec<Question> = options
        .own_words
        .iter()
        .filter(|q| files.contains(&q.article))
        .cloned()
        .collect();
    let own_outcomes = ask_all(&own, &retriever, answerer, options, "own words", out)?;
    let conversations = converse(&files, &retriever, answerer, options, out)?;

    // Off-topic: each article's answerable questions, asked of an index built without it.
    let mut off_total = 0;
    let mut off_declined = 0;
    if corpus.articles.len() > 1 {
        let mut progress = options.progress.task(
            "leave-one-out",
            Some(corpus.articles.len() as u64),
            Unit::Items,
        );
        for left_out in &corpus.articles {
            let file = left_out.path.to_string_lossy().to_string();
            let theirs: Vec<&Question> = sampled
                .iter()
                .filter(|q| q.answerable && q.article == file)
                .collect();
            if theirs.is_empty() {
                progress.advance(1);
                continue;
            }
            let rest = Corpus {
                articles: corpus
                    .articles
                    .iter()
                    .filter(|a| a.id != left_out.id)
                    .cloned()
                    .collect(),
                skipped: Vec::new(),
            };
            let (_scratch, index) = build(&rest, &index_options, Some(retriever.index()))?;
            let without = Retriever::new(Arc::new(index), retriever.config().clone())
                .with_embedder(retriever.embedder().cloned());
            for q in theirs {
                let request = AnswerRequest::new(q.question.as_str());
                off_total += 1;
                let prepared = without.prepare(&request)?;
                // Declined before the model, or (with the model, when the reader's "not
                // stated" declines) by the reader: only then is the model asked.
                let ask_reader = !options.no_generate && retriever.config().reader_declines;
                let declined = if prepared.decline.is_some() || !ask_reader {
                    prepared.decline.is_some()
                } else {
                    crate::answer::grounded_answer(
                        &without,
                        model.as_ref(),
                        &request,
                        None,
                        &mut |_| true,
                    )?
                    .declined
                };
                off_declined += usize::from(declined);
                let line = serde_json::json!({
                    "id": q.id,
                    "offtopic": true,
                    "question": q.question,
                    "declined": declined,
                    "declined_before_model": prepared.decline.is_some(),
                    "similarity": prepared.similarity,
                    "passage_similarity": prepared.passage_similarity,
                    "coverage": prepared.coverage,
                    "sentence_coverage": prepared.sentence_coverage,
                });
                writeln!(out, "{line}")?;
            }
            progress.advance(1);
        }
    }
    let mut report = summarise(
        &outcomes,
        &own_outcomes,
        &retriever,
        answerer,
        options,
        (off_declined, off_total),
    )?;
    report.conversations = conversations;
    Ok(report)
}

/// Asks each conversation's turns in order, each with the earlier questions and the flow's
/// own answers as history; `None` when no conversation is about an article of the corpus.
fn converse(
    files: &std::collections::HashSet<String>,
    retriever: &Retriever,
    answerer: &Answerer,
    options: &EvalOptions,
    out: &mut dyn Write,
) -> Result<Option<ConversationReport>, EvalError> {
    let ours: Vec<&Conversation> = options
        .conversations
        .iter()
        .filter(|c| files.contains(&c.article))
        .collect();
    if ours.is_empty() {
        return Ok(None);
    }
    let mut progress = options
        .progress
        .task("conversations", Some(ours.len() as u64), Unit::Items);
    let mut turns = Vec::new();
    for c in &ours {
        let mut history: Vec<ChatMessage> = Vec::new();
        for (i, t) in c.turns.iter().enumerate() {
            let q = Question {
                id: format!("{}#{}", c.id, i + 1),
                question: t.question.clone(),
                answerable: t.answerable,
                answers: t.answers.clone(),
                article: c.article.clone(),
                paragraph: 0,
            };
            let o = ask_one(&q, &history, retriever, answerer, options)?;
            writeln!(out, "{}", serde_json::to_string(&o).unwrap_or_default())?;
            turns.push(TurnOutcome {
                first: i == 0,
                answerable: t.answerable,
                declined: o.declined,
                answer_contains: o.answer_contains,
                evidence_contains: o.evidence_contains,
            });
            history.push(ChatMessage::user(t.question.clone()));
            history.push(ChatMessage::new(Role::Assistant, o.answer));
        }
        progress.advance(1);
    }
    Ok(Some(conversation::summarise(ours.len(), &turns)))
}

/// Asks every question of `questions`, writing each outcome to `out`.
fn ask_all(
    questions: &[Question],
    retriever: &Retriever,
    answerer: &Answerer,
    options: &EvalOptions,
    task: &str,
    out: &mut dyn Write,
) -> Result<Vec<QuestionOutcome>, EvalError> {
    let mut progress = options
        .progress
        .task(task, Some(questions.len() as u64), Unit::Items);
    let mut outcomes = Vec::with_capacity(questions.len());
    for q in questions {
        let outcome = ask_one(q, &[], retriever, answerer, options)?;
        writeln!(
            out,
            "{}",
            serde_json::to_string(&outcome).unwrap_or_default()
        )?;
        outcomes.push(outcome);
        progress.advance(1);
    }
    Ok(outcomes)
}

/// Asks one question (after `history`) and scores the result against its gold answers.
fn ask_one(
    q: &Question,
    history: &[ChatMessage],
    retriever: &Retriever,
    answerer: &Answerer,
    options: &EvalOptions,
) -> Result<QuestionOutcome, EvalError> {
    let request = AnswerRequest {
        question: q.question.clone(),
        history: history.to_vec(),
        article: None,
    };
    let prepared = retriever.prepare(&request)?;
    let (coverage, similarity) = (prepared.coverage, prepared.similarity);
    let passage_similarity = prepared.passage_similarity;
    let sentence_coverage = prepared.sentence_coverage;
    let result = if options.no_generate {
        // Without the model the "answer" is what the fallback would quote.
        answerer.answer_without_model(&request)?
    } else {
        answerer.ask(&request)?
    };
    let hits = retriever.search(&result.query, 3, None)?;
    let retrieved_at_3 = q
        .answers
        .iter()
        .any(|g| hits.iter().any(|h| text::contains_normalised(&h.text, g)));
    let evidence: Vec<String> = result.evidence.iter().map(|e| e.quote.clone()).collect();
    let answer_contains = !result.declined
        && q.answers
            .iter()
            .any(|g| text::contains_normalised(&result.answer, g));
    let evidence_contains = !result.declined
        && q.answers.iter().any(|g| {
            text::contains_normalised(&result.answer, g)
                || evidence.iter().any(|e| text::contains_normalised(e, g))
        });
    let token_f1 = if result.declined {
        0.0
    } else {
        q.answers
            .iter()
            .map(|g| metrics::token_f1(&citations::without_citations(&result.answer), g))
            .fold(0.0, f64::max)
    };
    Ok(QuestionOutcome {
        id: q.id.clone(),
        question: q.question.clone(),
        read_as: crate::answer::query::for_reader(&q.question, history),
        answerable: q.answerable,
        gold: q.answers.clone(),
        answer: result.answer.clone(),
        draft: result.draft.clone(),
        evidence,
        declined: result.declined,
        decline_reason: result.decline_reason.clone(),
        coverage,
        similarity,
        passage_similarity,
        sentence_coverage,
        answer_contains,
        evidence_contains,
        token_f1,
        retrieved_at_3,
        quoted_evidence: result.quoted_evidence,
        related: result.related.clone(),
        total_ms: result.timings.total_ms,
    })
}
