//! Small text utilities shared by the answer steps: words, stop words, facts, normalisation.
use std::collections::HashSet;

/// Function words and question words: they say what is asked, not what it is about.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "tell",
    "say",
    "says",
    "said",
    "according",
    "article",
    "text",
    "passage",
    "many",
    "much",
    "kind",
    "type",
    "name",
    "called",
    "happened",
    "happen",
    "mean",
    "means",
    "think",
    "please",
    "know",
    "explain",
    "describe",
    "s",
    "t",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

pub use crate::corpus::words;

/// The words of `text` that carry content, joined by spaces (for the index analyzer).
pub fn content_words(text: &str) -> String {
    words(text)
        .into_iter()
        .filter(|w| !is_stop_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `answer` without its citation markers (`[1]`, `[1][2]`).
pub fn without_citations(answer: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in answer.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
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

/// Normalised for answer matching (as SQuAD scores): lower case, no punctuation, no
/// articles, single spaces.
pub fn normalise(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `needle` occurs in `haystack` on word boundaries, after normalising both.
pub fn contains_normalised(haystack: &str, needle: &str) -> bool {
    let n = normalise(needle);
    if n.is_empty() {
        return false;
    }
    let h = format!(" {} ", normalise(haystack));
    h.contains(&format!(" {n} "))
}

#[cfg(test)]
#[test]
fn unsupported_words_are_what_the_evidence_does_not_say() {
    let evidence = "North Korean troops were deployed to dislodge Ukrainian forces from Kursk.";
    let question = "Why were North Korean troops sent to Kursk?";
    assert!(
        unsupported_words("To dislodge Ukrainian forces [1].", &[evidence, question]).is_empty()
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

/// Token-level F1 between two texts after normalisation (SQuAD's measure).
pub fn token_f1(prediction: &str, gold: &str) -> f64 {
    let p: Vec<String> = normalise(prediction)
        .split(' ')
        .map(str::to_string)
        .collect();
    let g: Vec<String> = normalise(gold).split(' ').map(str::to_string).collect();
    if p.iter().all(|w| w.is_empty()) || g.iter().all(|w| w.is_empty()) {
        return 0.0;
    }
    let mut remaining = g.clone();
    let mut common = 0usize;
    for w in &p {
        if let Some(i) = remaining.iter().position(|x| x == w) {
            remaining.swap_remove(i);
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Pronouns and demonstratives: words that point at something named elsewhere.
pub fn is_pronoun(word: &str) -> bool {
    matches!(
        word,
        "he" | "she"
            | "it"
            | "they"
            | "him"
            | "her"
            | "them"
            | "his"
            | "hers"
            | "its"
            | "their"
            | "theirs"
            | "this"
            | "that"
            | "these"
            | "those"
    )
}

/// Words that open a sentence without naming anything: such a sentence needs the one
/// before it to be understood.
pub fn starts_with_reference(sentence: &str) -> bool {
    let first = sentence
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    matches!(
        first.as_str(),
        "he" | "she"
            | "it"
            | "they"
            | "this"
            | "that"
            | "these"
            | "those"
            | "his"
            | "her"
            | "its"
            | "their"
            | "him"
            | "them"
            | "such"
            | "there"
    )
}

/// The checkable facts of a sentence: numbers (with their separators) and capitalised words
/// that are not the sentence's first word. Each is returned lower-cased.
pub fn facts(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let tokens: Vec<&str> = sentence.split_whitespace().collect();
    for (i, raw) in tokens.iter().enumerate() {
        let tok = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if tok.is_empty() {
            continue;
        }
        let is_number = tok.chars().any(|c| c.is_ascii_digit());
        let capitalised = tok.chars().next().is_some_and(char::is_uppercase)
            && i > 0
            && tok.len() > 1
            && !tokens[i - 1].ends_with(['.', '!', '?', ':', '"', '“']);
        if is_number || capitalised {
            let f = tok
                .trim_end_matches("’s")
                .trim_end_matches("'s")
                .to_lowercase();
            if seen.insert(f.clone()) {
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_and_matching() {
        assert_eq!(normalise("The U.S.  Army!"), "u s army");
        assert!(contains_normalised(
            "It was the 10th century.",
            "10th century"
        ));
        assert!(!contains_normalised("It was 1100.", "10"));
        assert!((token_f1("General Syrsky", "the seasoned General Syrsky") - 0.8).abs() < 1e-9);
    }

    #[test]
    fn facts_are_numbers_and_names_not_sentence_starts() {
        assert_eq!(
            facts("Kyiv holds 1,200 square kilometers taken by General Syrsky in August."),
            vec!["1,200", "general", "syrsky", "august"]
        );
        assert_eq!(facts("It depleted Ukraine’s army."), vec!["ukraine"]);
    }

    #[test]
    fn content_words_drop_question_words() {
        assert_eq!(
            content_words("Who replaced General Zaluzhny?"),
            "replaced general zaluzhny"
        );
        assert_eq!(words("Kyiv’s actions"), vec!["kyiv", "actions"]);
    }
}
