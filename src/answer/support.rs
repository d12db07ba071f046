//! Whether the evidence supports what an answer says: its facts (numbers compared whole,
//! names as words), and, read strictly, every content word.
use super::question_kind::SMALL_NUMBERS;
use crate::text::{is_stop_word, words};

/// Whether a fact (lower-cased) occurs in the evidence text. Numbers compare whole, on
/// their digits: "1,200" and "1200" are one number, "1" is not "1,200".
pub(super) fn fact_supported(fact: &str, evidence: &str) -> bool {
    if fact.chars().any(|c| c.is_ascii_digit()) {
        let f = digits(fact);
        // A currency's letters may be written before either ("US$1,000,000", "$1,000,000").
        let same = |a: &str, b: &str| {
            a.strip_suffix(b)
                .is_some_and(|prefix| prefix.chars().all(|c| c.is_ascii_alphabetic()))
        };
        return evidence
            .split_whitespace()
            .map(|t| digits(t.trim_matches(|c: char| !c.is_alphanumeric())))
            .any(|t| same(&t, &f) || same(&f, &t));
    }
    // A name joined by hyphens or dashes ("NP-hard", "Cobham–Edmonds") is its words.
    let known = words(evidence);
    words(fact).iter().all(|w| known.contains(w))
}

fn digits(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `sentence` with each small number it writes in digits ("3") that `evidence` spells out
/// ("three") and does not write in digits, in the evidence's words: a reader asked for a
/// phrase of the text sometimes writes its numbers as digits.
pub(super) fn numbers_as_written(sentence: &str, evidence: &str) -> String {
    let evidence_words = words(evidence);
    let spelled = |raw: &str| -> Option<String> {
        let digits = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let n: usize = digits.parse().ok()?;
        let word = SMALL_NUMBERS.get(n)?;
        let in_digits = fact_supported(digits, evidence);
        (!in_digits && evidence_words.iter().any(|w| w == word))
            .then(|| raw.replacen(digits, word, 1))
    };
    sentence
        .split(' ')
        .map(|raw| spelled(raw).unwrap_or_else(|| raw.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `sentence` with each percentage written as `evidence` writes the same number ("60%" where
/// the evidence says "60 percent" or "60 per cent", and the reverse), when the evidence does
/// not also write it the sentence's way.
pub(super) fn percentages_as_written(sentence: &str, evidence: &str) -> String {
    let written = percentages(evidence);
    let mut out = sentence.to_string();
    for (number, form) in percentages(sentence) {
        let theirs: Vec<&String> = written
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, f)| f)
            .collect();
        if let Some(evidence_form) = theirs.first() {
            if !theirs.contains(&&form) {
                out = out.replacen(&form, evidence_form, 1);
            }
        }
    }
    out
}

/// `sentence` without the "To" a reader put before a gerund the evidence writes without it
/// ("To dislodging Ukrainian forces" from "the explicit goal of dislodging Ukrainian forces"):
/// asked why, the reader opens with "To" whatever follows.
pub(super) fn gerund_as_written(sentence: &str, evidence: &str) -> String {
    let Some((opening, rest)) = sentence.split_once(' ') else {
        return sentence.to_string();
    };
    let first = rest.split_whitespace().next().unwrap_or_default();
    let gerund = first.len() > 4 && first.to_lowercase().ends_with("ing");
    let lower_evidence = evidence.to_lowercase();
    let lower_rest = rest.to_lowercase();
    let leading: Vec<&str> = lower_rest.split_whitespace().take(2).collect();
    let leading = leading.join(" ");
    if !opening.eq_ignore_ascii_case("to")
        || !gerund
        || !lower_evidence.contains(&leading)
        || lower_evidence.contains(&format!("to {leading}"))
    {
        return sentence.to_string();
    }
    let mut chars = rest.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The percentages of `text`: each number written with "%", "percent" or "per cent", and the
/// words that write it ("60%", "60 percent").
fn percentages(text: &str) -> Vec<(String, String)> {
    let tokens: Vec<&str> = text
        .split_whitespace()
        .map(|t| {
            t.trim_start_matches(|c: char| !c.is_alphanumeric())
                .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '%')
        })
        .collect();
    let numeric = |t: &str| {
        t.starts_with(|c: char| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    };
    let word = |i: usize| tokens.get(i).map(|t| t.to_lowercase()).unwrap_or_default();
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if let Some(n) = t.strip_suffix('%').filter(|n| numeric(n)) {
            out.push((n.to_string(), t.to_string()));
        } else if numeric(t) && word(i + 1) == "percent" {
            out.push((t.to_string(), format!("{t} {}", tokens[i + 1])));
        } else if numeric(t) && word(i + 1) == "per" && word(i + 2) == "cent" {
            out.push((
                t.to_string(),
                format!("{t} {} {}", tokens[i + 1], tokens[i + 2]),
            ));
        }
    }
    out
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
pub(super) fn stem(word: &str) -> &str {
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
    fn numbers_compare_whole_whatever_their_case() {
        assert!(fact_supported("mpeg-2", "a DVB-compliant MPEG-2 stream"));
        assert!(fact_supported("1200", "some 1,200 square kilometres"));
        assert!(!fact_supported("1", "some 1,200 square kilometres"));
        assert!(!fact_supported("us1", "some 1,200 square kilometres"));
        assert!(fact_supported("$1,000,000", "a US$1,000,000 prize"));
        assert!(fact_supported("np-hard", "it is NP-hard."));
        assert!(fact_supported(
            "cobham–edmonds",
            "the Cobham–Edmonds thesis"
        ));
        assert!(!fact_supported("np-complete", "it is NP-hard."));
    }

    #[test]
    fn small_numbers_are_written_as_the_evidence_writes_them() {
        let evidence = "The league has three divisions and 20 clubs.";
        assert_eq!(numbers_as_written("3", evidence), "three");
        assert_eq!(
            numbers_as_written("3 divisions.", evidence),
            "three divisions."
        );
        assert_eq!(numbers_as_written("20 clubs", evidence), "20 clubs");
        assert_eq!(numbers_as_written("4", evidence), "4");
    }

    #[test]
    fn percentages_are_written_as_the_evidence_writes_them() {
        let evidence = "Roughly 60 percent of residents live there, and 36% of homes subscribe.";
        assert_eq!(percentages_as_written("60%", evidence), "60 percent");
        assert_eq!(
            percentages_as_written("About 60%.", evidence),
            "About 60 percent."
        );
        assert_eq!(percentages_as_written("36 per cent", evidence), "36%");
        assert_eq!(
            percentages_as_written("36 percent of homes", evidence),
            "36% of homes"
        );
        // A number the evidence does not give as a percentage, or gives both ways, stays.
        assert_eq!(percentages_as_written("70%", evidence), "70%");
        let both = "It rose 5% (5 per cent in the report).";
        assert_eq!(percentages_as_written("5%", both), "5%");
        assert_eq!(percentages_as_written("5 per cent", both), "5 per cent");
    }

    #[test]
    fn a_to_before_a_gerund_the_evidence_writes_without_it_is_dropped() {
        let evidence = "the Kremlin has deployed North Korean reinforcements to the region with \
                        the explicit goal of dislodging Ukrainian forces at any cost.";
        assert_eq!(
            gerund_as_written("To dislodging Ukrainian forces at any cost [1].", evidence),
            "Dislodging Ukrainian forces at any cost [1]."
        );
        // A purpose the evidence words with "to", and a plain infinitive, stay as written.
        let evidence2 = "They came close to winning the league.";
        assert_eq!(
            gerund_as_written("To winning the league [1].", evidence2),
            "To winning the league [1]."
        );
        assert_eq!(
            gerund_as_written("To dislodge Ukrainian forces [1].", evidence),
            "To dislodge Ukrainian forces [1]."
        );
        assert_eq!(gerund_as_written("Today", evidence), "Today");
    }

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
