//! Words that refer back: pronouns, and sentences that open with one and need the sentence
//! before them to be understood.

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
