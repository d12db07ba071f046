//! Conversations for `eval --conversations`: a first question and follow-ups that lean on
//! it ("Who replaced him?", "In what year?"), each asked with the flow's own earlier answers
//! as history, as the chat page sends them.
use super::retrieval::{read_jsonl, BenchError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One conversation of a conversations file (JSONL, one per line).
#[derive(Debug, Clone, Deserialize)]
pub struct Conversation {
    pub id: String,
    /// The article's file name, as in the questions files: conversations about articles
    /// outside the corpus are left out.
    pub article: String,
    pub turns: Vec<Turn>,
}

/// One question of a conversation, with its gold answers (none when the article does not
/// answer it).
#[derive(Debug, Clone, Deserialize)]
pub struct Turn {
    pub question: String,
    #[serde(default = "answerable_by_default")]
    pub answerable: bool,
    #[serde(default)]
    pub answers: Vec<String>,
}

fn answerable_by_default() -> bool {
    true
}

pub fn read_conversations(path: &Path) -> Result<Vec<Conversation>, BenchError> {
    let conversations: Vec<Conversation> = read_jsonl(path)?;
    for (i, c) in conversations.iter().enumerate() {
        if c.turns.is_empty() {
            return Err(BenchError::QuestionLine {
                path: path.into(),
                line: i + 1,
                reason: format!("conversation {} has no turns", c.id),
            });
        }
    }
    Ok(conversations)
}

/// How the follow-ups fared (the first turns, asked alone, are reported apart).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ConversationReport {
    pub conversations: usize,
    pub first_turns_answer_contains: f64,
    /// Follow-ups the articles answer, and of them: short answer contains gold, answer or
    /// evidence contains gold, declined.
    pub follow_ups: usize,
    pub follow_up_answer_contains: f64,
    pub follow_up_evidence_contains: f64,
    pub follow_up_declined: f64,
    /// Follow-ups the articles do not answer, and the share declined.
    pub unanswerable_follow_ups: usize,
    pub unanswerable_follow_up_declined: f64,
}

/// One turn's outcome, as far as the report needs it.
#[derive(Debug, Clone, Copy)]
pub struct TurnOutcome {
    pub first: bool,
    pub answerable: bool,
    pub declined: bool,
    pub answer_contains: bool,
    pub evidence_contains: bool,
}

fn share(count: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 / of as f64
    }
}

pub fn summarise(conversations: usize, turns: &[TurnOutcome]) -> ConversationReport {
    let count = |f: &dyn Fn(&TurnOutcome) -> bool| turns.iter().filter(|t| f(t)).count();
    let firsts = count(&|t| t.first && t.answerable);
    let follow = count(&|t| !t.first && t.answerable);
    let unanswerable = count(&|t| !t.first && !t.answerable);
    ConversationReport {
        conversations,
        first_turns_answer_contains: share(count(&|t| t.first && t.answer_contains), firsts),
        follow_ups: follow,
        follow_up_answer_contains: share(
            count(&|t| !t.first && t.answerable && t.answer_contains),
            follow,
        ),
        follow_up_evidence_contains: share(
            count(&|t| !t.first && t.answerable && t.evidence_contains),
            follow,
        ),
        follow_up_declined: share(count(&|t| !t.first && t.answerable && t.declined), follow),
        unanswerable_follow_ups: unanswerable,
        unanswerable_follow_up_declined: share(
            count(&|t| !t.first && !t.answerable && t.declined),
            unanswerable,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(first: bool, answerable: bool, declined: bool, contains: bool) -> TurnOutcome {
        TurnOutcome {
            first,
            answerable,
            declined,
            answer_contains: contains,
            evidence_contains: contains,
        }
    }

    #[test]
    fn follow_ups_are_scored_apart_from_first_turns() {
        let r = summarise(
            2,
            &[
                turn(true, true, false, true),
                turn(false, true, false, false),
                turn(true, true, false, false),
                turn(false, true, false, true),
                turn(false, true, true, false),
                turn(false, false, true, false),
            ],
        );
        assert_eq!(r.first_turns_answer_contains, 0.5);
        assert_eq!(r.follow_ups, 3);
        assert!((r.follow_up_answer_contains - 1.0 / 3.0).abs() < 1e-9);
        assert!((r.follow_up_declined - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.unanswerable_follow_ups, 1);
        assert_eq!(r.unanswerable_follow_up_declined, 1.0);
    }

    #[test]
    fn the_projects_conversations_parse() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conversations.jsonl");
        let all = read_conversations(&path).unwrap_or_default();
        assert!(all.len() >= 25, "{}", all.len());
        assert!(all.iter().all(|c| c.turns.len() >= 2));
        assert!(all
            .iter()
            .flat_map(|c| &c.turns)
            .all(|t| t.answerable != t.answers.is_empty()));
    }
}
