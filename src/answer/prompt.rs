//! The prompt: the numbered evidence and the question, nothing else. Less context answers
//! better on a small model.
use super::evidence::Evidence;
use crate::llm::ChatMessage;

const SYSTEM: &str = "You answer questions about news articles. Use only the numbered evidence. \
Answer in one short sentence and cite the evidence number like [1].";

pub fn messages(question: &str, evidence: &[Evidence]) -> Vec<ChatMessage> {
    let mut user = String::from("Evidence:\n");
    for e in evidence {
        user.push_str(&format!("[{}] {}\n", e.number, e.quote));
    }
    user.push_str(&format!("\nQuestion: {}", question.trim()));
    vec![ChatMessage::system(SYSTEM), ChatMessage::user(user)]
}
