//! What a model's question is asked to be answered by: a span of its sentence and the kind of
//! answer it is (a name, a number or date, a reason, a consequence), and the checks that
//! tie the question to it: the question asks for that kind of answer and does not already
//! hold it.
#[cfg(test)]
use crate::answer::question_kind::asks_for;
use crate::answer::question_kind::{is_time, Asked};
use crate::text;

/// The kind of answer a span gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// "General Syrsky", "Storm Shadows".
    Name,
    /// "72 hours", "1,200 square", "August".
    Number,
    /// Why something is or was done: "because …", "to prevent …", "in order to …".
    Reason,
    /// What something led to: "led to …", "resulting in …".
    Consequence,
}

/// A span of a sentence and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub text: String,
    pub kind: SpanKind,
}

impl Span {
    pub fn new(text: impl Into<String>, kind: SpanKind) -> Span {
        Span {
            text: text.into(),
            kind,
        }
    }

    /// How the model is asked to word its question for this span.
    pub fn request(&self) -> &'static str {
        match self.kind {
            SpanKind::Name | SpanKind::Number => "Write one question",
            SpanKind::Reason => "Write one question beginning with \"Why\"",
            SpanKind::Consequence => "Write one question about what it led to",
        }
    }

    /// Whether `answer` gives this span: a name or a number whole; a reason or a consequence
    /// by most of its content words (the reader shortens a clause).
    pub fn answered_by(&self, answer: &str) -> bool {
        match self.kind {
            SpanKind::Name | SpanKind::Number => text::contains_normalised(answer, &self.text),
            SpanKind::Reason | SpanKind::Consequence => {
                let wanted: Vec<String> = text::content_words(&self.text)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                if wanted.is_empty() {
                    return false;
                }
                let said = text::content_words(answer);
                let said: Vec<&str> = said.split_whitespace().collect();
                let found = wanted.iter().filter(|w| said.contains(&w.as_str())).count();
                found * 5 >= wanted.len() * 3
            }
        }
    }
}

/// Markers that open a reason or a consequence clause, and its kind.
const CLAUSE_MARKERS: &[(&str, SpanKind)] = &[
    ("because of", SpanKind::Reason),
    ("because", SpanKind::Reason),
    ("due to", SpanKind::Reason),
    ("in order to", SpanKind::Reason),
    ("so as to", SpanKind::Reason),
    ("aims to", SpanKind::Reason),
    ("aimed to", SpanKind::Reason),
    ("aiming to", SpanKind::Reason),
    ("seeks to", SpanKind::Reason),
    ("to prevent", SpanKind::Reason),
    ("to avoid", SpanKind::Reason),
    ("goal of", SpanKind::Reason),
    ("in an effort to", SpanKind::Reason),
    ("in a bid to", SpanKind::Reason),
    ("so that", SpanKind::Reason),
    ("led to", SpanKind::Consequence),
    ("leads to", SpanKind::Consequence),
    ("leading to", SpanKind::Consequence),
    ("resulted in", SpanKind::Consequence),
    ("resulting in", SpanKind::Consequence),
    ("caused", SpanKind::Consequence),
    ("causing", SpanKind::Consequence),
];

/// The reason and consequence clauses of a sentence: from a marker to the next comma, dash,
/// semicolon or the end, of 3 to 14 words (a purpose keeps its "to": "aims to prevent
/// Ukraine from…" gives "to prevent Ukraine from…").
pub fn clauses(sentence: &str) -> Vec<Span> {
    let lower = sentence.to_lowercase();
    let mut out: Vec<Span> = Vec::new();
    let mut taken: Vec<usize> = Vec::new();
    for (marker, kind) in CLAUSE_MARKERS {
        let mut from = 0;
        while let Some(i) = lower[from..].find(marker).map(|i| i + from) {
            from = i + marker.len();
            let before_ok = i == 0 || !lower[..i].ends_with(|c: char| c.is_alphanumeric());
            let after_ok = !lower[from..].starts_with(|c: char| c.is_alphanumeric());
            // "because" inside "because of" was taken with the longer marker.
            if !before_ok || !after_ok || taken.iter().any(|t| *t <= i && i < t + 12) {
                continue;
            }
            taken.push(i);
            let start = if marker.starts_with("to ") {
                i
            } else if *kind == SpanKind::Reason && marker.ends_with(" to") {
                from - 2
            } else {
                from
            };
            let rest = &sentence[start..];
            let end = rest
                .find([',', ';', '—', '.', '?', '!', '(', ':'])
                .unwrap_or(rest.len());
            let clause = rest[..end].trim();
            let n = text::words(clause).len();
            if (3..=14).contains(&n) {
                out.push(Span::new(clause, *kind));
            }
        }
    }
    out
}

/// The part of `sentence` that holds a reason or consequence `span`: from the last clause
/// boundary before it (a comma, a semicolon, "while", "whereas") to the span's end. The model
/// asked about the whole sentence of "For two months, Kyiv has paused …, while the Kremlin
/// has deployed North Korean reinforcements … with the explicit goal of dislodging Ukrainian
/// forces" wrote "Why did Kyiv pause offensive moves … while the Kremlin deployed …"; asked
/// about "the Kremlin has deployed … dislodging Ukrainian forces", it asks about the Kremlin.
/// The whole sentence when the span is of another kind, is not found, or its part would be
/// shorter than 6 words.
pub fn host_clause<'a>(sentence: &'a str, span: &Span) -> &'a str {
    if !matches!(span.kind, SpanKind::Reason | SpanKind::Consequence) {
        return sentence;
    }
    let Some(at) = sentence.find(span.text.as_str()) else {
        return sentence;
    };
    let end = at + span.text.len();
    let before = &sentence[..at];
    let lower = before.to_lowercase();
    let boundary = [", while ", ", whereas ", "; ", ", "]
        .iter()
        .filter_map(|b| lower.rfind(b).map(|i| i + b.len()))
        .max();
    match boundary {
        Some(start) if text::words(&sentence[start..end]).len() >= 6 => sentence[start..end].trim(),
        _ => sentence,
    }
}

/// What a reason `span` explains: its host clause ([`host_clause`]) up to the connector that
/// opens the reason ("the Kremlin has deployed North Korean reinforcements to the region",
/// for "… with the explicit goal of dislodging Ukrainian forces"). Asked for a "Why"
/// question about the claim alone, the model cannot copy the answer into it. `None` for
/// other kinds, or when the claim would be shorter than 4 words.
pub fn claim<'a>(sentence: &'a str, span: &Span) -> Option<&'a str> {
    if span.kind != SpanKind::Reason {
        return None;
    }
    let host = host_clause(sentence, span);
    let at = host.find(span.text.as_str())?;
    let before = &host[..at];
    let lower = before.to_lowercase();
    const CONNECTORS: &[&str] = &[
        " with ",
        " because",
        " due to",
        " in order",
        " so as",
        " so that",
        " in an effort",
        " in a bid",
        " aims",
        " aimed",
        " aiming",
        " seeks",
        " to ",
    ];
    let cut = CONNECTORS
        .iter()
        .filter_map(|c| lower.rfind(c))
        .max()
        .unwrap_or(before.len());
    let claim = before[..cut].trim().trim_end_matches([',', ';']);
    (text::words(claim).len() >= 4).then_some(claim)
}

/// Whether a question asking for `asked` can be answered by `span`.
pub fn fits(asked: Option<Asked>, span: &Span) -> bool {
    match asked {
        None => true,
        Some(Asked::Person | Asked::Place) => span.kind == SpanKind::Name,
        Some(Asked::Duration) => span.kind == SpanKind::Number,
        Some(Asked::Time) => span.kind == SpanKind::Number && is_time(&span.text),
        Some(Asked::Quantity) => span.kind == SpanKind::Number && !is_time(&span.text),
        Some(Asked::Reason) => matches!(span.kind, SpanKind::Reason | SpanKind::Consequence),
    }
}

/// Whether the question already holds its own span, and so asks about it rather than for
/// it: a name or number named in it ("What is the location of Kursk?" made for "Kursk"), a
/// clause most of whose content words it uses ("What led to the catastrophic losses against
/// Wagner assaults?").
pub fn gives_away(question: &str, span: &Span) -> bool {
    match span.kind {
        SpanKind::Name | SpanKind::Number => text::contains_normalised(question, &span.text),
        SpanKind::Reason | SpanKind::Consequence => span.answered_by(question),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clause_is_asked_about_with_the_part_of_the_sentence_that_holds_it() {
        let sentence = "For two months, Kyiv has paused offensive moves in Russia’s southwestern \
            province, while the Kremlin has deployed North Korean reinforcements to the region \
            with the explicit goal of dislodging Ukrainian forces at any cost.";
        let spans = clauses(sentence);
        let goal = spans
            .iter()
            .find(|s| s.text == "dislodging Ukrainian forces at any cost")
            .unwrap_or_else(|| panic!("{spans:?}"));
        assert_eq!(
            host_clause(sentence, goal),
            "the Kremlin has deployed North Korean reinforcements to the region with the \
             explicit goal of dislodging Ukrainian forces at any cost"
        );
        assert_eq!(
            claim(sentence, goal),
            Some("the Kremlin has deployed North Korean reinforcements to the region")
        );
        // A name is asked about with its whole sentence; so is a clause whose part is short.
        let name = Span::new("Kremlin", SpanKind::Name);
        assert_eq!(host_clause(sentence, &name), sentence);
        let short = "Prices rose, causing protests in the capital.";
        let caused = &clauses(short)[0];
        assert_eq!(host_clause(short, caused), short);
        assert_eq!(claim(short, caused), None, "a consequence has no claim");
        let purpose = "He aims to prevent the establishment of a narrative.";
        let aim = &clauses(purpose)[0];
        assert_eq!(claim(purpose, aim), None, "\"He\" is too short a claim");
    }

    #[test]
    fn reason_and_consequence_clauses_are_found() {
        let s = "Zelensky’s insistence on holding the city led to catastrophic losses against relentless Wagner assaults.";
        assert_eq!(
            clauses(s),
            vec![Span::new(
                "catastrophic losses against relentless Wagner assaults",
                SpanKind::Consequence
            )]
        );
        let s = "He aims to prevent Ukraine from using Kursk as a bargaining chip, while troops advance.";
        assert_eq!(
            clauses(s),
            vec![Span::new(
                "to prevent Ukraine from using Kursk as a bargaining chip",
                SpanKind::Reason
            )]
        );
        let s = "The match was delayed because of heavy rain over the stadium.";
        assert_eq!(
            clauses(s),
            vec![Span::new("heavy rain over the stadium", SpanKind::Reason)]
        );
        // Too short a clause, and a marker inside a word.
        assert!(clauses("It failed because money.").is_empty());
        assert!(clauses("The uncaused motion continued for years.").is_empty());
    }

    #[test]
    fn a_question_must_ask_for_what_its_span_gives() {
        let area = Span::new("1,200 square", SpanKind::Number);
        let month = Span::new("August", SpanKind::Number);
        let general = Span::new("General Syrsky", SpanKind::Name);
        let why = Span::new("to prevent Ukraine from using Kursk", SpanKind::Reason);
        let q = "What year did the 1,200 square kilometers come under Ukrainian control?";
        assert_eq!(asks_for(q), Some(Asked::Time));
        assert!(!fits(asks_for(q), &area));
        assert!(fits(
            asks_for("Since which month has Kyiv held Kursk?"),
            &month
        ));
        assert!(fits(
            asks_for("How many square kilometers does Ukraine hold?"),
            &area
        ));
        assert!(!fits(
            asks_for("How many square kilometers does Ukraine hold?"),
            &month
        ));
        assert!(fits(asks_for("Who replaced General Zaluzhny?"), &general));
        assert!(!fits(asks_for("Who replaced General Zaluzhny?"), &area));
        assert!(fits(
            asks_for("Why does Putin want Kursk out of focus?"),
            &why
        ));
        assert!(!fits(
            asks_for("Why was General Zaluzhny replaced?"),
            &general
        ));
        assert!(fits(asks_for("Which general replaced Zaluzhny?"), &general));
        assert!(fits(asks_for("How long did Kyiv pause?"), &month));
    }

    #[test]
    fn a_question_holding_its_answer_gives_it_away() {
        let kursk = Span::new("Kursk", SpanKind::Name);
        assert!(gives_away("What is the location of Kursk?", &kursk));
        assert!(!gives_away(
            "Which Russian province does Ukraine hold?",
            &kursk
        ));
        let why = Span::new("to prevent Ukraine from using Kursk", SpanKind::Reason);
        assert!(!gives_away("Why does Putin want Kursk out of focus?", &why));
        let losses = Span::new(
            "catastrophic losses against relentless Wagner assaults",
            SpanKind::Consequence,
        );
        assert!(gives_away(
            "What led to the catastrophic losses against Wagner assaults?",
            &losses
        ));
        assert!(!gives_away(
            "What did Zelensky's insistence on holding Bakhmut lead to?",
            &losses
        ));
    }

    #[test]
    fn a_clause_is_answered_by_most_of_its_words() {
        let why = Span::new(
            "to prevent Ukraine from using Kursk as a bargaining chip",
            SpanKind::Reason,
        );
        assert!(why.answered_by("To prevent Ukraine from using Kursk as a bargaining chip [1]."));
        assert!(why.answered_by("Ukraine using Kursk as a bargaining chip"));
        assert!(!why.answered_by("To keep the Kursk issue out of focus"));
        let name = Span::new("General Syrsky", SpanKind::Name);
        assert!(name.answered_by("The seasoned General Syrsky [1]."));
        assert!(!name.answered_by("Syrsky"));
    }
}
