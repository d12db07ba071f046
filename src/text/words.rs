//! Words of a text: cutting them, stop words and content words, and the normalised form
//! answers are matched in.

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
