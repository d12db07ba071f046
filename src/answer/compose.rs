//! A result from the prepared evidence and the model's draft: the draft checked against the
//! evidence, the answer cited. Related questions are added by the [`super::Answerer`].
use super::config::AnswerConfig;
use super::draft::Draft;
use super::result::{AnswerResult, Timings, TokenCounts};
use super::retriever::Prepared;
use super::{check, DECLINE_TEXT};

/// Why a question is declined when the reader judged that its evidence does not answer it.
pub const READER_DECLINE: &str = "the reader found no answer in the evidence";

/// Builds the result (an empty draft when the model was not called: a declined question, or
/// one answered by quoting its evidence).
pub fn compose(config: &AnswerConfig, prepared: Prepared, draft: Draft) -> AnswerResult {
    let tokens = draft
        .summary
        .as_ref()
        .map(|s| TokenCounts {
            prompt: s.prompt_tokens,
            completion: s.completion_tokens,
        })
        .unwrap_or_default();
    let mut decline = prepared.decline.clone();
    let (answer, citations, revised, quoted_evidence) = match &decline {
        Some(_) => (DECLINE_TEXT.to_string(), Vec::new(), false, false),
        None => {
            let checked = check::check_with(
                &draft.text,
                &prepared.read_question,
                &prepared.evidence,
                config.answer_sentences,
                config.answer_words_in_evidence,
            );
            if checked.reader_declined && config.reader_declines {
                decline = Some(READER_DECLINE.to_string());
                (DECLINE_TEXT.to_string(), Vec::new(), false, false)
            } else {
                let citations = checked
                    .cited
                    .iter()
                    .filter_map(|n| prepared.evidence.get(n - 1))
                    .cloned()
                    .collect();
                let revised = checked.text.trim() != draft.text.trim();
                (checked.text, citations, revised, checked.fallback)
            }
        }
    };
    AnswerResult {
        question: prepared.question,
        query: prepared.query,
        answer,
        citations,
        related: Vec::new(),
        declined: decline.is_some(),
        decline_reason: decline,
        draft: draft.text,
        revised,
        quoted_evidence,
        precomputed: false,
        cached: false,
        degraded: false,
        busy: false,
        timings: Timings {
            retrieval_ms: prepared.retrieval_ms,
            ttft_ms: draft.ttft_ms,
            total_ms: crate::millis(prepared.started.elapsed()),
        },
        tokens,
        evidence: prepared.evidence,
    }
    .shown_and_cited(prepared.shown)
}

/// The result when the model failed: the best evidence quoted with its citation, marked
/// `degraded`.
pub fn degraded(config: &AnswerConfig, prepared: Prepared, draft: Draft) -> AnswerResult {
    let streamed = !draft.text.is_empty();
    let mut result = compose(
        config,
        prepared,
        Draft {
            text: String::new(),
            ..draft
        },
    );
    result.degraded = true;
    // Whatever was streamed is replaced.
    result.revised = streamed;
    result
}
