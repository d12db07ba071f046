//! A result from the prepared evidence and the model's draft: the draft checked against the
//! evidence, the answer cited. Related questions are added by the [`super::Answerer`].
use super::config::AnswerConfig;
use super::draft::Draft;
use super::result::{AnswerResult, Timings, TokenCounts};
use super::retriever::Prepared;
use super::{check, question_kind, DECLINE_TEXT};

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
            // A yes-or-no question the reader could not settle, whose best sentence holds
            // its meaning, is answered with that sentence: the reader judges from what the
            // article says ("Is Mariupol negotiable for Russia?" → "… the strategic port of
            // Mariupol are non-negotiable …"), where "the articles don't say" would be wrong.
            let settled_by_quote = checked.fallback
                && !checked.text.is_empty()
                && question_kind::is_yes_no(&prepared.question)
                && config.best_sentence_holds_meaning(prepared.similarity);
            if checked.reader_declined && config.reader_declines && !settled_by_quote {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::testing::small_index;
    use crate::answer::{AnswerRequest, Retriever};

    /// The flow's result when the phrase reader replies "not stated" to `question`, whose
    /// best sentence comes to the cosine `similarity` (the small index has no vectors: it is
    /// set by hand).
    fn not_stated(question: &str, similarity: Option<f32>) -> AnswerResult {
        let (_dir, index) = small_index();
        let config = AnswerConfig::for_model("qwen2.5-coder-1.5b-instruct");
        let retriever = Retriever::new(index, config.clone());
        let mut prepared = retriever.prepare(&AnswerRequest::new(question)).unwrap();
        assert!(prepared.decline.is_none(), "{prepared:?}");
        prepared.similarity = similarity;
        let draft = Draft {
            text: "not stated".to_string(),
            ..Draft::default()
        };
        compose(&config, prepared, draft)
    }

    #[test]
    fn a_yes_or_no_question_the_reader_cannot_settle_is_answered_with_its_best_sentence() {
        let question = "Is General Zaluzhny still the commander?";
        let quoted = not_stated(question, Some(0.8));
        assert!(!quoted.declined && quoted.quoted_evidence, "{quoted:?}");
        assert!(
            quoted.answer.contains("Syrsky replaced"),
            "{}",
            quoted.answer
        );
        assert_eq!(quoted.citations.len(), 1);

        // Not near enough in meaning, or without vectors: the reader's "not stated" declines.
        for similarity in [Some(0.5), None] {
            let declined = not_stated(question, similarity);
            assert!(declined.declined, "{declined:?}");
            assert_eq!(declined.decline_reason.as_deref(), Some(READER_DECLINE));
        }
    }

    #[test]
    fn a_question_asking_for_a_phrase_is_still_declined_on_not_stated() {
        let declined = not_stated("Who was the commander before General Syrsky?", Some(0.8));
        assert!(declined.declined, "{declined:?}");
    }
}
