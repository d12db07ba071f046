//! The form of a suggested question, checked without the model: well-formed (and saying what
//! it asks about), and, once answered, not answered by its own words.
use super::Rejection;
use crate::answer::support;
use crate::text;
use std::collections::HashSet;

const QUESTION_OPENERS: &[&str] = &[
    "who", "what", "when", "where", "which", "why", "how", "whose", "whom", "is", "are", "was",
    "were", "do", "does", "did", "can", "could", "will", "would", "has", "have", "had", "should",
];

/// What a question asks for when it asks for a summary rather than a fact: a reply in a
/// phrase can only pick one part of it ("What are the key points about the U.S. involvement
/// in Ukraine?" stored as "Kyiv's use of British, American, and soon French weaponry").
const SUMMARY_REQUESTS: &[&str] = &[
    "key points",
    "main points",
    "key aspects",
    "main aspects",
    "key takeaways",
    "main idea",
    "overview",
    "summary",
    "summarize",
    "summarise",
    "significance",
    "implications",
    "importance",
];

/// Why a question is not well-formed, if it is not: a question word or auxiliary first, ends
/// with "?", 4–16 words, no "the text"/"the passage", no pronoun without its referent, no
/// repeated phrase, no request for a summary, and it names what it is about.
///
/// A suggestion is read away from the sentence it was made from (in an article's list, or
/// after another answer), so it must say what it asks about: a name or a number. Made from
/// one sentence, the model's question often leans on what came before it ("When was the
/// target announced?", "Who launched the attacks?", "When did the service start?").
pub fn well_formed(question: &str) -> Result<(), Rejection> {
    let q = question.trim();
    if !q.ends_with('?') || q.matches('?').count() != 1 {
        return Err(Rejection::NoQuestionMark);
    }
    let words = text::words(q);
    if words.len() < 4 || words.len() > 16 {
        return Err(Rejection::WordCount);
    }
    if !QUESTION_OPENERS.contains(&words[0].as_str()) {
        return Err(Rejection::NoQuestionWord);
    }
    let lower = q.to_lowercase();
    if [
        "the text",
        "the passage",
        "the evidence",
        "this text",
        "the sentence",
        "the author",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return Err(Rejection::RefersToText);
    }
    // "that" is left out: in a question it is mostly a conjunction ("the claim that…").
    if words.iter().any(|w| text::is_pronoun(w) && w != "that") {
        return Err(Rejection::DanglingPronoun);
    }
    let bigrams: Vec<(&str, &str)> = words
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    let unique: HashSet<&(&str, &str)> = bigrams.iter().collect();
    if unique.len() < bigrams.len() {
        return Err(Rejection::RepeatedPhrase);
    }
    let spaced = format!(" {} ", words.join(" "));
    if SUMMARY_REQUESTS
        .iter()
        .any(|r| spaced.contains(&format!(" {r} ")))
    {
        return Err(Rejection::AsksForSummary);
    }
    if text::facts(q).is_empty() {
        return Err(Rejection::NamesNothing);
    }
    Ok(())
}

/// Whether `answer` mostly repeats `question`: fewer than half of its content words (by
/// stem) are new, or it has none. Such an answer tells the reader nothing the question did
/// not ("Why might a company experience a loss of advertising revenue …?" → "Possible loss of
/// advertising revenue"; "What was BSkyB's relationship with ITV Digital's free-to-air
/// replacement, Freeview?" → "BSkyB joined ITV Digital's free-to-air replacement,
/// Freeview").
pub fn repeats_question(question: &str, answer: &str) -> bool {
    let answer = crate::answer::citations::without_citations(answer);
    let content: HashSet<String> = text::words(&answer)
        .into_iter()
        .filter(|w| !text::is_stop_word(w))
        .collect();
    let new = support::unsupported_words(&answer, &[question]).len();
    content.is_empty() || new * 2 < content.len()
}
