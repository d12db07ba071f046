//! The eval's summary: the figures of the answers, the own-words set, abstention, related
//! questions and latency, from the per-question outcomes.
use super::{EvalError, EvalOptions, QuestionOutcome};
use crate::answer::{related, AnswerRequest, Answerer, Retriever};
use crate::bench::conversation::ConversationReport;
use crate::text;
use serde::Serialize;

/// The summary figures.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub questions: usize,
    pub answerable: usize,
    pub unanswerable: usize,
    pub generated: bool,
    /// Share of answerable questions whose short answer contains a gold span.
    pub answer_contains: f64,
    /// Share of answerable questions whose answer or evidence contains a gold span.
    pub evidence_contains: f64,
    pub token_f1: f64,
    pub recall_at_3: f64,
    pub unanswerable_declined: f64,
    pub answerable_declined: f64,
    /// Answerable questions asked of an index without their article, declined.
    pub offtopic_declined: f64,
    pub offtopic_questions: usize,
    /// Share of answers that quote the evidence because the draft did not hold up.
    pub quoted_evidence: f64,
    /// Of the related questions shown after answers: well-formed, answerable (the flow
    /// does not decline them), and the share of lists repeating a question.
    pub related_wellformed: Option<f64>,
    pub related_answerable: Option<f64>,
    pub related_repeats: Option<f64>,
    /// Of those shown: answered ahead of time with an answer whose content words are all in
    /// its evidence or its question; made from a generic template; and the share of lists
    /// holding two questions (or one and the question asked) that ask the same thing in other
    /// words (MiniLM cosine at the verification's near-duplicate threshold).
    pub related_entailed: Option<f64>,
    pub related_generic: Option<f64>,
    pub related_near_duplicates: Option<f64>,
    pub related_shown: usize,
    /// Suggestions prepared, per source: candidates and verified.
    pub related_yield: Option<crate::answer::related::Yield>,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    /// The own-words set's figures, when one was given.
    pub own_words: Option<OwnWordsReport>,
    /// The conversations' figures, when a set was given.
    pub conversations: Option<ConversationReport>,
}

/// How the questions in a reader's own words fared.
#[derive(Debug, Clone, Serialize)]
pub struct OwnWordsReport {
    pub questions: usize,
    pub answer_contains: f64,
    pub evidence_contains: f64,
    pub token_f1: f64,
    pub recall_at_3: f64,
    pub answerable_declined: f64,
}

pub(super) fn share(count: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 / of as f64
    }
}

fn mean_f1(outcomes: &[&QuestionOutcome]) -> f64 {
    if outcomes.is_empty() {
        0.0
    } else {
        outcomes.iter().map(|o| o.token_f1).sum::<f64>() / outcomes.len() as f64
    }
}

pub(super) fn summarise(
    outcomes: &[QuestionOutcome],
    own_outcomes: &[QuestionOutcome],
    retriever: &Retriever,
    answerer: &Answerer,
    options: &EvalOptions,
    (off_declined, off_total): (usize, usize),
) -> Result<EvalReport, EvalError> {
    // Related questions shown after the answers.
    let (mut shown, mut wellformed, mut answerable_related, mut lists, mut repeating) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut entailed, mut generic, mut near_lists) = (0usize, 0usize, 0usize);
    if let Some(store) = answerer.suggestions() {
        for o in outcomes.iter().filter(|o| !o.related.is_empty()) {
            lists += 1;
            let norms: Vec<String> = o.related.iter().map(|q| text::normalise(q)).collect();
            let unique: std::collections::HashSet<&String> = norms.iter().collect();
            if unique.len() < norms.len() || norms.contains(&text::normalise(&o.question)) {
                repeating += 1;
            }
            if let Some(embedder) = retriever.embedder() {
                let mut texts: Vec<&str> = vec![o.question.as_str()];
                texts.extend(o.related.iter().map(String::as_str));
                let vectors: Vec<Vec<f32>> = texts
                    .iter()
                    .filter_map(|t| embedder.embed_one(t).ok())
                    .collect();
                let near = (0..vectors.len()).any(|i| {
                    (i + 1..vectors.len()).any(|j| {
                        crate::embed::cosine(&vectors[i], &vectors[j]) >= related::NEAR_DUPLICATE
                    })
                });
                near_lists += usize::from(near);
            }
            for q in &o.related {
                shown += 1;
                if let Some(s) = store.find(q) {
                    generic += usize::from(s.source == related::Source::Template);
                    let mut sources: Vec<&str> =
                        s.answer.evidence.iter().map(|e| e.quote.as_str()).collect();
                    sources.push(q);
                    let supported = !s.answer.declined
                        && crate::answer::support::unsupported_words(&s.answer.answer, &sources)
                            .is_empty();
                    entailed += usize::from(supported || s.source == related::Source::Reader);
                }
                wellformed += usize::from(related::well_formed(q).is_ok());
                let request = AnswerRequest::new(q.as_str());
                let p = retriever.prepare(&request)?;
                answerable_related += usize::from(p.decline.is_none());
            }
        }
    }
    let answerable: Vec<&QuestionOutcome> = outcomes.iter().filter(|o| o.answerable).collect();
    let unanswerable: Vec<&QuestionOutcome> = outcomes.iter().filter(|o| !o.answerable).collect();
    let a = answerable.len();
    let latencies: Vec<f64> = outcomes.iter().map(|o| o.total_ms).collect();
    Ok(EvalReport {
        questions: outcomes.len(),
        answerable: a,
        unanswerable: unanswerable.len(),
        generated: !options.no_generate,
        answer_contains: share(answerable.iter().filter(|o| o.answer_contains).count(), a),
        evidence_contains: share(answerable.iter().filter(|o| o.evidence_contains).count(), a),
        token_f1: mean_f1(&answerable),
        recall_at_3: share(answerable.iter().filter(|o| o.retrieved_at_3).count(), a),
        unanswerable_declined: share(
            unanswerable.iter().filter(|o| o.declined).count(),
            unanswerable.len(),
        ),
        answerable_declined: share(answerable.iter().filter(|o| o.declined).count(), a),
        offtopic_declined: share(off_declined, off_total),
        offtopic_questions: off_total,
        quoted_evidence: share(
            answerable
                .iter()
                .filter(|o| o.quoted_evidence && !o.declined)
                .count(),
            a,
        ),
        related_wellformed: (shown > 0).then(|| share(wellformed, shown)),
        related_answerable: (shown > 0).then(|| share(answerable_related, shown)),
        related_repeats: (lists > 0).then(|| share(repeating, lists)),
        related_entailed: (shown > 0).then(|| share(entailed, shown)),
        related_generic: (shown > 0).then(|| share(generic, shown)),
        related_near_duplicates: (lists > 0).then(|| share(near_lists, lists)),
        related_shown: shown,
        related_yield: answerer.suggestions().map(|s| s.yields.clone()),
        latency_p50_ms: crate::bench::percentile(&latencies, 50.0),
        latency_p90_ms: crate::bench::percentile(&latencies, 90.0),
        latency_p99_ms: crate::bench::percentile(&latencies, 99.0),
        own_words: (!own_outcomes.is_empty()).then(|| {
            let all: Vec<&QuestionOutcome> = own_outcomes.iter().collect();
            let n = all.len();
            OwnWordsReport {
                questions: n,
                answer_contains: share(all.iter().filter(|o| o.answer_contains).count(), n),
                evidence_contains: share(all.iter().filter(|o| o.evidence_contains).count(), n),
                token_f1: mean_f1(&all),
                recall_at_3: share(all.iter().filter(|o| o.retrieved_at_3).count(), n),
                answerable_declined: share(all.iter().filter(|o| o.declined).count(), n),
            }
        }),
        conversations: None,
    })
}
