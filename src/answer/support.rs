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

/// Words a reader drops or adds between the words it copies ("best, worst, average" for "best,
/// worst and average"): skipped, at most [`MAX_SKIPPED`] of them, when a phrase is found as
/// written.
const SKIPPABLE: &[&str] = &["and", "or", "the", "a", "an", "of"];
const MAX_SKIPPED: usize = 2;

/// `phrase` as `evidence` writes it, when the evidence holds its words in the same order with
/// at most [`MAX_SKIPPED`] of [`SKIPPABLE`] between them and each word there in the phrase's
/// or another inflection ("Turing machine" for "Turing machines", "Best, worst, average" for
/// "best, worst and average"): the reader was asked for a phrase of the text, and the text's
/// own words are what is cited and highlighted. Otherwise (already as written, or not found
/// so) `phrase` as it is.
pub(super) fn phrase_as_written(phrase: &str, evidence: &str) -> String {
    let ours = word_spans(phrase);
    let theirs = word_spans(evidence);
    let unchanged = phrase.to_string();
    let (Some(&first), Some(&last)) = (ours.first(), ours.last()) else {
        return unchanged;
    };
    let ours: Vec<String> = ours
        .iter()
        .map(|&(a, b)| phrase[a..b].to_lowercase())
        .collect();
    let theirs_lower: Vec<String> = theirs
        .iter()
        .map(|&(a, b)| evidence[a..b].to_lowercase())
        .collect();
    let mut best: Option<Found> = None;
    for start in 0..theirs_lower.len() {
        let Some(found) = match_from(&ours, &theirs_lower, start) else {
            continue;
        };
        if found.exact {
            // Written so already.
            return unchanged;
        }
        if best.as_ref().is_none_or(|b| found.skipped < b.skipped) {
            best = Some(found);
        }
    }
    let Some(Found { start, end, .. }) = best else {
        return unchanged;
    };
    let span = &evidence[theirs[start].0..theirs[end].1];
    let mut chars = span.chars();
    let span: String = match chars.next() {
        Some(c) if phrase[first.0..].starts_with(char::is_uppercase) => {
            c.to_uppercase().chain(chars).collect()
        }
        _ => span.to_string(),
    };
    format!("{}{span}{}", &phrase[..first.0], &phrase[last.1..])
}

/// Where a phrase's words were found in the evidence's: from word `start` to word `end`,
/// with `skipped` words between them, `exact` when every word is as the phrase writes it and
/// none was skipped.
struct Found {
    start: usize,
    end: usize,
    skipped: usize,
    exact: bool,
}

/// Matches the words `ours` in `theirs` from `start`.
fn match_from(ours: &[String], theirs: &[String], start: usize) -> Option<Found> {
    let mut at = start;
    let (mut skipped, mut exact) = (0, true);
    for (i, word) in ours.iter().enumerate() {
        if i > 0 {
            at += 1;
            while skipped < MAX_SKIPPED
                && theirs
                    .get(at)
                    .is_some_and(|w| !same_word(w, word) && SKIPPABLE.contains(&w.as_str()))
            {
                skipped += 1;
                at += 1;
            }
        }
        let theirs_word = theirs.get(at)?;
        if !same_word(theirs_word, word) {
            return None;
        }
        exact &= theirs_word == word;
    }
    Some(Found {
        start,
        end: at,
        skipped,
        exact: exact && skipped == 0,
    })
}

/// The same word, perhaps inflected otherwise ("machine", "machines"; "attack", "attacked").
fn same_word(a: &str, b: &str) -> bool {
    a == b
        || a.strip_suffix('s') == Some(b)
        || b.strip_suffix('s') == Some(a)
        || (a.chars().count() > 4 && b.chars().count() > 4 && stem(a) == stem(b))
}

/// Byte ranges of the words of `text`: letters and digits, with the hyphens and apostrophes
/// inside a word.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            end = i + c.len_utf8();
        } else if start.is_some() && (c == '-' || c == '\'' || c == '’') {
            continue;
        } else if let Some(s) = start.take() {
            out.push((s, end));
        }
    }
    if let Some(s) = start {
        out.push((s, end));
    }
    out
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
    fn a_phrase_is_given_as_the_evidence_writes_it() {
        let evidence = "The best, worst and average case complexity refer to three different \
                        ways of measuring the time complexity; Turing machines are one model.";
        assert_eq!(
            phrase_as_written("Best, worst, average", evidence),
            "Best, worst and average"
        );
        assert_eq!(
            phrase_as_written("Turing machine.", evidence),
            "Turing machines."
        );
        assert_eq!(
            phrase_as_written(
                "the Port Los Angeles",
                "the Port of Los Angeles handles most"
            ),
            "the Port of Los Angeles"
        );
        // Already as written (whatever the case), or not there in order: unchanged.
        for unchanged in [
            "Turing machines",
            "worst and average",
            "Average, worst",
            "Turing models",
            "Best, a worst",
            "",
        ] {
            assert_eq!(phrase_as_written(unchanged, evidence), unchanged);
        }
        // Two words of `and`/`the`/`of` at most are skipped.
        assert_eq!(
            phrase_as_written("cats dogs", "cats and the other dogs; cats and the dogs"),
            "cats and the dogs"
        );
        assert_eq!(
            phrase_as_written("cats dogs", "cats and of the dogs"),
            "cats dogs"
        );
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
