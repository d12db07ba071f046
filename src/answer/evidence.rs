//! Choosing the evidence: the few sentences of the retrieved passages that best match the
//! question, by the words they share with it and, when the index has sentence vectors, by
//! meaning. A small model reads two focused sentences better than a whole passage, and the
//! best sentences hold the answer far more often than the model's own words do.
use crate::index::{SearchHit, SearchIndex};
use crate::text;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// One numbered piece of evidence: a sentence (with the sentence before it when it opens
/// with a pronoun) quoted from a passage. The answer's citations are the evidence it cites.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    /// Citation number, from 1, as the model and the reader see it: `[1]`.
    pub number: usize,
    /// The quoted sentence(s).
    pub quote: String,
    pub passage_id: String,
    pub article_id: String,
    pub article_title: String,
    /// Byte range of the quoted sentence(s) inside the article text (to highlight).
    #[schema(schema_with = crate::corpus::byte_range_schema)]
    pub highlight: Range<usize>,
    /// Byte range of the whole passage inside the article text.
    #[schema(schema_with = crate::corpus::byte_range_schema)]
    pub passage_range: Range<usize>,
    pub passage_text: String,
    /// How well the sentence matches the question: the share of the question's idf weight
    /// it holds, plus [`crate::answer::AnswerConfig::dense_weight`] times its cosine with the
    /// question (with vectors).
    pub score: f32,
    /// The sentence's cosine similarity with the question, when the index has vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

/// Weighted question terms: analyzed term → idf.
pub type QueryTerms = Vec<(String, f32)>;

pub fn query_terms(index: &SearchIndex, question: &str) -> QueryTerms {
    index
        .query_terms(&text::content_words(question))
        .into_iter()
        .map(|t| {
            let idf = index.idf(&t);
            (t, idf)
        })
        .collect()
}

/// Share of the question's weight (idf) found in `text`: 1.0 when every content term of the
/// question occurs in it.
pub fn coverage(index: &SearchIndex, terms: &QueryTerms, text: &str) -> f32 {
    index.weighted_share(terms, text)
}

/// The best cosine between the question and a sentence of `hits` (`sims` per sentence row).
pub fn best_similarity(index: &SearchIndex, hits: &[SearchHit], sims: &[f32]) -> Option<f32> {
    let vectors = index.vectors()?;
    hits.iter()
        .flat_map(|h| sims.get(vectors.passage_rows(h.slot)).unwrap_or(&[]))
        .copied()
        .reduce(f32::max)
}

/// The best cosine between the question and the whole text of one of `hits` (`sims` per
/// row, as [`best_similarity`]).
pub fn best_passage_similarity(
    index: &SearchIndex,
    hits: &[SearchHit],
    sims: &[f32],
) -> Option<f32> {
    let vectors = index.vectors()?;
    hits.iter()
        .filter_map(|h| vectors.passage_vector(h.slot).and_then(|row| sims.get(row)))
        .copied()
        .reduce(f32::max)
}

/// All sentence ranges of an article, in order (passages overlap, so de-duplicated).
pub(crate) fn article_sentences(index: &SearchIndex, article_id: &str) -> Vec<Range<usize>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in index.passages_of(article_id) {
        for s in &p.sentences {
            if seen.insert((s.start, s.end)) {
                out.push(s.clone());
            }
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// Picks up to `max_sentences` sentences from the hits, best first. A sentence scores its
/// share of the question's idf weight plus, with `sims` (the question's cosine with every
/// sentence vector of the index, and its weight), that weight times its cosine. A second
/// sentence is taken only when it matches at least `min_ratio` as well as the best one.
pub fn select(
    index: &SearchIndex,
    terms: &QueryTerms,
    hits: &[SearchHit],
    sims: Option<(&[f32], f32)>,
    max_sentences: usize,
    min_ratio: f32,
) -> Vec<Evidence> {
    let top_hit = hits.first().map(|h| h.score).unwrap_or(1.0).max(1e-6);
    let vectors = index.vectors().filter(|_| sims.is_some());
    let mut candidates: Vec<(f32, &SearchHit, Range<usize>, Option<f32>)> = Vec::new();
    let mut seen = HashSet::new();
    for hit in hits {
        let Some(passage) = index.passages().get(hit.slot) else {
            continue;
        };
        let Some(article) = index.article(&hit.article_id) else {
            continue;
        };
        let rows = vectors.map(|v| v.passage_rows(hit.slot));
        for (i, s) in passage.sentences.iter().enumerate() {
            if !seen.insert((hit.article_id.clone(), s.start)) {
                continue;
            }
            let share = coverage(index, terms, &article.text[s.clone()]);
            let (similarity, weight) = match (sims, &rows) {
                (Some((sims, w)), Some(rows)) => (sims.get(rows.start + i).copied(), w),
                _ => (None, 0.0),
            };
            let score = share + weight * similarity.unwrap_or(0.0).max(0.0);
            if score <= 0.02 {
                continue;
            }
            // The passage's own rank breaks ties between equally matching sentences.
            let tie = 0.01 * hit.score / top_hit;
            candidates.push((score + tie, hit, s.clone(), similarity));
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = candidates.first().map(|c| c.0).unwrap_or(0.0);
    let mut sentence_cache: HashMap<String, Vec<Range<usize>>> = HashMap::new();
    let mut out: Vec<Evidence> = Vec::new();
    for (score, hit, range, similarity) in candidates {
        if out.len() == max_sentences || score < best * min_ratio {
            break;
        }
        let Some(article) = index.article(&hit.article_id) else {
            continue;
        };
        let mut range = range;
        if text::starts_with_reference(&article.text[range.clone()]) {
            let sentences = sentence_cache
                .entry(hit.article_id.clone())
                .or_insert_with(|| article_sentences(index, &hit.article_id));
            if let Some(i) = sentences.iter().position(|s| s.start == range.start) {
                // Only within the paragraph: a pronoun does not reach across a break.
                if i > 0 && !paragraph_break(&article.text, sentences[i - 1].end..range.start) {
                    range = sentences[i - 1].start..range.end;
                }
            }
        }
        if out.iter().any(|e| {
            e.article_id == hit.article_id
                && e.highlight.start < range.end
                && range.start < e.highlight.end
        }) {
            continue;
        }
        out.push(Evidence {
            number: out.len() + 1,
            quote: article.text[range.clone()].to_string(),
            passage_id: hit.passage_id.clone(),
            article_id: hit.article_id.clone(),
            article_title: hit.article_title.clone(),
            highlight: range,
            passage_range: hit.range.clone(),
            passage_text: hit.text.clone(),
            score,
            similarity,
        });
    }
    out
}

/// The evidence with the rest of `passages` (the best retrieved ones) appended (numbered on),
/// and what the reader reads, in reading order: the first `read` evidence sentences (the best
/// first), each followed by the passage sentences after it that open by referring back to it,
/// then the rest of each passage in article order. The best sentences come first because the
/// reader takes the first phrase that fits: read in article order, "Buddhism is the state's
/// largest non-Christian religion" before "Hinduism is the fastest growing religion" made
/// Buddhism its answer to which belief is expanding most quickly.
pub fn with_passages(
    index: &SearchIndex,
    mut evidence: Vec<Evidence>,
    read: usize,
    passages: &[&SearchHit],
) -> (Vec<Evidence>, Vec<usize>) {
    fn read_next(i: usize, reading: &mut Vec<usize>) {
        if !reading.contains(&i) {
            reading.push(i);
        }
    }
    let first_read = read.min(evidence.len());
    let in_order: Vec<Vec<usize>> = passages
        .iter()
        .map(|passage| passage_sentences(index, &mut evidence, passage))
        .collect();
    let mut reading: Vec<usize> = Vec::new();
    for best in 0..first_read {
        read_next(best, &mut reading);
        // The sentences after it that open by referring back ("It…", "He…") stay with it.
        for sentences in &in_order {
            let Some(at) = sentences.iter().position(|&i| i == best) else {
                continue;
            };
            let mut previous = best;
            for &next in &sentences[at + 1..] {
                if !text::starts_with_reference(&evidence[next].quote)
                    || paragraph_between(index, &evidence[previous], &evidence[next])
                {
                    break;
                }
                read_next(next, &mut reading);
                previous = next;
            }
        }
    }
    for i in in_order.into_iter().flatten() {
        read_next(i, &mut reading);
    }
    (evidence, reading)
}

/// Whether a paragraph ends between two sentences of one article (`first` before `second`): a
/// pronoun does not reach across the break.
fn paragraph_between(index: &SearchIndex, first: &Evidence, second: &Evidence) -> bool {
    match index.article(&first.article_id) {
        Some(article) if first.article_id == second.article_id => {
            paragraph_break(&article.text, first.highlight.end..second.highlight.start)
        }
        _ => true,
    }
}

/// Whether `text[between]` (the gap between two sentences) ends a paragraph; a gap that is no
/// range of the text counts as one.
fn paragraph_break(text: &str, between: Range<usize>) -> bool {
    text.get(between).is_none_or(|gap| gap.contains('\n'))
}

/// The evidence indices of `passage`'s sentences in the article's order, adding those the
/// evidence lacks.
fn passage_sentences(
    index: &SearchIndex,
    evidence: &mut Vec<Evidence>,
    passage: &SearchHit,
) -> Vec<usize> {
    let Some(sentences) = index.passages().get(passage.slot).map(|p| &p.sentences) else {
        return Vec::new();
    };
    let Some(article) = index.article(&passage.article_id) else {
        return Vec::new();
    };
    // (start in the article, evidence index) of what the reader reads from the passage.
    let mut in_passage: Vec<(usize, usize)> = Vec::new();
    for s in sentences {
        let held = evidence.iter().position(|e| {
            e.article_id == passage.article_id
                && e.highlight.start < s.end
                && s.start < e.highlight.end
        });
        match held {
            Some(i) => {
                if !in_passage.iter().any(|(_, j)| *j == i) {
                    in_passage.push((evidence[i].highlight.start, i));
                }
            }
            None => {
                evidence.push(Evidence {
                    number: evidence.len() + 1,
                    quote: article.text[s.clone()].to_string(),
                    passage_id: passage.passage_id.clone(),
                    article_id: passage.article_id.clone(),
                    article_title: passage.article_title.clone(),
                    highlight: s.clone(),
                    passage_range: passage.range.clone(),
                    passage_text: passage.text.clone(),
                    score: 0.0,
                    similarity: None,
                });
                in_passage.push((s.start, evidence.len() - 1));
            }
        }
    }
    in_passage.sort();
    in_passage.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::testing::small_index;

    fn evidence(question: &str, max: usize, min_ratio: f32) -> Vec<Evidence> {
        let (_dir, index) = small_index();
        let hits = index.search(question, 5, None).unwrap();
        let terms = query_terms(&index, question);
        select(&index, &terms, &hits, None, max, min_ratio)
    }

    #[test]
    fn the_sentence_holding_most_of_the_question_comes_first() {
        let e = evidence("Who replaced General Zaluzhny as commander?", 2, 0.0);
        assert!(e[0].quote.starts_with("General Syrsky replaced"), "{e:?}");
        assert_eq!(e.iter().map(|e| e.number).collect::<Vec<_>>(), [1, 2]);
        assert!(e[0].score >= e[1].score);
        // The highlight is the quote's place in the article.
        let (_dir, index) = small_index();
        let article = index.article(&e[0].article_id).unwrap();
        assert_eq!(&article.text[e[0].highlight.clone()], e[0].quote);
    }

    #[test]
    fn a_weak_second_sentence_is_left_out() {
        let all = evidence("Who replaced General Zaluzhny as commander?", 3, 0.0);
        let strict = evidence("Who replaced General Zaluzhny as commander?", 3, 0.99);
        assert!(all.len() > strict.len(), "{all:?}");
        assert_eq!(strict.len(), 1);
    }

    #[test]
    fn a_sentence_opening_with_a_pronoun_is_quoted_with_the_one_before() {
        let e = evidence("How many loaves are baked every morning?", 1, 0.35);
        assert!(
            e[0].quote.starts_with("The bakery opened") && e[0].quote.ends_with("every morning."),
            "{e:?}"
        );
    }

    /// What the reader reads, in order, of a one-passage article `faiths.md` holding `text`
    /// for "Which religion is growing fastest?" (its one best sentence, then the passage), and
    /// the evidence the answer can cite.
    fn reading_order(text: &str) -> (Vec<String>, Vec<Evidence>) {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        std::fs::create_dir_all(&corpus).unwrap();
        std::fs::write(corpus.join("faiths.md"), text).unwrap();
        let (index, _) = crate::index::ensure_index(
            &corpus,
            &dir.path().join("data"),
            &crate::index::IndexOptions::default(),
        )
        .unwrap();
        let question = "Which religion is growing fastest?";
        let hits = index.search(question, 5, None).unwrap();
        assert_eq!(hits.len(), 1, "the article makes one passage: {hits:?}");
        let terms = query_terms(&index, question);
        let best = select(&index, &terms, &hits, None, 1, 0.35);
        assert!(best[0].quote.starts_with("Hinduism"), "{best:?}");
        let (evidence, reading) = with_passages(&index, best, 1, &[&hits[0]]);
        let read = reading.iter().map(|&i| evidence[i].quote.clone()).collect();
        (read, evidence)
    }

    #[test]
    fn a_passage_is_read_from_its_best_sentence_and_what_refers_back_to_it() {
        let (read, evidence) = reading_order(
            "# Faiths\n\nMost people in the state are Christian. Buddhism is the largest other \
             religion. Hinduism is the fastest growing religion. It arrived with migrants in \
             the 1990s. Church attendance is low.\n",
        );
        assert_eq!(
            read,
            [
                "Hinduism is the fastest growing religion.",
                "It arrived with migrants in the 1990s.",
                "Most people in the state are Christian.",
                "Buddhism is the largest other religion.",
                "Church attendance is low."
            ]
        );
        // Every sentence of the passage is evidence the answer can cite, numbered on.
        assert_eq!(evidence.len(), 5);
        assert_eq!(evidence[4].number, 5);
    }

    #[test]
    fn what_refers_back_stays_with_its_sentence_only_within_its_paragraph() {
        let (read, _) = reading_order(
            "# Faiths\n\nMost people in the state are Christian. Buddhism is the largest other \
             religion. Hinduism is the fastest growing religion.\n\nIt is a state of many \
             faiths. Church attendance is low.\n",
        );
        assert_eq!(
            read,
            [
                "Hinduism is the fastest growing religion.",
                "Most people in the state are Christian.",
                "Buddhism is the largest other religion.",
                "It is a state of many faiths.",
                "Church attendance is low."
            ]
        );
    }

    #[test]
    fn no_words_in_common_give_no_evidence() {
        assert!(evidence("boiling point of ethanol", 2, 0.35).is_empty());
    }
}
