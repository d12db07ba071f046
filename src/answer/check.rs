//! Checking the model's draft against the evidence. Sentences whose facts (numbers, names)
//! appear in none of the evidence they cite are dropped; citation markers are mapped to
//! evidence numbers (never trusted blindly); a sentence that forgot its citation gets the one
//! evidence item that clearly supports it. When nothing supported remains, the answer is the
//! best evidence sentence itself, quoted.
use super::citations::take_markers;
use super::evidence::Evidence;
use super::question_kind::{self, Asked};
use super::support::{
    fact_supported, gerund_as_written, numbers_as_written, percentages_as_written,
    phrase_as_written, spelled_otherwise, unsupported_words,
};
use crate::corpus::split_sentences;
use crate::text;
use std::collections::BTreeSet;

/// The checked answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The answer text with normalised citation markers, e.g. "General Syrsky replaced him [1]."
    pub text: String,
    /// Evidence numbers the answer cites, ascending.
    pub cited: Vec<usize>,
    /// True when no generated sentence survived and the best evidence is quoted instead.
    pub fallback: bool,
    /// True when the reader said the evidence does not answer ("not stated") and wrote no
    /// supported sentence: its own judgment, which the answer flow turns into a decline.
    pub reader_declined: bool,
    /// Sentences of the draft that were dropped, with the reason.
    pub dropped: Vec<(String, String)>,
}

/// Lead-ins a small model pads its answers with; they carry nothing.
const LEAD_INS: &[&str] = &[
    "the answer to this question is that",
    "the answer to the question is that",
    "the answer is that",
    "the answer to this question is",
    "the answer to the question is",
    "the answer is",
    "according to the evidence,",
    "according to the evidence",
    "according to the text,",
    "according to the text",
    "according to the passage,",
    "according to the passage",
    "according to the article,",
    "according to the article",
    "based on the evidence,",
    "based on the text,",
    "based on the passage,",
    "the passage states that",
    "the passage says that",
    "the text states that",
    "the text says that",
    "the evidence states that",
    "the evidence shows that",
    "the article states that",
    "the article says that",
    "answer:",
];

/// Phrases by which the model says it cannot answer: never shown as an answer.
const NON_ANSWERS: &[&str] = &[
    "not stated",
    "does not state",
    "doesn't state",
    "does not mention",
    "doesn't mention",
    "does not say",
    "doesn't say",
    "does not provide",
    "doesn't provide",
    "no information",
    "not mentioned",
    "not provided",
    "cannot answer",
    "can't answer",
    "i don't know",
    "i do not know",
    "not specified",
    "is unclear",
];

/// Whether a draft says, anywhere, that the evidence does not answer ("not stated").
pub fn is_non_answer(draft: &str) -> bool {
    let lower = draft.to_lowercase();
    NON_ANSWERS.iter().any(|p| lower.contains(p))
}

/// Removes padding lead-ins (repeatedly: "Answer: The answer is …") and capitalises.
pub fn strip_lead_ins(draft: &str) -> String {
    let mut s = draft.trim().to_string();
    loop {
        let lower = s.to_lowercase();
        let Some(prefix) = LEAD_INS.iter().find(|p| lower.starts_with(*p)) else {
            break;
        };
        s = s[prefix.len()..]
            .trim_start_matches([':', ',', ' ', '"'])
            .to_string();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

fn content_overlap(sentence: &str, evidence: &str) -> usize {
    let ev: BTreeSet<String> = text::content_words(evidence)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    text::content_words(sentence)
        .split_whitespace()
        .filter(|w| ev.contains(*w))
        .count()
}

/// Whether `sentence`, the answer to a "who" question, only restates the question: it opens
/// with the question's own subject and names no one the question does not (no capitalised
/// word of its own). An answer naming someone ("General Syrsky"), or opening with words of
/// its own ("The state government"), is not caught.
fn restates_who(sentence: &str, question: &str, question_stems: &BTreeSet<String>) -> bool {
    if question_kind::asks_for(question) != Some(Asked::Person) {
        return false;
    }
    let stem = |w: &str| -> String { w.chars().take(5).collect() };
    let opens_with_question = text::content_words(sentence)
        .split_whitespace()
        .next()
        .is_some_and(|w| question_stems.contains(&stem(w)));
    let names_someone = sentence.split_whitespace().any(|raw| {
        let capital = raw
            .chars()
            .find(|c| c.is_alphanumeric())
            .is_some_and(char::is_uppercase);
        capital
            && text::words(raw)
                .iter()
                .any(|w| !text::is_stop_word(w) && !question_stems.contains(&stem(w)))
    });
    opens_with_question && !names_someone
}

/// Whether `sentence`, the answer to a "when" question, gives no time at all: no number, no
/// date or unit of time, and no word placing it in time ("after the war", "during his
/// reign"). "When would a program not be useful…?" answered "Given large but finite time"
/// (a SQuAD look-alike) answers nothing.
fn gives_no_time(sentence: &str, question: &str) -> bool {
    const TIME_RELATIONS: &[&str] = &[
        "after",
        "before",
        "during",
        "since",
        "until",
        "till",
        "when",
        "while",
        "ago",
        "later",
        "earlier",
        "recently",
        "soon",
        "today",
        "yesterday",
        "tomorrow",
        "now",
        "then",
        "once",
        "spring",
        "summer",
        "autumn",
        "fall",
        "winter",
        "morning",
        "evening",
        "night",
        "period",
        "era",
        "age",
        "reign",
        "war",
        "season",
        "beginning",
        "end",
        "early",
        "late",
        "mid",
    ];
    question_kind::asks_for(question) == Some(Asked::Time)
        && !sentence.chars().any(|c| c.is_ascii_digit())
        && !question_kind::is_time(sentence)
        && !text::words(sentence)
            .iter()
            .any(|w| question_kind::is_number_word(w) || TIME_RELATIONS.contains(&w.as_str()))
}

/// Whether every content word of `sentence` is one of `question`'s, but for its ending
/// ("launched" is "launch"; "randomized" is not "random"): it answers nothing.
fn restates(sentence: &str, question: &str) -> bool {
    let asked: BTreeSet<String> = text::content_words(question)
        .split_whitespace()
        .map(|w| super::support::stem(w).to_string())
        .collect();
    let said = text::content_words(sentence);
    let mut said = said.split_whitespace().peekable();
    said.peek().is_some() && said.all(|w| asked.contains(super::support::stem(w)))
}

/// Content words cut to their first 5 letters: a crude stem, so that "caused" meets "cause".
fn stems(text: &str) -> BTreeSet<String> {
    text::content_words(text)
        .split_whitespace()
        .map(|w| w.chars().take(5).collect())
        .collect()
}

/// Checks `draft` against `evidence` (numbered from 1), keeping at most `max_sentences`
/// supported sentences. A sentence that only restates `question` ("American weapons did Kyiv
/// launch at Russian targets.") answers nothing and is dropped too.
/// Content words a failed draft must share with an evidence sentence for that sentence to be
/// quoted instead of the best one.
const POINTS_AT: usize = 3;

pub fn check(draft: &str, question: &str, evidence: &[Evidence], max_sentences: usize) -> Checked {
    check_with(draft, question, evidence, max_sentences, false)
}

/// [`check`], and with `every_word` a sentence is kept only when every content word of it
/// (not only its numbers and names) is in the evidence it cites or in the question: for a
/// reader asked for a phrase of the text, a word found in neither is a misreading ("Seared
/// General Syrsky" for "the seasoned General Syrsky") or an invention.
pub fn check_with(
    draft: &str,
    question: &str,
    evidence: &[Evidence],
    max_sentences: usize,
    every_word: bool,
) -> Checked {
    let question_stems = stems(question);
    let stripped = strip_lead_ins(draft);
    let mut kept: Vec<String> = Vec::new();
    let mut cited: BTreeSet<usize> = BTreeSet::new();
    let mut dropped = Vec::new();
    let mut said_not_stated = false;
    for range in split_sentences(&stripped) {
        if kept.len() >= max_sentences {
            break;
        }
        let raw = &stripped[range];
        let (sentence, numbers) = take_markers(raw);
        let sentence = strip_lead_ins(&sentence);
        if sentence
            .trim_matches(|c: char| !c.is_alphanumeric())
            .is_empty()
        {
            continue;
        }
        let lower = sentence.to_lowercase();
        if NON_ANSWERS.iter().any(|p| lower.contains(p)) {
            said_not_stated = true;
            dropped.push((sentence, "says it cannot answer".to_string()));
            continue;
        }
        if restates(&sentence, question) {
            dropped.push((sentence, "restates the question".to_string()));
            continue;
        }
        let mut refs: Vec<usize> = numbers
            .into_iter()
            .filter(|n| *n >= 1 && *n <= evidence.len())
            .collect();
        refs.dedup();
        let against: Vec<&Evidence> = if refs.is_empty() {
            evidence.iter().collect()
        } else {
            refs.iter().map(|n| &evidence[n - 1]).collect()
        };
        let joined: String = against
            .iter()
            .map(|e| e.quote.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let sentence = percentages_as_written(&numbers_as_written(&sentence, &joined), &joined);
        let sentence = gerund_as_written(&sentence, &joined);
        let sentence = if every_word {
            phrase_as_written(&sentence, &joined)
        } else {
            sentence
        };
        let mut unsupported: Vec<String> = text::facts(&sentence)
            .into_iter()
            .filter(|f| !fact_supported(f, &joined))
            .collect();
        if every_word && unsupported.is_empty() {
            let sources = [joined.as_str(), question];
            unsupported = unsupported_words(&sentence, &sources)
                .into_iter()
                .filter(|w| !spelled_otherwise(w, &sources))
                .collect();
        }
        if !unsupported.is_empty() {
            dropped.push((
                sentence,
                format!("not in the evidence: {}", unsupported.join(", ")),
            ));
            continue;
        }
        if every_word && restates_who(&sentence, question, &question_stems) {
            // "Who founded the University of Melbourne?" answered "University of Melbourne
            // was founded in 1853": the reader found no one, as if it had said so.
            said_not_stated = true;
            dropped.push((sentence, "names no one the question does not".to_string()));
            continue;
        }
        if every_word && gives_no_time(&sentence, question) {
            said_not_stated = true;
            dropped.push((sentence, "gives no time for a when question".to_string()));
            continue;
        }
        if refs.is_empty() {
            // Cite the evidence that shares most content words, when it clearly does.
            let best = evidence
                .iter()
                .map(|e| (content_overlap(&sentence, &e.quote), e.number))
                .max_by_key(|(overlap, number)| (*overlap, std::cmp::Reverse(*number)));
            match best {
                Some((overlap, number)) if overlap >= 1 => refs.push(number),
                _ => {
                    dropped.push((sentence, "supported by no evidence".to_string()));
                    continue;
                }
            }
        }
        let markers: String = refs.iter().map(|n| format!("[{n}]")).collect();
        let body = sentence.trim_end();
        let (body, end) = match body.strip_suffix(['.', '!', '?']) {
            Some(b) => (b.to_string(), &body[b.len()..]),
            None => (body.to_string(), "."),
        };
        kept.push(format!("{body} {markers}{end}"));
        cited.extend(refs);
    }
    if kept.is_empty() {
        // The sentence the reader was reading from when its draft did not hold up (it copies
        // a sentence and runs out of words), else the best one.
        let pointed = evidence
            .iter()
            .map(|e| (content_overlap(&stripped, &e.quote), e))
            .filter(|(overlap, _)| *overlap >= POINTS_AT)
            .max_by_key(|(overlap, e)| (*overlap, std::cmp::Reverse(e.number)))
            .map(|(_, e)| e);
        return match pointed.or(evidence.first()) {
            Some(best) => Checked {
                text: format!("“{}” [{}]", best.quote, best.number),
                cited: vec![best.number],
                fallback: true,
                reader_declined: said_not_stated,
                dropped,
            },
            None => Checked {
                text: String::new(),
                cited: Vec::new(),
                fallback: true,
                reader_declined: said_not_stated,
                dropped,
            },
        };
    }
    Checked {
        text: kept.join(" "),
        cited: cited.into_iter().collect(),
        fallback: false,
        reader_declined: false,
        dropped,
    }
}

#[cfg(test)]
mod tests;
