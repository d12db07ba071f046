//! The prompt: the evidence and the question, nothing else (less context answers better on a
//! small model), in one of two styles, one per kind of reader (see [`PromptStyle`]).
use super::evidence::Evidence;
use crate::llm::ChatMessage;

/// How the reader is asked to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptStyle {
    /// One short cited sentence. For SmolLM2-135M, which never says "not stated" when asked
    /// to and answers a phrase request with chatter.
    Sentence,
    /// The shortest exact phrase of the evidence that answers, or exactly "not stated": the
    /// reader's own judgment of whether the evidence answers, which the flow turns into a
    /// decline. For stronger readers (Qwen2.5-0.5B and up, remote servers).
    Phrase,
}

impl PromptStyle {
    /// The style for a model, by its name: the sentence prompt for SmolLM2, the phrase
    /// prompt for every other reader.
    pub fn for_model(name: &str) -> Self {
        if name.to_lowercase().contains("smollm") {
            PromptStyle::Sentence
        } else {
            PromptStyle::Phrase
        }
    }
}

impl std::str::FromStr for PromptStyle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sentence" => Ok(PromptStyle::Sentence),
            "phrase" => Ok(PromptStyle::Phrase),
            _ => Err("the prompt styles are `sentence` and `phrase`".to_string()),
        }
    }
}

const SENTENCE_SYSTEM: &str = "You answer questions about news articles. Use only the numbered \
evidence. Answer in one short sentence and cite the evidence number like [1].";

/// What a phrase reader replies when the text does not answer (the instruction asks for it).
pub const NOT_STATED: &str = "not stated";

/// "Exact" asks for the text's own words, which the check can find and cite. On the SQuAD
/// sample both Qwen readers' phrases held the answer more often than when asked for "the
/// shortest phrase", and the 1.5B declined fewer answerable questions but answered 4 more
/// look-alikes of 154 (docs/benchmarks/2026-12-07-exact-phrase.md).
const PHRASE_INSTRUCTION: &str = "Answer the question using only the text. Reply with the \
shortest exact phrase from the text that answers it. If the text does not answer the question, \
reply exactly: not stated";

pub fn messages(style: PromptStyle, question: &str, evidence: &[&Evidence]) -> Vec<ChatMessage> {
    match style {
        PromptStyle::Sentence => {
            let mut user = String::from("Evidence:\n");
            for e in evidence {
                user.push_str(&format!("[{}] {}\n", e.number, e.quote));
            }
            user.push_str(&format!("\nQuestion: {}", question.trim()));
            vec![
                ChatMessage::system(SENTENCE_SYSTEM),
                ChatMessage::user(user),
            ]
        }
        // The instruction, the text and the question in one user turn (the model's own
        // system prompt stays): the citation is attached afterwards by the check.
        PromptStyle::Phrase => {
            let text: Vec<&str> = evidence.iter().map(|e| e.quote.as_str()).collect();
            let user = format!(
                "{PHRASE_INSTRUCTION}\n\nText: {}\n\nQuestion: {}",
                text.join(" "),
                question.trim()
            );
            vec![ChatMessage::user(user)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phrase_instruction_asks_for_the_reply_the_flow_reads() {
        assert!(PHRASE_INSTRUCTION.ends_with(&format!("reply exactly: {NOT_STATED}")));
    }

    #[test]
    fn the_style_follows_the_reader() {
        assert_eq!(
            PromptStyle::for_model("SmolLM2-135M-Instruct.Q4_1"),
            PromptStyle::Sentence
        );
        assert_eq!(
            PromptStyle::for_model("qwen2.5-coder-0.5b-instruct-q4_k_m"),
            PromptStyle::Phrase
        );
    }
}
