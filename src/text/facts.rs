//! The checkable facts of a sentence: the numbers and names it states.
use std::collections::HashSet;

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
    fn facts_are_numbers_and_names_not_sentence_starts() {
        assert_eq!(
            facts("Kyiv holds 1,200 square kilometers taken by General Syrsky in August."),
            vec!["1,200", "general", "syrsky", "august"]
        );
        assert_eq!(facts("It depleted Ukraine’s army."), vec!["ukraine"]);
    }
}
