//! What kind of answer a question asks for, by its opening words ("Who…" a person, "When…"
//! a time, "How many…" a quantity, "Why…" a reason), and whether a sentence offers one it does
//! not already hold. The suggested questions must ask for the kind of answer their span gives;
//! evidence selection can prefer such sentences (`AnswerConfig::answer_kind_bonus`, off by
//! default).
use super::text;

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

/// Markers of a stated reason or purpose.
const REASON_MARKERS: &[&str] = &[
    "because",
    "due to",
    "owing to",
    "in order to",
    "so as to",
    "so that",
    "aim",
    "aims",
    "aimed",
    "goal",
    "purpose",
    "reason",
    "to prevent",
    "to avoid",
    "to ensure",
    "as a result",
    "in response",
];

/// Whether `sentence` offers the kind of answer `question` asks for, beyond what the
/// question already says: a name it does not hold for "Who…" or "Where…", a number or a time
/// for "How many…" or "When…", a stated reason for "Why…".
pub fn offers(asked: Asked, sentence: &str, question: &str) -> bool {
    let known = text::normalise(question);
    let known: Vec<&str> = known.split_whitespace().collect();
    let new_word = |w: &String| !known.contains(&w.as_str());
    match asked {
        Asked::Person | Asked::Place => text::facts(sentence).iter().any(|f| {
            !f.chars().any(|c| c.is_ascii_digit())
                && !is_time(f)
                && !text::normalise(f)
                    .split_whitespace()
                    .all(|w| known.contains(&w))
        }),
        Asked::Time => text::words(sentence)
            .iter()
            .any(|w| new_word(w) && is_time(w)),
        Asked::Quantity => text::words(sentence).iter().any(|w| {
            new_word(w)
                && (w.chars().any(|c| c.is_ascii_digit()) || NUMBER_WORDS.contains(&w.as_str()))
        }),
        Asked::Duration => {
            offers(Asked::Time, sentence, question) || offers(Asked::Quantity, sentence, question)
        }
        Asked::Reason => {
            let lower = format!(" {} ", text::normalise(sentence));
            REASON_MARKERS
                .iter()
                .any(|m| lower.contains(&format!(" {m} ")))
        }
    }
}

/// Whether `word` (lower case) is a number written out ("six", "thousands", "half").
pub fn is_number_word(word: &str) -> bool {
    NUMBER_WORDS.contains(&word)
}

/// Numbers written out.
const NUMBER_WORDS: &[&str] = &[
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
    fn a_sentence_offers_what_the_question_does_not_hold() {
        let q = "How quickly did Kyiv get the green light to fire arms into its neighbour?";
        assert_eq!(asks_for(q), Some(Asked::Duration));
        let asked = Asked::Duration;
        assert!(offers(
            asked,
            "Within 72 hours, Ukraine received approval from the U.S.",
            q
        ));
        assert!(!offers(
            asked,
            "Ukraine received approval to use advanced weapons.",
            q
        ));
        let q = "Who replaced General Zaluzhny?";
        assert!(offers(
            Asked::Person,
            "Zaluzhny was replaced by General Syrsky.",
            q
        ));
        assert!(!offers(
            Asked::Person,
            "He was replaced by General Zaluzhny.",
            q
        ));
        assert!(offers(
            Asked::Reason,
            "They paused because the rain came.",
            "Why?"
        ));
        assert!(!offers(Asked::Reason, "They paused for the rain.", "Why?"));
    }
}
