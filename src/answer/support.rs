//! Whether the evidence supports what an answer says: its facts (numbers compared whole,
//! names as words), and, read strictly, every content word.
use crate::text::{is_stop_word, words};

/// Whether a fact (lower-cased) occurs in the evidence text. Numbers compare whole, on
/// their digits: "1,200" and "1200" are one number, "1" is not "1,200".
pub(super) fn fact_supported(fact: &str, evidence: &str) -> bool {
    if fact.chars().any(|c| c.is_ascii_digit()) {
        let f = digits(fact);
        return evidence
            .split_whitespace()
            .map(|t| digits(t.trim_matches(|c: char| !c.is_alphanumeric())))
            .any(|t| t == f);
    }
    words(evidence).iter().any(|w| w == fact)
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Whether `word` is in `sources` spelled otherwise: a word there shares its first letters
/// as the names rule reads them ([`crate::index::tolerated_prefix`]: all but the last three,
/// at least four), as "kilometers" does "kilometres" and "agree" does "agreed". Words of
/// four letters must match.
pub(super) fn spelled_otherwise(word: &str, sources: &[&str]) -> bool {
    let Some(prefix) = crate::index::tolerated_prefix(word) else {
        return false;
    };
    sources
        .iter()
        .flat_map(|s| words(s))
        .any(|w| w.starts_with(prefix))
}

/// A crude stem, so that "missiles" meets "missile" and "attacked" meets "attack".
fn stem(word: &str) -> &str {
    for suffix in ["ing", "ed", "es", "s", "ly"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            if stem.chars().count() >= 3 {
                return stem;
            }
        }
    }
    word
}

/// The content words of `answer` (citation markers aside) found in none of `sources`: what
/// the answer says that its evidence and its question do not. Empty when every word it uses
/// is supported.
pub fn unsupported_words(answer: &str, sources: &[&str]) -> Vec<String> {
    let known: std::collections::HashSet<String> = sources
        .iter()
        .flat_map(|s| words(s))
        .map(|w| stem(&w).to_string())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for w in words(answer) {
        let citation = w.chars().all(|c| c.is_ascii_digit()) && answer.contains(&format!("[{w}]"));
        if is_stop_word(&w) || citation {
            continue;
        }
        if !known.contains(stem(&w)) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_words_are_what_the_evidence_does_not_say() {
        let evidence = "North Korean troops were deployed to dislodge Ukrainian forces from Kursk.";
        let question = "Why were North Korean troops sent to Kursk?";
        assert!(
            unsupported_words("To dislodge Ukrainian forces [1].", &[evidence, question])
                .is_empty()
        );
        assert_eq!(
            unsupported_words(
                "To enhance the strategic and military balance of power [1].",
                &[evidence, question]
            ),
            vec!["enhance", "strategic", "military", "balance", "power"]
        );
        assert!(unsupported_words("The troop deployed.", &[evidence]).is_empty());
    }
}
