//! Related questions: suggestions a reader would ask and the corpus answers. Candidates come
//! from grounded templates on each passage's named entities and from the model (asked for a
//! question whose answer is a given span); every candidate is verified (well-formed, nothing
//! invented, and a round trip through the answer pipeline lands on its source) and answered
//! ahead of time, so clicking a suggestion costs no model time.
use super::{text, AnswerRequest, AnswerResult, Answerer};
use crate::corpus::Article;
use crate::index::SearchIndex;
use crate::llm::{ChatMessage, GenerateParams};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// Where a suggestion came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Template,
    Model,
    Reader,
}

/// A verified question with its answer, computed ahead of time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suggestion {
    pub question: String,
    pub source: Source,
    pub article_id: String,
    /// The sentence the question was made from (byte range in the article).
    pub sentence: Range<usize>,
    /// The entity or span the question is about (for diversity).
    pub focus: String,
    pub answer: AnswerResult,
}

/// Counts of candidates and kept questions per source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Yield {
    pub candidates: HashMap<String, usize>,
    pub kept: HashMap<String, usize>,
    pub rejected: HashMap<String, usize>,
}

impl Yield {
    fn add(&mut self, map: &str, source: Source, reason: Option<&str>) {
        let key = format!("{source:?}").to_lowercase();
        match map {
            "candidates" => *self.candidates.entry(key).or_default() += 1,
            "kept" => *self.kept.entry(key).or_default() += 1,
            _ => {
                *self
                    .rejected
                    .entry(format!("{key}: {}", reason.unwrap_or("?")))
                    .or_default() += 1
            }
        }
    }
}

const QUESTION_OPENERS: &[&str] = &[
    "who", "what", "when", "where", "which", "why", "how", "whose", "whom", "is", "are", "was",
    "were", "do", "does", "did", "can", "could", "will", "would", "has", "have", "had", "should",
];

/// Why a question is not well-formed, if it is not: a question word or auxiliary first, ends
/// with "?", 4–16 words, no "the text"/"the passage", no pronoun without its referent, no
/// repeated phrase.
pub fn well_formed(question: &str) -> Result<(), &'static str> {
    let q = question.trim();
    if !q.ends_with('?') || q.matches('?').count() != 1 {
        return Err("does not end with one question mark");
    }
    let words = text::words(q);
    if words.len() < 4 || words.len() > 16 {
        return Err("not 4–16 words");
    }
    if !QUESTION_OPENERS.contains(&words[0].as_str()) {
        return Err("does not open with a question word");
    }
    let lower = q.to_lowercase();
    if [
        "the text",
        "the passage",
        "the evidence",
        "this text",
        "the sentence",
        "the author",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return Err("refers to the text instead of the subject");
    }
    // "that" is left out: in a question it is mostly a conjunction ("the claim that…").
    if words.iter().any(|w| text::is_pronoun(w) && w != "that") {
        return Err("pronoun without a referent");
    }
    let bigrams: Vec<(String, String)> = words
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    let unique: HashSet<&(String, String)> = bigrams.iter().collect();
    if unique.len() < bigrams.len() {
        return Err("repeats a phrase");
    }
    Ok(())
}

/// The first number, date or capitalised name in `question` that occurs nowhere in the
/// corpus, if any.
pub fn invented(question: &str, index: &SearchIndex) -> Option<String> {
    let all = index.vocabulary();
    text::facts(question).into_iter().find(|f| {
        let words = text::words(f);
        words.is_empty() || !words.iter().all(|w| all.contains(w))
    })
}

/// Capitalised runs of words in a sentence: "General Syrsky", "North Korean", "Storm
/// Shadows". A run at the start of the sentence counts only with two or more words.
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
            && !NOT_NAMES.contains(&word);
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
            out.push((format!("What does the article say about {e}?"), e.clone()));
        }
    }
    out
}

/// Spans of a sentence worth asking about: names and numbers with the word after them.
fn answer_spans(sentence: &str) -> Vec<String> {
    let mut spans: Vec<String> = entities(sentence);
    let tokens: Vec<&str> = sentence.split_whitespace().collect();
    for (i, t) in tokens.iter().enumerate() {
        let w = t.trim_matches(|c: char| !c.is_alphanumeric());
        if w.chars().any(|c| c.is_ascii_digit()) {
            let unit = tokens
                .get(i + 1)
                .map(|u| u.trim_matches(|c: char| !c.is_alphanumeric()))
                .unwrap_or("");
            spans.push(format!("{w} {unit}").trim().to_string());
        }
    }
    spans
}

const FEW_SHOT: &str = "Write one question that is answered by the given answer, using the sentence.\n\n\
Sentence: The bridge over the river was opened in 1932 by Mayor Clark.\nAnswer: 1932\nQuestion: When was the bridge over the river opened?\n\n\
Sentence: The bridge over the river was opened in 1932 by Mayor Clark.\nAnswer: Mayor Clark\nQuestion: Who opened the bridge over the river?\n\n\
Sentence: Farmers moved their herds to the hills because the valley flooded every spring.\nAnswer: the valley flooded every spring\nQuestion: Why did farmers move their herds to the hills?\n\n";

/// Asks the model for a question whose answer is `span`.
fn model_candidate(answerer: &Answerer, sentence: &str, span: &str) -> Option<String> {
    let prompt = format!("{FEW_SHOT}Sentence: {sentence}\nAnswer: {span}\nQuestion:");
    let params = GenerateParams {
        max_tokens: 32,
        stop: vec!["\n".to_string()],
        ..GenerateParams::default()
    };
    let stream = answerer
        .model
        .generate(vec![ChatMessage::user(prompt)], params)
        .ok()?;
    let (text, _) = stream.collect_blocking().ok()?;
    let q = text
        .trim()
        .trim_start_matches("Question:")
        .trim()
        .to_string();
    let q = match q.find('?') {
        Some(i) => q[..=i].to_string(),
        None => q,
    };
    (!q.is_empty()).then_some(q)
}

/// Verifies a candidate. A template candidate is checked without the model (its answer is
/// made later, only if it is kept); a model candidate (`span` given) is answered now, since
/// its answer must hold the span.
fn verify(
    answerer: &Answerer,
    article: &Article,
    sentence: &Range<usize>,
    question: &str,
    span: Option<&str>,
) -> Result<Option<AnswerResult>, &'static str> {
    well_formed(question)?;
    if invented(question, &answerer.index).is_some() {
        return Err("names something the corpus does not");
    }
    let request = AnswerRequest {
        question: question.to_string(),
        ..AnswerRequest::default()
    };
    let prepared = answerer.prepare(&request).map_err(|_| "pipeline error")?;
    if prepared.decline.is_some() {
        return Err("the pipeline declines it");
    }
    let lands = prepared.evidence.iter().any(|e| {
        e.article_id == article.id && e.range.start <= sentence.start && sentence.end <= e.range.end
    });
    if !lands {
        return Err("its evidence is not the source sentence");
    }
    let Some(span) = span else {
        return Ok(None);
    };
    let result = answerer.ask(&request).map_err(|_| "pipeline error")?;
    if result.declined {
        return Err("the pipeline declines it");
    }
    if !text::contains_normalised(&result.answer, span) {
        return Err("the answer misses the target span");
    }
    Ok(Some(result))
}

/// A verified candidate; its answer is made once it is kept.
#[derive(Debug, Clone)]
pub struct Verified {
    pub question: String,
    pub source: Source,
    pub sentence: Range<usize>,
    pub focus: String,
    pub answer: Option<AnswerResult>,
}

/// Finds the verified candidates of one article.
pub fn verified_for_article(
    answerer: &Answerer,
    article: &Article,
    use_model: bool,
) -> (Vec<Verified>, Yield) {
    let mut yields = Yield::default();
    let mut kept: Vec<Verified> = Vec::new();
    let mut seen_questions: HashSet<String> = HashSet::new();
    let mut sentences: Vec<Range<usize>> = Vec::new();
    for p in answerer.index.passages_of(&article.id) {
        for s in &p.sentences {
            if !sentences.contains(s) {
                sentences.push(s.clone());
            }
        }
    }
    for sentence in &sentences {
        let s_text = &article.text[sentence.clone()];
        let mut candidates: Vec<(String, String, Source, Option<String>)> =
            template_candidates(s_text)
                .into_iter()
                .map(|(q, focus)| (q, focus, Source::Template, None))
                .collect();
        if use_model {
            for span in answer_spans(s_text).into_iter().take(2) {
                if let Some(q) = model_candidate(answerer, s_text, &span) {
                    candidates.push((q, span.clone(), Source::Model, Some(span)));
                }
            }
        }
        for (question, focus, source, span) in candidates {
            yields.add("candidates", source, None);
            if !seen_questions.insert(text::normalise(&question)) {
                yields.add("rejected", source, Some("duplicate"));
                continue;
            }
            match verify(answerer, article, sentence, &question, span.as_deref()) {
                Ok(answer) => {
                    yields.add("kept", source, None);
                    kept.push(Verified {
                        question,
                        source,
                        sentence: sentence.clone(),
                        focus,
                        answer,
                    });
                }
                Err(reason) => yields.add("rejected", source, Some(reason)),
            }
        }
    }
    (kept, yields)
}

/// Picks up to `n` suggestions, no two on the same sentence or focus, none already asked.
pub fn diverse<'a>(
    pool: impl IntoIterator<Item = &'a Suggestion>,
    asked: &[String],
    n: usize,
) -> Vec<&'a Suggestion> {
    let asked: HashSet<String> = asked.iter().map(|q| text::normalise(q)).collect();
    let mut out: Vec<&Suggestion> = Vec::new();
    for s in pool {
        if out.len() == n {
            break;
        }
        let norm = text::normalise(&s.question);
        if asked.contains(&norm) {
            continue;
        }
        let clash = out.iter().any(|o| {
            (o.article_id == s.article_id && o.sentence == s.sentence)
                || text::normalise(&o.focus) == text::normalise(&s.focus)
        });
        if !clash {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_questions_pass_and_bad_ones_fail() {
        assert!(well_formed("Who replaced General Zaluzhny in 2024?").is_ok());
        assert!(well_formed("What does the article say about Kursk?").is_ok());
        assert!(well_formed("Who replaced him?").is_err()); // too short, and a pronoun
        assert_eq!(
            well_formed("Why did they attack the province at night?"),
            Err("pronoun without a referent")
        );
        assert_eq!(
            well_formed("What does the passage say about Kursk?"),
            Err("refers to the text instead of the subject")
        );
        assert!(well_formed("Kyiv attacked Kursk with missiles.").is_err());
        assert_eq!(
            well_formed("How much did the Kursk issue remain the Kursk issue?"),
            Err("repeats a phrase")
        );
    }

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

/// Bumped when the way suggestions are made changes, so cached ones are remade.
const CACHE_FORMAT: u32 = 3;
/// At most this many suggestions are kept per passage: enough to offer follow-ups near any
/// answer, few enough to build quickly.
const PER_PASSAGE: usize = 2;

/// The verified suggestions of a corpus, per article, with how each source fared.
#[derive(Debug, Default)]
pub struct RelatedStore {
    by_article: HashMap<String, Vec<Suggestion>>,
    pub yields: Yield,
}

#[derive(Serialize, Deserialize)]
struct CachedArticle {
    format: u32,
    key: String,
    suggestions: Vec<Suggestion>,
    yields: Yield,
}

fn cache_key(article: &Article, model: &str, use_model: bool) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CACHE_FORMAT.to_le_bytes());
    h.update(article.id.as_bytes());
    h.update([0]);
    h.update(article.text.as_bytes());
    h.update([0]);
    h.update(model.as_bytes());
    h.update([u8::from(use_model)]);
    hex::encode(h.finalize())
}

fn merge(into: &mut Yield, from: &Yield) {
    for (k, v) in &from.candidates {
        *into.candidates.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &from.kept {
        *into.kept.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &from.rejected {
        *into.rejected.entry(k.clone()).or_default() += v;
    }
}

/// Keeps the best `PER_PASSAGE` candidates of each passage, one per sentence and focus,
/// model questions first (they ask about a specific fact; templates are generic).
fn thin(index: &SearchIndex, article_id: &str, all: Vec<Verified>) -> Vec<Verified> {
    let mut out: Vec<Verified> = Vec::new();
    for p in index.passages_of(article_id) {
        let mut here: Vec<&Verified> = all
            .iter()
            .filter(|s| p.range.start <= s.sentence.start && s.sentence.end <= p.range.end)
            .collect();
        here.sort_by_key(|s| u8::from(s.source != Source::Model));
        let mut taken = 0;
        for s in here {
            if taken == PER_PASSAGE {
                break;
            }
            let clash = out.iter().any(|o| {
                o.sentence == s.sentence
                    || text::normalise(&o.focus) == text::normalise(&s.focus)
                    || text::normalise(&o.question) == text::normalise(&s.question)
            });
            if !clash {
                out.push(s.clone());
                taken += 1;
            }
        }
    }
    out
}

/// The verified, pre-answered suggestions of one article: candidates verified, thinned,
/// then each kept one answered through the pipeline.
pub fn build_for_article(
    answerer: &Answerer,
    article: &Article,
    use_model: bool,
) -> (Vec<Suggestion>, Yield) {
    let (verified, mut yields) = verified_for_article(answerer, article, use_model);
    let mut out = Vec::new();
    for v in thin(&answerer.index, &article.id, verified) {
        let answer = match v.answer {
            Some(a) => a,
            None => {
                // "What does the article say about X?" is best answered by what the article
                // says: the evidence sentence, quoted. The small model, asked such an open
                // question, often recombines the sentence's names into a false claim.
                let request = AnswerRequest {
                    question: v.question.clone(),
                    ..AnswerRequest::default()
                };
                match answerer.prepare(&request) {
                    Ok(p) if p.decline.is_none() => {
                        answerer.finish(p, String::new(), 0.0, None, &[])
                    }
                    _ => {
                        yields.add("rejected", v.source, Some("the pipeline declines it"));
                        continue;
                    }
                }
            }
        };
        out.push(Suggestion {
            question: v.question,
            source: v.source,
            article_id: article.id.clone(),
            sentence: v.sentence,
            focus: v.focus,
            answer,
        });
    }
    (out, yields)
}

impl RelatedStore {
    /// Loads each article's suggestions from `cache_dir`, building (and caching) those of
    /// articles that are new or changed. `use_model` adds the model's own candidates.
    pub fn build(
        answerer: &Answerer,
        cache_dir: &std::path::Path,
        use_model: bool,
        progress: bool,
    ) -> RelatedStore {
        let all: Vec<&Article> = answerer.index.articles().iter().collect();
        Self::build_for(answerer, &all, cache_dir, use_model, progress)
    }

    /// As [`Self::build`], for some articles only (evaluation samples).
    pub fn build_for(
        answerer: &Answerer,
        articles: &[&Article],
        cache_dir: &std::path::Path,
        use_model: bool,
        progress: bool,
    ) -> RelatedStore {
        let _ = std::fs::create_dir_all(cache_dir);
        let bar = if progress {
            let b = indicatif::ProgressBar::new(articles.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "preparing related questions [{bar:30}] {pos}/{len} articles ({eta})",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut store = RelatedStore::default();
        let mut keep_files = HashSet::new();
        for &article in articles {
            let key = cache_key(article, answerer.model.name(), use_model);
            let file = cache_dir.join(format!("{key}.json"));
            keep_files.insert(file.clone());
            let cached: Option<CachedArticle> = std::fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .filter(|c: &CachedArticle| c.format == CACHE_FORMAT && c.key == key);
            let (suggestions, yields) = match cached {
                Some(c) => (c.suggestions, c.yields),
                None => {
                    let (suggestions, yields) = build_for_article(answerer, article, use_model);
                    let entry = CachedArticle {
                        format: CACHE_FORMAT,
                        key: key.clone(),
                        suggestions,
                        yields,
                    };
                    if let Ok(json) = serde_json::to_vec(&entry) {
                        // Written aside and renamed: a crash never leaves half a file.
                        let tmp = file.with_extension("json.tmp");
                        if std::fs::write(&tmp, json).is_ok() {
                            let _ = std::fs::rename(&tmp, &file);
                        }
                    }
                    (entry.suggestions, entry.yields)
                }
            };
            merge(&mut store.yields, &yields);
            store.by_article.insert(article.id.clone(), suggestions);
            bar.inc(1);
        }
        bar.finish_and_clear();
        // Suggestions of articles that changed or left the corpus are stale.
        if let Ok(entries) = std::fs::read_dir(cache_dir) {
            for e in entries.flatten() {
                if !keep_files.contains(&e.path()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        store
    }

    /// All suggestions, article by article.
    pub fn all(&self) -> impl Iterator<Item = &Suggestion> {
        self.by_article.values().flatten()
    }

    /// The "Explore related questions" list of an article: its best, diverse questions.
    pub fn for_article(&self, article_id: &str, n: usize) -> Vec<&Suggestion> {
        match self.by_article.get(article_id) {
            Some(list) => {
                let mut ordered: Vec<&Suggestion> =
                    list.iter().filter(|s| s.source == Source::Model).collect();
                ordered.extend(list.iter().filter(|s| s.source != Source::Model));
                diverse(ordered, &[], n)
            }
            None => Vec::new(),
        }
    }

    /// A stored suggestion asked again (normalised match).
    pub fn find(&self, question: &str) -> Option<&Suggestion> {
        let norm = text::normalise(question);
        self.all().find(|s| text::normalise(&s.question) == norm)
    }

    /// Follow-ups after an answer: suggestions from the answer's passages and their
    /// neighbours first, then from the article, then from other articles; none already asked
    /// and none about the very sentence just quoted.
    pub fn after_answer(
        &self,
        index: &SearchIndex,
        result: &AnswerResult,
        asked: &[String],
        n: usize,
    ) -> Vec<String> {
        let mut ranked: Vec<(usize, &Suggestion)> = Vec::new();
        let sources: Vec<(&str, Range<usize>)> = result
            .evidence
            .iter()
            .map(|e| (e.article_id.as_str(), e.passage_range.clone()))
            .collect();
        let quoted: Vec<(&str, Range<usize>)> = result
            .evidence
            .iter()
            .map(|e| (e.article_id.as_str(), e.range.clone()))
            .collect();
        let articles: HashSet<&str> = sources.iter().map(|(a, _)| *a).collect();
        // Only the answer's own articles are ranked: this runs on every request, and the
        // corpus may hold far more suggestions than those.
        for s in articles
            .iter()
            .filter_map(|a| self.by_article.get(*a))
            .flatten()
        {
            let on_quoted = quoted.iter().any(|(a, r)| {
                *a == s.article_id && r.start <= s.sentence.start && s.sentence.end <= r.end
            });
            if on_quoted {
                continue;
            }
            let passages = index.passages_of(&s.article_id);
            let pos = |x: usize| {
                passages
                    .iter()
                    .position(|p| p.range.start <= x && x < p.range.end)
                    .unwrap_or(0)
            };
            let distance = sources
                .iter()
                .filter(|(a, _)| *a == s.article_id)
                .map(|(_, r)| {
                    if r.start <= s.sentence.start && s.sentence.end <= r.end {
                        0
                    } else {
                        pos(s.sentence.start).abs_diff(pos(r.start))
                    }
                })
                .min()
                .unwrap_or(usize::MAX / 4);
            let source_rank = if s.source == Source::Model { 0 } else { 1 };
            ranked.push((distance * 2 + source_rank, s));
        }
        ranked.sort_by_key(|(rank, s)| (*rank, s.sentence.start));
        let mut asked_all: Vec<String> = asked.to_vec();
        asked_all.push(result.question.clone());
        // Other articles' suggestions only top the list up, read lazily as needed.
        let others = self
            .all()
            .filter(|s| !articles.contains(s.article_id.as_str()));
        diverse(
            ranked.into_iter().map(|(_, s)| s).chain(others),
            &asked_all,
            n,
        )
        .into_iter()
        .map(|s| s.question.clone())
        .collect()
    }
}

/// File (in the data folder) where answered reader questions are kept, one JSON a line.
pub const READER_LOG: &str = "asked.jsonl";

/// A reader's question that the pipeline answered, as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Asked {
    question: String,
    answer: AnswerResult,
}

/// Logs a reader's question when it makes a good suggestion for others: answered (not
/// declined), asked without history (a follow-up means nothing on its own), not itself a
/// stored suggestion, and well-formed.
pub fn record_asked(
    log: &std::path::Path,
    result: &AnswerResult,
    had_history: bool,
) -> std::io::Result<bool> {
    use std::io::Write;
    if result.declined
        || result.precomputed
        || had_history
        || well_formed(&result.question).is_err()
    {
        return Ok(false);
    }
    let line = serde_json::to_string(&Asked {
        question: result.question.clone(),
        answer: result.answer_without_related(),
    })
    .map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    writeln!(file, "{line}")?;
    Ok(true)
}

/// How many of the latest reader questions are considered.
const READER_QUESTIONS: usize = 200;

impl RelatedStore {
    /// Adds readers' earlier answered questions (from the log) as suggestions, each verified
    /// again against the current corpus: well-formed, nothing invented, not declined, and its
    /// stored answer still quoting the articles as they are. No model call is made.
    pub fn add_reader_questions(&mut self, answerer: &Answerer, log: &std::path::Path) {
        let Ok(text_log) = std::fs::read_to_string(log) else {
            return;
        };
        let mut seen: HashSet<String> = self.all().map(|s| text::normalise(&s.question)).collect();
        let entries: Vec<Asked> = text_log
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(READER_QUESTIONS)
            .collect();
        let mut yields = Yield::default();
        for asked in entries {
            yields.add("candidates", Source::Reader, None);
            if !seen.insert(text::normalise(&asked.question)) {
                yields.add("rejected", Source::Reader, Some("duplicate"));
                continue;
            }
            match self.verify_reader(answerer, &asked) {
                Ok(s) => {
                    yields.add("kept", Source::Reader, None);
                    self.by_article
                        .entry(s.article_id.clone())
                        .or_default()
                        .push(s);
                }
                Err(reason) => yields.add("rejected", Source::Reader, Some(reason)),
            }
        }
        merge(&mut self.yields, &yields);
    }

    fn verify_reader(
        &self,
        answerer: &Answerer,
        asked: &Asked,
    ) -> Result<Suggestion, &'static str> {
        well_formed(&asked.question)?;
        if invented(&asked.question, &answerer.index).is_some() {
            return Err("names something the corpus does not");
        }
        let request = AnswerRequest {
            question: asked.question.clone(),
            ..AnswerRequest::default()
        };
        let prepared = answerer.prepare(&request).map_err(|_| "pipeline error")?;
        if prepared.decline.is_some() {
            return Err("the pipeline declines it");
        }
        // The stored answer must still quote the articles exactly where it says it does.
        let still_true = !asked.answer.citations.is_empty()
            && asked.answer.citations.iter().all(|c| {
                answerer
                    .index
                    .article(&c.article_id)
                    .and_then(|a| a.text.get(c.highlight.clone()))
                    .is_some_and(|t| t == c.quote)
            });
        if !still_true {
            return Err("its stored answer no longer matches the articles");
        }
        let first = &asked.answer.citations[0];
        Ok(Suggestion {
            question: asked.question.clone(),
            source: Source::Reader,
            article_id: first.article_id.clone(),
            sentence: first.highlight.clone(),
            focus: asked.question.clone(),
            answer: asked.answer.clone(),
        })
    }
}
