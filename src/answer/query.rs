//! Turning a question and the conversation so far into a retrieval query, and into the
//! question the reader reads. A follow-up such as "who replaced him?" or "why?" names
//! nothing; the previous question and answer supply the missing terms.
use super::citations::without_citations;
use super::question_kind::{self, Asked};
use super::question_names;
use crate::llm::{ChatMessage, Role};
use crate::text;

/// Words that point back at something said before.
fn refers_back(question: &str) -> bool {
    text::words(question)
        .iter()
        .any(|w| text::is_pronoun(w) || matches!(w.as_str(), "there" | "then" | "else" | "also"))
}

/// Whether `question` leans on what was said before: it names at most one thing of its own,
/// or points back with a pronoun and names little else.
fn is_follow_up(question: &str) -> bool {
    let own_count = text::content_words(question).split_whitespace().count();
    own_count <= 1 || (refers_back(question) && own_count <= 4)
}

/// The retrieval query for `question`, and whether the history was used.
pub fn resolve(question: &str, history: &[ChatMessage]) -> (String, bool) {
    if !is_follow_up(question) {
        // A question naming enough of its own is searched as the reader reads it (a pronoun
        // in it resolved), without the history's words.
        let read = for_reader(question, history);
        let used = read != question;
        return (read, used);
    }
    let last_user = history.iter().rposition(|m| m.role == Role::User);
    let last_answer = history.iter().rev().find(|m| m.role == Role::Assistant);
    if last_user.is_none() && last_answer.is_none() {
        return (question.to_string(), false);
    }
    // The question with its pronouns resolved, then the previous question (resolved the
    // same way) and the first words of its answer.
    let mut query = for_reader(question, history);
    if let Some(at) = last_user {
        let previous = for_reader(&history[at].content, &history[..at]);
        query.push(' ');
        query.push_str(&text::content_words(&previous));
    }
    if let Some(m) = last_answer {
        // The answer's first words name what it was about; quoted evidence runs long.
        let words: Vec<String> = text::content_words(answer_part(&m.content))
            .split_whitespace()
            .take(12)
            .map(str::to_string)
            .collect();
        query.push(' ');
        query.push_str(&words.join(" "));
    }
    (query, true)
}

/// What a pronoun in the next question can stand for, as one exchange leaves it.
#[derive(Debug, Default, Clone)]
struct Referents {
    /// Someone: a short answer to a "who" question.
    person: Option<String>,
    /// Something: a short answer to any question but "who", "where", "when" and "how many".
    thing: Option<String>,
    /// Somewhere: a short answer to a "where" or "which city" question ("it", not "they").
    place: Option<String>,
    /// The first name the question itself used, when its answer stood for nothing.
    named: Option<String>,
}

/// An assistant message's answer: its first paragraph (the OpenAI endpoint's content goes on
/// with "Sources:" and the quotes, which clients send back as history).
fn answer_part(content: &str) -> &str {
    content.trim().split("\n\n").next().unwrap_or("")
}

/// An answer short enough to stand in for a pronoun: a name or a short phrase, not a quote
/// of the evidence, a decline or a number.
fn short_answer(answer: &str) -> Option<String> {
    let plain = without_citations(answer_part(answer));
    let plain = plain.trim().trim_end_matches(['.', ',', ';']).trim();
    let quoted = plain.starts_with(['“', '"', '\'', '‘']);
    let declined = plain.starts_with(super::DECLINE_TEXT.split('.').next().unwrap_or("-"));
    let words = plain.split_whitespace().count();
    let numeric = plain.chars().any(|c| c.is_ascii_digit())
        || text::words(plain)
            .iter()
            .any(|w| question_kind::is_number_word(w));
    (!quoted && !declined && !numeric && (1..=6).contains(&words) && plain.len() <= 60)
        .then(|| plain.to_string())
}

fn referents(question: &str, answer: &str) -> Referents {
    let short = short_answer(answer);
    let kind = question_kind::asks_for(question);
    let mut r = Referents {
        named: question_names::names(question).into_iter().next(),
        ..Referents::default()
    };
    match kind {
        Some(Asked::Person) => {
            r.person = short.clone();
            r.thing = short;
        }
        Some(Asked::Place) => r.place = short,
        Some(Asked::Time | Asked::Quantity | Asked::Duration) => {}
        _ => r.thing = short,
    }
    r
}

/// `question` as the reader should read it, given the conversation so far. The reader does
/// not resolve pronouns itself ("Who replaced him?" read alone is answered with whoever the
/// evidence names first), so a pronoun is replaced by what it stands for: the last short
/// answer naming someone (he, she, him, his, her) or something (it, its, they, them, their),
/// else the name the last question used. "Who replaced him?" after "Who spearheaded the
/// defense of Kyiv? General Zaluzhny" reads "Who replaced General Zaluzhny?". A follow-up
/// naming nothing of its own ("In what year?") is read after the exchange it leans on. A
/// question that stands alone, or one asked first, is read as it is.
pub fn for_reader(question: &str, history: &[ChatMessage]) -> String {
    let mut turns: Vec<((String, String), Referents)> = Vec::new();
    let mut asked_before: Option<String> = None;
    for m in history {
        match m.role {
            Role::User => {
                let earlier: Vec<&Referents> = turns.iter().map(|(_, r)| r).collect();
                asked_before = Some(substitute(&m.content, &earlier));
            }
            Role::Assistant => {
                if let Some(q) = asked_before.take() {
                    let r = referents(&q, &m.content);
                    turns.push(((q, m.content.clone()), r));
                }
            }
            _ => {}
        }
    }
    let Some(((last_question, last_answer), _)) = turns.last() else {
        return question.to_string();
    };
    let earlier: Vec<&Referents> = turns.iter().map(|(_, r)| r).collect();
    let substituted = substitute(question, &earlier);
    let own_count = text::content_words(question).split_whitespace().count();
    let points_back = text::words(question).iter().any(|w| text::is_pronoun(w));
    if substituted == question && own_count <= 1 && !points_back {
        // "In what year?" after "Which treaty …? Saint-Clair-sur-Epte": "Saint-Clair-sur-Epte:
        // in what year?". After a long answer (a quote), the question stays as it is.
        let plain = without_citations(answer_part(last_answer));
        let plain = plain.trim().trim_end_matches(['.', ',', ';']).trim();
        let quoted = plain.starts_with(['“', '"', '\'', '‘']);
        let declined = plain.starts_with(super::DECLINE_TEXT.split('.').next().unwrap_or("-"));
        let _ = last_question;
        if !quoted && !declined && (1..=6).contains(&plain.split_whitespace().count()) {
            return format!("{plain}: {}", lowercase_first(question.trim()));
        }
        return question.to_string();
    }
    substituted
}

fn lowercase_first(question: &str) -> String {
    let mut chars = question.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Replaces the pronouns of `question` by the referents of the latest exchange that has one
/// of the right kind (`earlier` in order, latest last).
fn substitute(question: &str, earlier: &[&Referents]) -> String {
    let latest = |pick: &dyn Fn(&Referents) -> Option<String>| -> Option<String> {
        earlier
            .iter()
            .rev()
            .find_map(|r| pick(r))
            .or_else(|| earlier.last().and_then(|r| r.named.clone()))
    };
    let person = latest(&|r: &Referents| r.person.clone());
    let thing = latest(&|r: &Referents| r.thing.clone());
    let thing_or_place = latest(&|r: &Referents| r.thing.clone().or_else(|| r.place.clone()));
    // "Why does it use them?": "it" and "them" are two things. When both would stand for the
    // same answer, "it" is the name the last question used instead ("Kyiv"), or stays.
    let words = text::words(question);
    let singular = words.iter().any(|w| w == "it" || w == "its");
    let plural = words
        .iter()
        .any(|w| matches!(w.as_str(), "they" | "them" | "their"));
    let thing_or_place = if singular && plural && thing_or_place == thing {
        earlier
            .last()
            .and_then(|r| r.named.clone())
            .filter(|n| Some(n) != thing.as_ref())
    } else {
        thing_or_place
    };
    let tokens: Vec<&str> = question.split_inclusive(char::is_whitespace).collect();
    let mut out = String::with_capacity(question.len() + 32);
    for (i, token) in tokens.iter().enumerate() {
        let word = token.trim_end();
        let core = word.trim_end_matches(['?', '.', ',', '!', ';', ':']);
        let tail = &token[core.len()..];
        let next_is_noun = tokens.get(i + 1).is_some_and(|n| {
            let n = text::words(n);
            n.first().is_some_and(|w| !text::is_stop_word(w))
        }) && tail.trim().is_empty();
        let lower = core.to_lowercase();
        let (referent, possessive) = match lower.as_str() {
            "he" | "him" | "she" => (&person, false),
            "his" => (&person, true),
            "her" => (&person, next_is_noun),
            "it" => (&thing_or_place, false),
            "its" => (&thing_or_place, true),
            "they" | "them" => (&thing, false),
            "their" => (&thing, true),
            _ => (&None, false),
        };
        match referent {
            Some(r) => {
                out.push_str(r);
                if possessive {
                    out.push_str("'s");
                }
                out.push_str(tail);
            }
            None => out.push_str(token),
        }
    }
    out
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

    fn exchange(pairs: &[(&str, &str)]) -> Vec<ChatMessage> {
        pairs
            .iter()
            .flat_map(|(q, a)| [ChatMessage::user(*q), ChatMessage::new(Role::Assistant, *a)])
            .collect()
    }

    #[test]
    fn a_pronoun_is_read_as_what_the_last_answer_named() {
        let h = exchange(&[(
            "Who spearheaded Ukraine's defense in Kyiv?",
            "General Zaluzhny [1].",
        )]);
        assert_eq!(
            for_reader("Who replaced him?", &h),
            "Who replaced General Zaluzhny?"
        );
        assert_eq!(
            for_reader("What was his rank?", &h),
            "What was General Zaluzhny's rank?"
        );
        let h = exchange(&[(
            "Which Irish broadcaster was awarded packages in 2006?",
            "Setanta Sports [1].",
        )]);
        assert_eq!(
            for_reader("How many packages did it get?", &h),
            "How many packages did Setanta Sports get?"
        );
        // As the OpenAI endpoint's content comes back: the answer, then its sources.
        let h = exchange(&[(
            "Who spearheaded Ukraine's defense in Kyiv?",
            "General Zaluzhny [1].\n\nSources:\n[1] Within 72 hours — “The highly popular General Zaluzhny, who spearheaded …”",
        )]);
        assert_eq!(
            for_reader("Who replaced him?", &h),
            "Who replaced General Zaluzhny?"
        );
        // A question that stands alone, or one asked first, is read as it is.
        assert_eq!(for_reader("Who replaced him?", &[]), "Who replaced him?");
        assert_eq!(
            for_reader("What did the Kremlin deploy to Kursk?", &h),
            "What did the Kremlin deploy to Kursk?"
        );
    }

    #[test]
    fn referents_carry_through_a_conversation_and_skip_numbers_and_quotes() {
        // "his" three turns on still means the man the first answer named: a number answers
        // the second question and stands for nobody.
        let h = exchange(&[
            (
                "Who drove the Byzantines out of southern Italy?",
                "Robert Guiscard [1].",
            ),
            (
                "How many men did he land in Albania in 1081?",
                "30,000 [2].",
            ),
        ]);
        assert_eq!(
            for_reader("What was the name of his son?", &h),
            "What was the name of Robert Guiscard's son?"
        );
        // A quoted sentence stands for nothing: the question's own name is used instead.
        let h = exchange(&[(
            "What scrambling system does BSkyB use?",
            "“BSkyB utilises the VideoGuard system owned by NDS.” [1]",
        )]);
        assert_eq!(for_reader("Who owns it?", &h), "Who owns BSkyB?");
        // A place stands for "it", not for "they": the Greens are who "they" are.
        let h = exchange(&[("Where are the Greens strongest?", "Inner Melbourne [1].")]);
        assert_eq!(
            for_reader("When did they win seats?", &h),
            "When did Greens win seats?"
        );
        assert_eq!(
            for_reader("How big is it?", &h),
            "How big is Inner Melbourne?"
        );
    }

    #[test]
    fn it_and_them_in_one_question_stand_for_two_things() {
        let h = exchange(&[(
            "What weapons did Kyiv use on Russian targets?",
            "ATACMS and Storm Shadows [1].",
        )]);
        assert_eq!(
            for_reader("Why does it use them?", &h),
            "Why does Kyiv use ATACMS and Storm Shadows?"
        );
        assert_eq!(
            for_reader("Who approved them?", &h),
            "Who approved ATACMS and Storm Shadows?"
        );
    }

    #[test]
    fn a_follow_up_naming_nothing_is_read_after_the_answer_it_leans_on() {
        let h = exchange(&[(
            "Which treaty established Rollo's duchy?",
            "The treaty of Saint-Clair-sur-Epte [1].",
        )]);
        assert_eq!(
            for_reader("In what year?", &h),
            "The treaty of Saint-Clair-sur-Epte: in what year?"
        );
        // After a quote or a decline it stays as it is.
        let h = exchange(&[("Which treaty?", "“The Duchy began in 911.” [1]")]);
        assert_eq!(for_reader("In what year?", &h), "In what year?");
        let h = exchange(&[("Which treaty?", crate::answer::DECLINE_TEXT)]);
        assert_eq!(for_reader("In what year?", &h), "In what year?");
    }
}
