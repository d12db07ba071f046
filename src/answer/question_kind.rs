//! What kind of answer a question asks for, by its opening words ("Who…" a person, "When…"
//! a time, "How many…" a quantity, "Why…" a reason). The suggested questions must ask for the
//! kind of answer their span gives, and the check reads "who" answers by it.
use crate::text;

/// What a question asks for, by its opening words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// "Who…", "Whose…".
    Person,
    /// "Where…", "In which country…".
    Place,
    /// "When…", "In what year…".
    Time,
    /// "How many…", "How much…", "In how many…".
    Quantity,
    /// "How long…", "How quickly…", "How soon…": a number or a time.
    Duration,
    /// "Why…".
    Reason,
}

/// What a question asks for; `None` for one that does not say ("What is…", "Which…",
/// "How did…"), which any kind of span can answer.
pub fn asks_for(question: &str) -> Option<Asked> {
    let words = text::words(question);
    let first = words.first().map(String::as_str)?;
    let second = words.get(1).map(String::as_str).unwrap_or("");
    let third = words.get(2).map(String::as_str).unwrap_or("");
    const TIME_UNITS: &[&str] = &["year", "month", "date", "day", "decade", "century"];
    const PLACE_NOUNS: &[&str] = &[
        "country",
        "city",
        "town",
        "region",
        "province",
        "state",
        "nation",
        "continent",
        "village",
        "county",
        "island",
        "river",
        "port",
        "capital",
    ];
    match (first, second) {
        ("who" | "whom" | "whose", _) => Some(Asked::Person),
        ("where", _) => Some(Asked::Place),
        ("when", _) => Some(Asked::Time),
        ("how", "long" | "quickly" | "soon") => Some(Asked::Duration),
        ("how", "many" | "much" | "far" | "fast" | "big" | "large" | "old" | "often") => {
            Some(Asked::Quantity)
        }
        ("in", "how") if matches!(third, "many" | "much") => Some(Asked::Quantity),
        ("what" | "which", w) if TIME_UNITS.contains(&w) => Some(Asked::Time),
        ("what" | "which", w) if PLACE_NOUNS.contains(&w) => Some(Asked::Place),
        ("in" | "since" | "by", "what" | "which") if TIME_UNITS.contains(&third) => {
            Some(Asked::Time)
        }
        ("in" | "at" | "from" | "to", "what" | "which") if PLACE_NOUNS.contains(&third) => {
            Some(Asked::Place)
        }
        ("why", _) => Some(Asked::Reason),
        _ => None,
    }
}

/// Whether a question asks for yes or no: it opens with an auxiliary or modal verb ("Is…",
/// "Did…", "Has…", "Can…"), after a leading "and"/"but"/"so" of a follow-up, and offers no
/// alternatives ("Is it abstract or concrete?" asks for one of them: a phrase).
pub fn is_yes_no(question: &str) -> bool {
    const OPENERS: &[&str] = &[
        "is",
        "are",
        "was",
        "were",
        "am",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "hasn't",
        "haven't",
        "hadn't",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "shouldn't",
    ];
    let words: Vec<String> = text::words(question)
        .into_iter()
        .map(|w| w.replace('’', "'"))
        .collect();
    let opening = words
        .iter()
        .position(|w| !matches!(w.as_str(), "and" | "but" | "so" | "then" | "also"));
    opening.is_some_and(|i| OPENERS.contains(&words[i].as_str()))
        && !words.iter().any(|w| w == "or")
}

/// Whether `span` names a year, a month or weekday, or a duration.
pub fn is_time(span: &str) -> bool {
    const TIME_WORDS: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "year",
        "years",
        "month",
        "months",
        "week",
        "weeks",
        "day",
        "days",
        "hour",
        "hours",
        "decade",
        "decades",
        "century",
        "centuries",
        "s",
    ];
    text::words(span).iter().any(|w| {
        TIME_WORDS.contains(&w.as_str())
            || (w.len() == 4
                && w.chars().all(|c| c.is_ascii_digit())
                && ("1000".."2100").contains(&w.as_str()))
            || w.ends_with("0s") && w[..w.len() - 1].chars().all(|c| c.is_ascii_digit())
    })
}

/// Whether `word` (lower case) is a number written out ("six", "thousands", "half").
pub fn is_number_word(word: &str) -> bool {
    SMALL_NUMBERS.contains(&word) || NUMBER_WORDS.contains(&word)
}

/// The numbers from zero to twenty written out, each at its value.
pub const SMALL_NUMBERS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// Other numbers and quantities written out.
const NUMBER_WORDS: &[&str] = &[
    "dozen",
    "dozens",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "billions",
    "half",
    "twice",
    "single",
    "double",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_words_say_what_is_asked() {
        assert_eq!(asks_for("Who replaced Zaluzhny?"), Some(Asked::Person));
        assert_eq!(asks_for("Where did the army land?"), Some(Asked::Place));
        assert_eq!(asks_for("In which country is Kursk?"), Some(Asked::Place));
        assert_eq!(
            asks_for("How quickly did Kyiv get approval?"),
            Some(Asked::Duration)
        );
        assert_eq!(
            asks_for("In how many days was it built?"),
            Some(Asked::Quantity)
        );
        assert_eq!(asks_for("What did the Kremlin deploy?"), None);
    }

    #[test]
    fn yes_or_no_questions_open_with_a_verb_and_offer_no_choice() {
        assert!(is_yes_no("Is General Zaluzhny still the army chief?"));
        assert!(is_yes_no("Did Ukraine get approval to strike Russia?"));
        assert!(is_yes_no("And doesn’t Russia want Mariupol?"));
        assert!(is_yes_no("Can BSkyB veto a channel?"));
        assert!(!is_yes_no("Is the output simple or complex?"));
        assert!(!is_yes_no("Who replaced Zaluzhny?"));
        assert!(!is_yes_no("Island nations: which are named?"));
        assert!(!is_yes_no(""));
    }
}
