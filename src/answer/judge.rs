//! The reader judging an answer against its evidence: "According to the text, is this answer
//! true or false?". Used to check a suggestion's stored answer (its entailment).
//!
//! Measured on Qwen2.5-Coder-0.5B: asked "does the text answer the question? yes or no" it
//! says no to nearly everything, answerable or not; asked whether a given answer is true
//! according to the text, it tells a right answer from a wrong one.
use super::AnswerError;
use crate::llm::{ChatMessage, GenerateParams, LanguageModel};

/// Tokens of the verdict read ("The answer "King Charles III" is true." fits).
const VERDICT_TOKENS: usize = 16;

/// Whether the reader says `text` makes `answer` a true answer to `question`: its reply says
/// "true" before it says "false" (anything else is no).
pub fn reader_confirms(
    model: &dyn LanguageModel,
    question: &str,
    answer: &str,
    text: &str,
) -> Result<bool, AnswerError> {
    let answer = plain_answer(answer);
    if answer.is_empty() {
        return Ok(false);
    }
    let prompt = format!(
        "Text: {text}\n\nQuestion: {}\nAnswer: {answer}\n\nAccording to the text, is this answer true or false?",
        question.trim()
    );
    let params = GenerateParams {
        max_tokens: VERDICT_TOKENS,
        ..GenerateParams::default()
    };
    let (reply, _) = model
        .generate(vec![ChatMessage::user(prompt)], params)?
        .collect_blocking()?;
    Ok(says_true(&reply))
}

/// The answer without its citation markers and final period.
fn plain_answer(answer: &str) -> String {
    crate::answer::citations::without_citations(answer)
        .trim()
        .trim_end_matches('.')
        .trim()
        .to_string()
}

fn says_true(reply: &str) -> bool {
    let words = crate::text::words(reply);
    let t = words.iter().position(|w| w == "true" || w == "correct");
    let f = words
        .iter()
        .position(|w| w == "false" || w == "incorrect" || w == "not");
    match (t, f) {
        (Some(t), Some(f)) => t < f,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_read_from_the_first_word_that_gives_one() {
        assert!(says_true(
            "The answer \"King Charles III\" is true. The text"
        ));
        assert!(says_true("True."));
        assert!(!says_true("False. The text does not say"));
        assert!(!says_true("This answer is false. It is not true"));
        assert!(!says_true("The text does not say whether it is true"));
        assert!(!says_true("Maybe."));
    }

    #[test]
    fn the_answer_is_judged_without_its_citations() {
        assert_eq!(plain_answer("General Syrsky [1]."), "General Syrsky");
        assert_eq!(plain_answer("In 911 [1][2]"), "In 911");
        assert_eq!(plain_answer("[1]"), "");
    }
}
