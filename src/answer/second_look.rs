//! A second look: when the reader finds no answer in the sentences it read, it reads them
//! again with the sentences on either side (within their passage) before the question is
//! declined. A reader who asks in their own words often matches the sentence that sets the
//! scene while the fact sits in the next one ("The P versus NP problem is one of the
//! Millennium Prize Problems…" / "There is a US$1,000,000 prize for resolving the problem.").
use super::generation::Draft;
use super::retriever::{Prepared, Retriever};
use super::{check, evidence, AnswerError, Evidence};
use crate::index::SearchIndex;
use crate::llm::LanguageModel;
use std::ops::Range;

/// Whether `draft` calls for a second look under the retriever's settings.
fn wanted(retriever: &Retriever, prepared: &Prepared, draft: &Draft) -> bool {
    let Some(from) = retriever.config().second_look_from else {
        return false;
    };
    prepared.decline.is_none()
        && prepared.uncertain.is_none()
        && check::is_non_answer(&draft.text)
        && prepared.similarity.is_none_or(|s| s >= from)
}

/// When the reader said "not stated", asks it again over the widened sentences; if it then
/// answers, the widened evidence and the new draft replace the old ones (the check and the
/// citations read them as usual). Otherwise nothing changes and the question is declined.
pub fn take(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    prepared: &mut Prepared,
    draft: &mut Draft,
) -> Result<(), AnswerError> {
    if !wanted(retriever, prepared, draft) {
        return Ok(());
    }
    let Some((evidence, read)) = widen(retriever.index(), &prepared.evidence, prepared.read) else {
        return Ok(());
    };
    let messages = retriever.messages(&prepared.read_question, &evidence[..read]);
    let (text, summary) = model
        .generate(messages.clone(), retriever.generate_params())?
        .collect_blocking()?;
    tracing::debug!(draft = %text, "second look");
    if check::is_non_answer(&text) || text.trim().is_empty() {
        return Ok(());
    }
    if retriever.config().second_look_confirmed {
        let read: Vec<&str> = evidence[..read].iter().map(|e| e.quote.as_str()).collect();
        if !super::judge::reader_confirms(model, &prepared.question, &text, &read.join(" "))? {
            tracing::debug!(draft = %text, "second look not confirmed");
            return Ok(());
        }
    }
    prepared.evidence = evidence;
    prepared.read = read;
    prepared.messages = messages;
    let tokens = draft.summary.as_ref();
    let mut summary = summary;
    if let Some(first) = tokens {
        summary.prompt_tokens += first.prompt_tokens;
        summary.completion_tokens += first.completion_tokens;
    }
    draft.text = text;
    draft.summary = Some(summary);
    Ok(())
}

/// The read sentences with their neighbours inside the same passage, merged where they meet,
/// followed by the other evidence that none of them covers; `None` when nothing widens.
pub(super) fn widen(
    index: &SearchIndex,
    evidence: &[Evidence],
    read: usize,
) -> Option<(Vec<Evidence>, usize)> {
    let read = read.min(evidence.len());
    let mut widened: Vec<Evidence> = Vec::new();
    let mut grew = false;
    for e in &evidence[..read] {
        let article = index.article(&e.article_id)?;
        let sentences = evidence::article_sentences(index, &e.article_id);
        let range = around(&sentences, &e.highlight, &e.passage_range);
        grew |= range != e.highlight;
        match widened
            .iter_mut()
            .find(|w| w.article_id == e.article_id && overlaps(&w.highlight, &range))
        {
            Some(w) => {
                w.highlight = w.highlight.start.min(range.start)..w.highlight.end.max(range.end);
                w.quote = article.text.get(w.highlight.clone())?.to_string();
            }
            None => widened.push(Evidence {
                quote: article.text.get(range.clone())?.to_string(),
                highlight: range,
                ..e.clone()
            }),
        }
    }
    if !grew {
        return None;
    }
    let read = widened.len();
    for e in &evidence[read.min(evidence.len())..] {
        if !widened
            .iter()
            .any(|w| w.article_id == e.article_id && overlaps(&w.highlight, &e.highlight))
        {
            widened.push(e.clone());
        }
    }
    for (i, e) in widened.iter_mut().enumerate() {
        e.number = i + 1;
    }
    Some((widened, read))
}

/// `highlight` grown by one sentence on each side, within `passage`.
fn around(
    sentences: &[Range<usize>],
    highlight: &Range<usize>,
    passage: &Range<usize>,
) -> Range<usize> {
    let inside = |s: &&Range<usize>| s.start >= passage.start && s.end <= passage.end;
    let before = sentences
        .iter()
        .filter(inside)
        .filter(|s| s.end <= highlight.start)
        .max_by_key(|s| s.end);
    let after = sentences
        .iter()
        .filter(inside)
        .filter(|s| s.start >= highlight.end)
        .min_by_key(|s| s.start);
    let start = before.map_or(highlight.start, |s| s.start);
    let end = after.map_or(highlight.end, |s| s.end);
    start..end
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_grows_by_its_neighbours_inside_its_passage() {
        let sentences = vec![0..10, 11..20, 21..30, 31..40];
        assert_eq!(around(&sentences, &(11..20), &(0..40)), 0..30);
        // The passage starts at the highlighted sentence: nothing before it.
        assert_eq!(around(&sentences, &(11..20), &(11..40)), 11..30);
        assert_eq!(around(&sentences, &(31..40), &(0..40)), 21..40);
        assert_eq!(around(&sentences, &(0..10), &(0..10)), 0..10);
    }
}
