//! Turning a question and the conversation so far into a retrieval query. A follow-up such
//! as "who replaced him?" or "why?" names nothing; the previous question and answer supply
//! the missing terms.
use super::text;
use crate::llm::{ChatMessage, Role};

/// Words that point back at something said before.
fn refers_back(question: &str) -> bool {
    text::words(question)
        .iter()
        .any(|w| text::is_pronoun(w) || matches!(w.as_str(), "there" | "then" | "else" | "also"))
}

/// The retrieval query for `question`, and whether the history was used.
pub fn resolve(question: &str, history: &[ChatMessage]) -> (String, bool) {
    let own_terms = text::content_words(question);
    let own_count = own_terms.split_whitespace().count();
    let follow_up = own_count <= 1 || (refers_back(question) && own_count <= 4);
    if !follow_up {
        return (question.to_string(), false);
    }
    let last_user = history.iter().rev().find(|m| m.role == Role::User);
    let last_answer = history.iter().rev().find(|m| m.role == Role::Assistant);
    if last_user.is_none() && last_answer.is_none() {
        return (question.to_string(), false);
    }
    let mut query = question.to_string();
    if let Some(m) = last_user {
        query.push(' ');
        query.push_str(&text::content_words(&m.content));
    }
    if let Some(m) = last_answer {
        // The answer's first words name what it was about; quoted evidence runs long.
        let words: Vec<String> = text::content_words(&m.content)
            .split_whitespace()
            .take(12)
            .map(str::to_string)
            .collect();
        query.push(' ');
        query.push_str(&words.join(" "));
    }
    (query, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pronoun_follow_up_borrows_the_previous_turn() {
        let history = vec![
            ChatMessage::user("Who was General Zaluzhny?"),
            ChatMessage::new(
                Role::Assistant,
                "He spearheaded Ukraine's defense in Kyiv [1].",
            ),
        ];
        let (q, used) = resolve("Who replaced him?", &history);
        assert!(used);
        assert!(q.contains("zaluzhny"), "{q}");
        let (q, used) = resolve("Why?", &history);
        assert!(used && q.contains("zaluzhny"), "{q}");
    }

    #[test]
    fn a_complete_question_stands_alone() {
        let history = vec![ChatMessage::user("Who was General Zaluzhny?")];
        let (q, used) = resolve("What did the Kremlin deploy to Kursk?", &history);
        assert!(!used);
        assert_eq!(q, "What did the Kremlin deploy to Kursk?");
        let (_, used) = resolve("Who replaced him?", &[]);
        assert!(!used);
    }
}
