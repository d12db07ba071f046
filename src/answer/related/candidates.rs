//! Candidate questions for one sentence: grounded templates on the names it holds, and the
//! model's questions whose answer is a span of it (a name or a number).
use super::span::{self, Span, SpanKind};
use super::Source;
use crate::answer::prompt::PromptStyle;
use crate::llm::{ChatMessage, GenerateParams, LanguageModel};
use std::cell::Cell;

/// A proposed question, before verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub question: String,
    /// The name or span it is about.
    pub focus: String,
    pub source: Source,
    /// For a model's question: the span its answer must give.
    pub span: Option<Span>,
}

/// The candidates of one sentence: (with a model) up to two of its questions first, since
/// they are specific, then the grounded templates. Lazy: the model writes a question only
/// when the caller takes it, and none once the caller sets `enough_written`.
pub fn for_sentence<'a>(
    sentence: &'a str,
    model: Option<&'a dyn LanguageModel>,
    enough_written: &'a Cell<bool>,
) -> impl Iterator<Item = Candidate> + 'a {
    let spans = if model.is_some() {
        answer_spans(sentence).into_iter().take(2).collect()
    } else {
        Vec::new()
    };
    let written = spans.into_iter().filter_map(move |span| {
        if enough_written.get() {
            return None;
        }
        let question = model_candidate(model?, sentence, &span)?;
        Some(Candidate {
            question,
            focus: span.text.clone(),
            source: Source::Model,
            span: Some(span),
        })
    });
    let templates = template_candidates(sentence)
        .into_iter()
        .map(|(question, focus)| Candidate {
            question,
            focus,
            source: Source::Template,
            span: None,
        });
    written.chain(templates)
}

/// Capitalised runs of words in a sentence: "General Syrsky", "North Korean", "Storm
/// Shadows". A run at the start of the sentence counts only with two or more words, and its
/// first word only when it is no function word ("When Sky Digital was launched …": "Sky
/// Digital").
pub fn entities(sentence: &str) -> Vec<String> {
    const NOT_NAMES: &[&str] = &[
        "The",
        "A",
        "An",
        "On",
        "In",
        "It",
        "He",
        "She",
        "They",
        "For",
        "If",
        "While",
        "Over",
        "This",
        "That",
        "These",
        "Those",
        "But",
        "And",
        "Or",
        "As",
        "At",
        "By",
        "With",
        "Within",
        "Following",
        "Air",
        "His",
        "Her",
        "Its",
        "Their",
        "Despite",
        "Regardless",
    ];
    let tokens: Vec<&str> = sentence.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut run_starts_sentence = false;
    let flush = |run: &mut Vec<String>, starts: bool, out: &mut Vec<String>| {
        if !run.is_empty() && (!starts || run.len() >= 2) {
            let name = run.join(" ");
            if !out.contains(&name) {
                out.push(name);
            }
        }
        run.clear();
    };
    for (i, raw) in tokens.iter().enumerate() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let word = word
            .strip_suffix("’s")
            .or_else(|| word.strip_suffix("'s"))
            .unwrap_or(word);
        let capital = word.chars().next().is_some_and(char::is_uppercase)
            && word.chars().count() > 1
            && !NOT_NAMES.contains(&word)
            && !(i == 0 && crate::text::is_stop_word(&word.to_lowercase()));
        if capital {
            if run.is_empty() {
                run_starts_sentence = i == 0;
            }
            run.push(word.to_string());
        }
        // A run ends at a non-name word or at punctuation after this word.
        let ends_here = !capital
            || raw.ends_with([',', '.', ';', ':', '—', '?', '!', '”', ')'])
            || raw.contains('—');
        if ends_here {
            flush(&mut run, run_starts_sentence, &mut out);
        }
    }
    flush(&mut run, run_starts_sentence, &mut out);
    out
}

const TITLES: &[&str] = &[
    "General",
    "President",
    "Minister",
    "Chancellor",
    "Prime",
    "King",
    "Queen",
    "Pope",
    "Senator",
    "Governor",
];

/// "Ukrainian", "North Korean", "British": adjectives of nationality name no subject to ask
/// about on their own.
fn is_demonym(entity: &str) -> bool {
    let last = entity.split_whitespace().last().unwrap_or("");
    ["ian", "ean", "ish", "ese", "ench", "ic"]
        .iter()
        .any(|suffix| last.ends_with(suffix))
        || matches!(
            last,
            "American" | "European" | "Russian" | "Korean" | "African"
        )
}

/// Months and weekdays are capitalised but are no subject: "What does the article say about
/// August?" invites an invented answer.
fn is_calendar_word(entity: &str) -> bool {
    const CALENDAR: &[&str] = &[
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    entity.split_whitespace().all(|w| CALENDAR.contains(&w))
}

/// Grounded template questions for one sentence.
fn template_candidates(sentence: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in entities(sentence)
        .into_iter()
        .filter(|e| !is_demonym(e) && !is_calendar_word(e))
    {
        let first = e.split_whitespace().next().unwrap_or("");
        if TITLES.contains(&first) && e.split_whitespace().count() >= 2 {
            out.push((format!("Who is {e}?"), e.clone()));
        } else {
            out.push((format!("{}{e}?", super::GENERIC_OPENING), e.clone()));
        }
    }
    out
}

/// Spans of a sentence worth asking about: its reason and consequence clauses first (the
/// why and what-next questions), then names, then numbers with the word after them.
fn answer_spans(sentence: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = span::clauses(sentence);
    spans.extend(entities(sentence).into_iter().map(|e| {
        let kind = if is_calendar_word(&e) {
            SpanKind::Number
        } else {
            SpanKind::Name
        };
        Span::new(e, kind)
    }));
    let tokens: Vec<&str> = sentence.split_whitespace().collect();
    for (i, t) in tokens.iter().enumerate() {
        let w = t.trim_matches(|c: char| !c.is_alphanumeric());
        if w.chars().any(|c| c.is_ascii_digit()) {
            let unit = tokens
                .get(i + 1)
                .map(|u| u.trim_matches(|c: char| !c.is_alphanumeric()))
                .unwrap_or("");
            spans.push(Span::new(format!("{w} {unit}").trim(), SpanKind::Number));
        }
    }
    spans
}

const FEW_SHOT: &str = "Write one question that is answered by the given answer, using the sentence.\n\n\
Sentence: The bridge over the river was opened in 1932 by Mayor Clark.\nAnswer: 1932\nQuestion: When was the bridge over the river opened?\n\n\
Sentence: The bridge over the river was opened in 1932 by Mayor Clark.\nAnswer: Mayor Clark\nQuestion: Who opened the bridge over the river?\n\n\
Sentence: Farmers moved their herds to the hills because the valley flooded every spring.\nAnswer: the valley flooded every spring\nQuestion: Why did farmers move their herds to the hills?\n\n";

/// Asks the model for a question whose answer is `span`. SmolLM2 follows the examples of a
/// few-shot prompt; Qwen2.5-0.5B copies their questions instead, and follows a plain request.
fn model_candidate(model: &dyn LanguageModel, sentence: &str, span: &Span) -> Option<String> {
    let answer = &span.text;
    let sentence = span::host_clause(sentence, span);
    let prompt = match PromptStyle::for_model(model.name()) {
        PromptStyle::Sentence => {
            format!("{FEW_SHOT}Sentence: {sentence}\nAnswer: {answer}\nQuestion:")
        }
        // A reason's question is asked about what the reason explains, without it: given
        // the reason too, the model copies it into its question.
        PromptStyle::Phrase => match span::claim(sentence, span) {
            Some(claim) => format!(
                "Sentence: {claim}\n\nWrite one question beginning with \"Why\" about this sentence. Reply with the question only."
            ),
            None => format!(
                "Sentence: {sentence}\n\n{} that this sentence answers with \"{answer}\". Reply with the question only.",
                span.request()
            ),
        },
    };
    let params = GenerateParams {
        max_tokens: 32,
        stop: vec!["\n".to_string()],
        ..GenerateParams::default()
    };
    let stream = model
        .generate(vec![ChatMessage::user(prompt)], params)
        .ok()?;
    let (text, _) = stream.collect_blocking().ok()?;
    let q = text
        .trim()
        .trim_start_matches("Question:")
        .trim()
        .trim_matches('"')
        .to_string();
    let q = match q.find('?') {
        Some(i) => q[..=i].to_string(),
        None => q,
    };
    (!q.is_empty()).then_some(q)
}

/// Asks the model for a question about `entity` whose answer needs both sentences (Qwen
/// only: SmolLM2 does not follow the request).
pub fn linking_candidate(
    model: &dyn LanguageModel,
    first: &str,
    second: &str,
    entity: &str,
) -> Option<String> {
    if PromptStyle::for_model(model.name()) != PromptStyle::Phrase {
        return None;
    }
    let prompt = format!(
        "Sentence 1: {first}\nSentence 2: {second}\n\nWrite one short question about {entity} that needs both sentences to answer. Reply with the question only."
    );
    let params = GenerateParams {
        max_tokens: 32,
        stop: vec!["\n".to_string()],
        ..GenerateParams::default()
    };
    let (text, _) = model
        .generate(vec![ChatMessage::user(prompt)], params)
        .ok()?
        .collect_blocking()
        .ok()?;
    let q = text
        .trim()
        .trim_start_matches("Question:")
        .trim()
        .trim_matches('"');
    let q = match q.find('?') {
        Some(i) => &q[..=i],
        None => q,
    };
    (!q.is_empty()).then(|| q.to_string())
}

/// Pairs of sentences (by position) far apart in an article that name the same subject, with
/// it: for each name, in order of first mention, its first mention and its next one at least
/// `min_gap` sentences later. Nationalities and dates are no subject.
pub fn linked_pairs(sentences: &[&str], min_gap: usize) -> Vec<(usize, usize, String)> {
    let mut first_seen: Vec<(String, usize)> = Vec::new();
    let mut out: Vec<(usize, usize, String)> = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        for e in entities(s) {
            if is_demonym(&e) || is_calendar_word(&e) {
                continue;
            }
            match first_seen.iter().find(|(name, _)| *name == e) {
                None => first_seen.push((e, i)),
                Some((_, at)) => {
                    if i >= at + min_gap && !out.iter().any(|(_, _, name)| *name == e) {
                        out.push((*at, i, e));
                    }
                }
            }
        }
    }
    // In order of the subject's first mention.
    out.sort_by_key(|(a, b, _)| (*a, *b));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_capitalised_runs() {
        let s = "The highly popular General Zaluzhny, who spearheaded Ukraine’s defense in Kyiv and later in Kherson, was replaced by the seasoned General Syrsky.";
        assert_eq!(
            entities(s),
            vec![
                "General Zaluzhny",
                "Ukraine",
                "Kyiv",
                "Kherson",
                "General Syrsky"
            ]
        );
        assert_eq!(
            entities("Vladimir Putin is determined."),
            vec!["Vladimir Putin"]
        );
        assert!(entities("Kyiv attacked.").is_empty());
        // A sentence's opening function word is no part of the name after it.
        assert_eq!(
            entities("When Sky Digital was launched in 1998 the service used Astra 2A."),
            vec!["Sky Digital", "Astra"]
        );
    }

    #[test]
    fn linked_pairs_join_far_mentions_of_one_subject() {
        let sentences = [
            "Kyiv struck targets in Kursk with British missiles.",
            "General Syrsky leads the army.",
            "Moscow wants Kursk back.",
            "The British government approved it.",
            "For Ukraine, Kursk is a bargaining chip in August.",
        ];
        assert_eq!(
            linked_pairs(&sentences, 2),
            vec![(0, 2, "Kursk".to_string())]
        );
        assert_eq!(
            linked_pairs(&sentences, 4),
            vec![(0, 4, "Kursk".to_string())]
        );
    }

    #[test]
    fn templates_skip_nationalities_and_dates() {
        let qs: Vec<String> = template_candidates(
            "Kyiv holds Kursk since August with British weapons, as General Syrsky said.",
        )
        .into_iter()
        .map(|(q, _)| q)
        .collect();
        assert_eq!(
            qs,
            vec![
                "What does the article say about Kursk?",
                "Who is General Syrsky?",
            ]
        );
    }
}
