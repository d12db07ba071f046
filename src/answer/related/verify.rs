//! Verification: a candidate is kept only when it is a well-formed question, names nothing
//! the corpus does not, and the flow answers it from the very sentence it was made from (a
//! model's question: with an answer that holds its span).
use super::candidates::{self, Candidate};
use super::span;
use super::{Source, Yield};
use crate::answer::{
    grounded_answer, question_kind, support, AnswerError, AnswerRequest, AnswerResult, Prepared,
    Retriever,
};
use crate::corpus::Article;
use crate::index::SearchIndex;
use crate::llm::LanguageModel;
use crate::text;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

mod form;
pub use form::{repeats_question, well_formed};

/// Why a candidate was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    Duplicate,
    NoQuestionMark,
    WordCount,
    NoQuestionWord,
    RefersToText,
    DanglingPronoun,
    RepeatedPhrase,
    Invented,
    AnswerFailed,
    Declined,
    EvidenceElsewhere,
    MissesSpan,
    NotEntailed,
    NearDuplicate,
    NoDirectAnswer,
    WrongKind,
    AnsweredElsewhere,
    Misplaced,
    NamesNothing,
    AsksForSummary,
    RepeatsQuestion,
}

impl Rejection {
    pub fn describe(self) -> &'static str {
        match self {
            Rejection::Duplicate => "the same question again",
            Rejection::NoQuestionMark => "does not end with one question mark",
            Rejection::WordCount => "not 4–16 words",
            Rejection::NoQuestionWord => "does not open with a question word",
            Rejection::RefersToText => "refers to the text instead of the subject",
            Rejection::DanglingPronoun => "pronoun without a referent",
            Rejection::RepeatedPhrase => "repeats a phrase",
            Rejection::Invented => "names something the corpus does not",
            Rejection::AnswerFailed => "answering it failed",
            Rejection::Declined => "the flow declines it",
            Rejection::EvidenceElsewhere => "its evidence is not the source sentence",
            Rejection::MissesSpan => "the answer misses the target span",
            Rejection::NotEntailed => "its answer says what its evidence does not",
            Rejection::NearDuplicate => "asks what a kept question already asks",
            Rejection::NoDirectAnswer => "the reader only quoted the evidence",
            Rejection::WrongKind => "asks for another kind of answer than its span",
            Rejection::AnsweredElsewhere => "its answer cites another sentence than its source",
            Rejection::Misplaced => "places a name where its source does not",
            Rejection::NamesNothing => "names nothing it is about (no name or number)",
            Rejection::AsksForSummary => "asks for a summary, not a fact",
            Rejection::RepeatsQuestion => "its answer mostly repeats the question",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
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

/// A question fit to suggest at all: well-formed, inventing nothing, and not declined (what
/// the flow prepared for it is returned).
pub fn answerable_question(retriever: &Retriever, question: &str) -> Result<Prepared, Rejection> {
    well_formed(question)?;
    if invented(question, retriever.index()).is_some() {
        return Err(Rejection::Invented);
    }
    let prepared = retriever
        .prepare(&AnswerRequest::new(question))
        .map_err(|_| Rejection::AnswerFailed)?;
    // A suggestion must be plainly answerable, not one its reader would have to judge.
    if prepared.decline.is_some() {
        return Err(Rejection::Declined);
    }
    Ok(prepared)
}

/// Verifies a candidate made from `sentence` of `article`. A template candidate is checked
/// without the model (its answer is made later, only if it is kept); a model's candidate is
/// answered now, since its answer must hold the span.
fn verify(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    article: &Article,
    sentence: &Range<usize>,
    candidate: &Candidate,
) -> Result<Option<AnswerResult>, Rejection> {
    // A model's question that names its own span is about it ("What is the location of
    // Kursk?", made for "Kursk"): its answer is whatever the reader finds, and must be the
    // reader's own (not the evidence quoted) and true by the evidence. Otherwise the span is
    // the answer, and the question must ask for its kind (checked first: it costs nothing).
    let about_span = candidate
        .span
        .as_ref()
        .is_some_and(|span| span::gives_away(&candidate.question, span));
    if let Some(span) = candidate.span.as_ref().filter(|_| !about_span) {
        well_formed(&candidate.question)?;
        if !span::fits(question_kind::asks_for(&candidate.question), span) {
            return Err(Rejection::WrongKind);
        }
    }
    let source = article.text.get(sentence.clone()).unwrap_or_default();
    if super::premise::misplaced(&candidate.question, source).is_some() {
        return Err(Rejection::Misplaced);
    }
    let prepared = answerable_question(retriever, &candidate.question)?;
    let lands = prepared.shown_evidence().iter().any(|e| {
        e.article_id == article.id
            && e.highlight.start <= sentence.start
            && sentence.end <= e.highlight.end
    });
    if !lands {
        return Err(Rejection::EvidenceElsewhere);
    }
    let Some(span) = &candidate.span else {
        return Ok(None);
    };
    let request = AnswerRequest::new(candidate.question.as_str());
    let result = answer_alone(retriever, model, &request)?;
    if result.declined {
        return Err(Rejection::Declined);
    }
    // The answer must come from the sentence the question was made from: one answered from
    // another sentence asked something its source does not say ("What is the name of the
    // Ukrainian province …?" made from "sirens across six Ukrainian provinces", answered
    // "Kursk province" from the next sentence).
    let from_source = result.citations.iter().any(|e| {
        e.article_id == article.id
            && e.highlight.start <= sentence.start
            && sentence.end <= e.highlight.end
    });
    if !from_source {
        return Err(Rejection::AnsweredElsewhere);
    }
    // A reader clicking a suggestion is owed an answer, not a sentence to read: a stored
    // answer that only quotes the evidence means the reader could not answer it in a phrase,
    // which is how false premises and muddles come out ("What country is the only significant
    // bargaining chip Ukraine holds?" of a region, "What is the name of the country that is
    // currently under Russian control?").
    if result.quoted_evidence {
        return Err(Rejection::NoDirectAnswer);
    }
    if repeats_question(&candidate.question, &result.answer) {
        return Err(Rejection::RepeatsQuestion);
    }
    let claim = if about_span {
        None
    } else {
        if !span.answered_by(&result.answer) {
            return Err(Rejection::MissesSpan);
        }
        Some(span.text.as_str())
    };
    // A "Why" question asked about a reason's claim, in the claim's own words ("Why did the
    // Kremlin deploy North Korean reinforcements to the region?"), answered by that reason
    // ("dislodging Ukrainian forces at any cost"), is entailed by how it was made: the text
    // joins the two. Only the answer's words are checked; the reader's verdict on a bare
    // reason ("is 'dislodging Ukrainian forces at any cost' true?") is noise.
    let by_construction = span.kind == span::SpanKind::Reason
        && span::claim(source, span)
            .is_some_and(|c| support::unsupported_words(&candidate.question, &[c]).is_empty());
    let supported = if by_construction {
        let mut sources: Vec<&str> = result.evidence.iter().map(|e| e.quote.as_str()).collect();
        sources.push(&candidate.question);
        support::unsupported_words(&result.answer, &sources).is_empty()
    } else {
        entailed(retriever, model, &candidate.question, &result, claim)
    };
    if !supported {
        return Err(Rejection::NotEntailed);
    }
    Ok(Some(result))
}

/// Whether a stored answer says only what its evidence says: every content word of it is in
/// the evidence or the question, and a reader that can judge (one whose "not stated" is a
/// decline) says the evidence makes it true. The verdict is asked on `span`, the bare answer,
/// when there is one: asked about a sentence that restates the question ("Zelensky's army
/// chief was Wagner"), the reader calls it true; asked about "Wagner", false.
pub fn entailed(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    question: &str,
    result: &AnswerResult,
    span: Option<&str>,
) -> bool {
    let evidence: Vec<&str> = result.evidence.iter().map(|e| e.quote.as_str()).collect();
    let mut sources = evidence.clone();
    sources.push(question);
    if !support::unsupported_words(&result.answer, &sources).is_empty() {
        return false;
    }
    if !retriever.config().reader_declines {
        return true;
    }
    let claim = span.unwrap_or(&result.answer);
    crate::answer::judge::reader_confirms(model, question, claim, &evidence.join(" "))
        .unwrap_or(false)
}

/// Cosine (MiniLM) from which two questions ask the same thing in other words.
pub const NEAR_DUPLICATE: f32 = 0.9;

/// A verified candidate; its answer is made once it is kept (a model's comes with it).
#[derive(Debug, Clone)]
pub struct Verified {
    pub question: String,
    pub source: Source,
    pub sentence: Range<usize>,
    pub focus: String,
    pub answer: Option<AnswerResult>,
}

/// The verified candidates of one article, sentence by sentence, and how they fared.
/// `use_model` adds the model's own questions.
pub fn verified_for_article(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    article: &Article,
    use_model: bool,
) -> (Vec<Verified>, Yield) {
    let mut yields = Yield::default();
    let mut kept: Vec<Verified> = Vec::new();
    let mut kept_vectors: Vec<Vec<f32>> = Vec::new();
    let mut seen_questions: HashSet<String> = HashSet::new();
    let mut sentences: Vec<Range<usize>> = Vec::new();
    for p in retriever.index().passages_of(&article.id) {
        for s in &p.sentences {
            if !sentences.contains(s) {
                sentences.push(s.clone());
            }
        }
    }
    for sentence in &sentences {
        let sentence_text = &article.text[sentence.clone()];
        let asked_model = use_model.then_some(model);
        // An article keeps one question per sentence (`rank::best_per_passage`), the
        // model's first: once one of the model's questions on a sentence is verified, it is
        // not asked for another (each costs a generation and its verification two more).
        let written_here = Cell::new(false);
        for candidate in candidates::for_sentence(sentence_text, asked_model, &written_here) {
            yields.candidate(candidate.source);
            if !seen_questions.insert(text::normalise(&candidate.question)) {
                yields.rejected(candidate.source, Rejection::Duplicate);
                continue;
            }
            // Asking what a kept question asks, in other words, is a duplicate too (checked
            // first: it costs an embedding, verifying may cost a generation).
            let vector = retriever
                .embedder()
                .and_then(|e| e.embed_one(&candidate.question).ok());
            if let Some(v) = &vector {
                if kept_vectors
                    .iter()
                    .any(|k| crate::embed::cosine(k, v) >= NEAR_DUPLICATE)
                {
                    yields.rejected(candidate.source, Rejection::NearDuplicate);
                    continue;
                }
            }
            match verify(retriever, model, article, sentence, &candidate) {
                Ok(answer) => {
                    tracing::debug!(question = %candidate.question, focus = %candidate.focus, "suggestion verified");
                    kept_vectors.extend(vector);
                    yields.kept(candidate.source);
                    if candidate.source == Source::Model {
                        written_here.set(true);
                    }
                    kept.push(Verified {
                        question: candidate.question,
                        source: candidate.source,
                        sentence: sentence.clone(),
                        focus: candidate.focus,
                        answer,
                    });
                }
                Err(why) => {
                    tracing::debug!(question = %candidate.question, focus = %candidate.focus, %why, "suggestion rejected");
                    yields.rejected(candidate.source, why)
                }
            }
        }
    }
    if use_model {
        link_far_sentences(
            retriever,
            model,
            article,
            &sentences,
            (&mut kept, &mut kept_vectors, &mut seen_questions),
            &mut yields,
        );
    }
    (kept, yields)
}

/// Pairs of an article's sentences asked about together at most (a generation each).
pub const LINKED_PER_ARTICLE: usize = 4;

/// Sentences at least this far apart make a linked pair (nearer ones share a passage).
const LINK_GAP: usize = 4;

/// The model's questions joining two sentences far apart that name the same subject, each
/// kept only when the flow reads both sentences to answer it, the reader answers in its own
/// words, and the answer is entailed by what it read.
fn link_far_sentences(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    article: &Article,
    sentences: &[Range<usize>],
    (kept, kept_vectors, seen): (&mut Vec<Verified>, &mut Vec<Vec<f32>>, &mut HashSet<String>),
    yields: &mut Yield,
) {
    let texts: Vec<&str> = sentences
        .iter()
        .map(|r| article.text.get(r.clone()).unwrap_or(""))
        .collect();
    let pairs = candidates::linked_pairs(&texts, LINK_GAP);
    for (a, b, entity) in pairs.into_iter().take(LINKED_PER_ARTICLE) {
        let Some(question) = candidates::linking_candidate(model, texts[a], texts[b], &entity)
        else {
            continue;
        };
        yields.candidate(Source::Linked);
        if !seen.insert(text::normalise(&question)) {
            yields.rejected(Source::Linked, Rejection::Duplicate);
            continue;
        }
        let vector = retriever
            .embedder()
            .and_then(|e| e.embed_one(&question).ok());
        if let Some(v) = &vector {
            if kept_vectors
                .iter()
                .any(|k| crate::embed::cosine(k, v) >= NEAR_DUPLICATE)
            {
                yields.rejected(Source::Linked, Rejection::NearDuplicate);
                continue;
            }
        }
        match verify_linked(
            retriever,
            model,
            article,
            (&sentences[a], &sentences[b]),
            &question,
        ) {
            Ok(answer) => {
                kept_vectors.extend(vector);
                yields.kept(Source::Linked);
                kept.push(Verified {
                    question,
                    source: Source::Linked,
                    sentence: sentences[a].clone(),
                    focus: format!("{entity}, joined"),
                    answer: Some(answer),
                });
            }
            Err(why) => {
                tracing::debug!(%question, focus = %entity, %why, "linked suggestion rejected");
                yields.rejected(Source::Linked, why);
            }
        }
    }
}

/// Verifies a question meant to join two sentences of `article`.
fn verify_linked(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    article: &Article,
    (first, second): (&Range<usize>, &Range<usize>),
    question: &str,
) -> Result<AnswerResult, Rejection> {
    let prepared = answerable_question(retriever, question)?;
    let reads = |sentence: &Range<usize>| {
        prepared.read_evidence().iter().any(|e| {
            e.article_id == article.id
                && e.highlight.start <= sentence.start
                && sentence.end <= e.highlight.end
        })
    };
    if !reads(first) || !reads(second) {
        return Err(Rejection::EvidenceElsewhere);
    }
    let result = answer_alone(retriever, model, &AnswerRequest::new(question))?;
    if result.declined {
        return Err(Rejection::Declined);
    }
    if result.quoted_evidence {
        return Err(Rejection::NoDirectAnswer);
    }
    if repeats_question(question, &result.answer) {
        return Err(Rejection::RepeatsQuestion);
    }
    if !entailed(retriever, model, question, &result, None) {
        return Err(Rejection::NotEntailed);
    }
    Ok(result)
}

/// The grounded answer a suggestion is verified with; a model that could not write it (the
/// answer would only quote its evidence) rejects the suggestion.
fn answer_alone(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    request: &AnswerRequest,
) -> Result<AnswerResult, Rejection> {
    let answered: Result<AnswerResult, AnswerError> =
        grounded_answer(retriever, model, request, None, &mut |_| true);
    match answered {
        Ok(result) if !result.degraded => Ok(result),
        _ => Err(Rejection::AnswerFailed),
    }
}

#[cfg(test)]
mod tests;
