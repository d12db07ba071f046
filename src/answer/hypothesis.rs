//! A hypothetical answer: for a question in other words than the articles' ("Which incoming
//! American leader might push the warring parties into talks?"), the reader first writes the
//! sentence an encyclopedia would answer it with, from what it knows ("… is Donald Trump.").
//! That sentence is never shown or trusted as an answer: its meaning and words only help
//! choose the passages and the evidence the reader then answers from (HyDE: Gao et al.,
//! "Precise Zero-Shot Dense Retrieval without Relevance Labels", 2022).
use super::AnswerError;
use crate::llm::{ChatMessage, GenerateParams, LanguageModel};

/// Tokens of the hypothetical sentence: one sentence fits.
const HYPOTHESIS_TOKENS: usize = 40;

/// The reader's one-sentence guess at an answer to `question`; `None` when it writes
/// nothing usable.
pub fn write(model: &dyn LanguageModel, question: &str) -> Result<Option<String>, AnswerError> {
    let prompt = format!(
        "Write one sentence, as an encyclopedia would, that answers this question: {}",
        question.trim()
    );
    let params = GenerateParams {
        max_tokens: HYPOTHESIS_TOKENS,
        stop: vec!["\n".to_string()],
        ..GenerateParams::default()
    };
    let (reply, _) = model
        .generate(vec![ChatMessage::user(prompt)], params)?
        .collect_blocking()?;
    let reply = reply.trim();
    Ok((reply.split_whitespace().count() >= 3).then(|| reply.to_string()))
}
