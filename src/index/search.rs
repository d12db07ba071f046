//! Retrieval: BM25, dense (sentence vectors) and the two fused. The user's text is never
//! parsed as query syntax: it is run through the index's own analyzer and each resulting
//! term becomes a plain term query, so no input can make a query fail.
use super::{IndexError, SearchIndex};
use serde::Serialize;
use std::collections::HashSet;
use std::ops::Range;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

/// How much more a match in the article title counts than one in the passage body.
const TITLE_BOOST: f32 = 1.5;
/// Terms beyond this many distinct ones are ignored: a 10,000-character question adds
/// nothing but cost.
const MAX_QUERY_TERMS: usize = 64;
/// Reciprocal rank fusion (Cormack et al. 2009): a passage at rank `r` of a list scores
/// `w / (RRF_K + r)`, so the lists' score scales, which are not comparable (BM25 against
/// cosine), never meet. The usual 60 flattens the ranks of a small corpus; 10 keeps the top
/// of each list decisive (`bench retrieval` on SQuAD and the own-words set: recall@1 0.867
/// and 0.517 with 10, against 0.882 and 0.367 with 60 and equal weights).
const RRF_K: f32 = 10.0;
/// The least weight of the lexical list (see [`SearchIndex::hybrid_search`]).
const MIN_LEXICAL_WEIGHT: f32 = 0.04;
/// How much a passage's own vector adds to its best sentence's cosine in the dense ranking:
/// the passage as a whole tells its topic, which a reader's own words often name where no
/// single sentence does. `bench retrieval`-style runs on the SQuAD questions and the own-words
/// set (docs/benchmarks/2026-12-06-passage-vectors.md): recall@3 of the own-words questions
/// 0.847 → 0.903, of SQuAD's 0.979 → 0.976.
const PASSAGE_VECTOR_WEIGHT: f32 = 0.5;
/// Each list offers this many times the passages asked for to the fusion.
const FUSION_DEPTH: usize = 4;

/// One retrieved passage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub passage_id: String,
    pub article_id: String,
    pub article_title: String,
    pub ordinal: usize,
    pub score: f32,
    /// Byte range of the passage inside the article text.
    #[schema(schema_with = crate::corpus::byte_range_schema)]
    pub range: Range<usize>,
    pub text: String,
    /// Index of the passage in [`SearchIndex::passages`].
    #[serde(skip)]
    pub slot: usize,
}

impl SearchIndex {
    /// Every analyzed term of a text (no cap, unlike [`Self::query_terms`]).
    pub fn text_terms(&self, text: &str) -> HashSet<String> {
        let mut analyzer = super::schema::analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut terms = HashSet::new();
        while stream.advance() {
            terms.insert(stream.token().text.clone());
        }
        terms
    }

    /// The analyzed, de-duplicated terms of `text`, in order of first appearance, at most
    /// [`MAX_QUERY_TERMS`] of them.
    pub fn query_terms(&self, text: &str) -> Vec<String> {
        let mut analyzer = super::schema::analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut seen = HashSet::new();
        let mut terms = Vec::new();
        while stream.advance() {
            let t = stream.token().text.clone();
            if seen.insert(t.clone()) {
                terms.push(t);
                if terms.len() == MAX_QUERY_TERMS {
                    break;
                }
            }
        }
        terms
    }

    /// Whether the articles mention `word` (one word as written, any case): a passage or a
    /// title holds each of its analyzed terms, or a term that begins with all but its last
    /// three letters (at least four), so that "Scandinavian" meets "Scandinavia", "Cypriot"
    /// "Cyprus" and "Hawaiian" "Hawaii"; a word typed in ASCII also meets an accented one
    /// ("Herve", "Hervé"). A failed lookup counts as mentioned: this only
    /// ever argues for declining.
    pub fn mentions(&self, word: &str) -> bool {
        let searcher = self.reader.searcher();
        let fields = [self.fields.body, self.fields.title];
        let indexed = self.query_terms(word).iter().all(|term| {
            let exact = fields.iter().any(|f| {
                searcher
                    .doc_freq(&Term::from_field_text(*f, term))
                    .map_or(true, |df| df > 0)
            });
            exact
                || tolerated_prefix(term).is_some_and(|prefix| {
                    let segments = searcher.segment_readers();
                    fields.iter().any(|f| {
                        segments.iter().any(|segment| {
                            segment
                                .inverted_index(*f)
                                .and_then(|inverted| {
                                    let mut stream = inverted
                                        .terms()
                                        .range()
                                        .ge(prefix.as_bytes())
                                        .into_stream()?;
                                    Ok(stream.advance()
                                        && stream.key().starts_with(prefix.as_bytes()))
                                })
                                .unwrap_or(true)
                        })
                    })
                })
        });
        indexed || (word.is_ascii() && self.mentions_folded(&word.to_lowercase()))
    }

    /// Whether a word typed in ASCII is an accented word of the articles, or begins like
    /// one as [`Self::mentions`] allows.
    fn mentions_folded(&self, lower: &str) -> bool {
        let folded = self.folded_words();
        let prefix = tolerated_prefix(lower).unwrap_or(lower);
        let from = folded.partition_point(|w| w.as_str() < prefix);
        folded[from..]
            .iter()
            .take_while(|w| w.starts_with(prefix))
            .any(|w| prefix.len() < lower.len() || w == lower)
    }

    /// Inverse document frequency of an analyzed term over the passages (BM25's formula). A
    /// term no passage holds gets the highest value, as it would if it occurred once.
    pub fn idf(&self, term: &str) -> f32 {
        let searcher = self.reader.searcher();
        let n = searcher.num_docs() as f32;
        let df = searcher
            .doc_freq(&Term::from_field_text(self.fields.body, term))
            .unwrap_or(0)
            .max(1) as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The `k` passages that best match `question` by BM25, best first, optionally only from
    /// one article. A question with no searchable words gives an empty list.
    pub fn search(
        &self,
        question: &str,
        k: usize,
        article: Option<&str>,
    ) -> Result<Vec<SearchHit>, IndexError> {
        let terms = self.query_terms(question);
        if terms.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * 2);
        for t in &terms {
            should.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.body, t),
                    IndexRecordOption::WithFreqs,
                )),
            ));
            should.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.title, t),
                        IndexRecordOption::WithFreqs,
                    )),
                    TITLE_BOOST,
                )),
            ));
        }
        let text_query: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        let query: Box<dyn Query> = match article {
            Some(id) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text_query),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.article_id, id),
                        IndexRecordOption::Basic,
                    )),
                ),
            ])),
            None => text_query,
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(k))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(slot) = doc.get_first(self.fields.slot).and_then(|v| v.as_u64()) else {
                continue;
            };
            hits.extend(self.hit(slot as usize, score));
        }
        Ok(hits)
    }

    /// Share of the question's idf weight that `text` holds (1.0: every term of the question
    /// occurs in it).
    pub fn coverage_of(&self, question: &str, text: &str) -> f32 {
        let terms: Vec<(String, f32)> = self
            .query_terms(question)
            .into_iter()
            .map(|t| {
                let idf = self.idf(&t);
                (t, idf)
            })
            .collect();
        self.weighted_share(&terms, text)
    }

    /// Share of the weight of `terms` (analyzed term, weight) whose terms occur in `text`.
    pub fn weighted_share(&self, terms: &[(String, f32)], text: &str) -> f32 {
        let total: f32 = terms.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let present = self.text_terms(text);
        let found: f32 = terms
            .iter()
            .filter(|(t, _)| present.contains(t))
            .map(|(_, w)| w)
            .sum();
        found / total
    }

    /// The passage in `slot` as a hit with `score`.
    pub fn hit(&self, slot: usize, score: f32) -> Option<SearchHit> {
        let passage = self.texts.passages.get(slot)?;
        let title = self
            .texts
            .article(&passage.article_id)
            .map(|a| a.title.clone())
            .unwrap_or_default();
        Some(SearchHit {
            passage_id: passage.id(),
            article_id: passage.article_id.clone(),
            article_title: title,
            ordinal: passage.ordinal,
            score,
            range: passage.range.clone(),
            text: passage.text.clone(),
            slot,
        })
    }

    /// The `k` passages most similar to the question, best first, with their score: the best
    /// sentence's cosine plus [`PASSAGE_VECTOR_WEIGHT`] times the whole passage's. `sims`
    /// holds the question's cosine with every vector
    /// ([`super::SentenceVectors::similarities`]); without vectors the list is empty.
    pub fn dense_search(&self, sims: &[f32], k: usize, article: Option<&str>) -> Vec<(usize, f32)> {
        let Some(vectors) = &self.vectors else {
            return Vec::new();
        };
        let slots = match article {
            Some(id) => match self.texts.article_slots(id) {
                Some(range) => range,
                None => return Vec::new(),
            },
            None => 0..self.texts.passages.len(),
        };
        let mut scored: Vec<(usize, f32)> = slots
            .filter_map(|slot| {
                let best = sims
                    .get(vectors.passage_rows(slot))?
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max);
                let whole = vectors
                    .passage_vector(slot)
                    .and_then(|row| sims.get(row))
                    .copied()
                    .unwrap_or(0.0);
                best.is_finite()
                    .then_some((slot, best + PASSAGE_VECTOR_WEIGHT * whole))
            })
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    /// BM25 and dense retrieval fused by weighted reciprocal rank: the `k` best passages, each
    /// hit's score its fused score. The dense list weighs 1; the lexical list weighs the square
    /// of the share of the question's idf weight its best passage holds (at least
    /// [`MIN_LEXICAL_WEIGHT`]): a list that matched half of the question's words weighs a
    /// quarter.
    /// Without `sims` (no embedder, or no vectors) this is BM25 alone.
    pub fn hybrid_search(
        &self,
        question: &str,
        sims: Option<&[f32]>,
        k: usize,
        article: Option<&str>,
    ) -> Result<Vec<SearchHit>, IndexError> {
        let Some(sims) = sims.filter(|_| self.vectors.is_some()) else {
            return self.search(question, k, article);
        };
        let depth = (k * FUSION_DEPTH).max(20);
        let lexical = self.search(question, depth, article)?;
        let dense = self.dense_search(sims, depth, article);
        let mut fused: std::collections::HashMap<usize, f32> = std::collections::HashMap::new();
        // The lexical list counts as much as its best passage holds of the question: all of
        // it for a question in the article's words, little for one in a reader's own words
        // (whose BM25 list matched incidental words).
        let lexical_weight = lexical
            .first()
            .map(|h| self.coverage_of(question, &h.text).powi(2))
            .unwrap_or(0.0)
            .max(MIN_LEXICAL_WEIGHT);
        for (rank, hit) in lexical.iter().enumerate() {
            *fused.entry(hit.slot).or_default() += lexical_weight / (RRF_K + rank as f32 + 1.0);
        }
        for (rank, (slot, _)) in dense.iter().enumerate() {
            *fused.entry(*slot).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        let mut ranked: Vec<(usize, f32)> = fused.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(ranked
            .into_iter()
            .take(k)
            .filter_map(|(slot, score)| self.hit(slot, score))
            .collect())
    }
}

/// The first letters of a word that another word must share to count as the same name: all
/// but the last three, at least four; `None` for a word too short to shorten.
pub fn tolerated_prefix(word: &str) -> Option<&str> {
    let chars = word.chars().count();
    let keep = chars.saturating_sub(3).max(4);
    (keep < chars).then(|| {
        let end = word.char_indices().nth(keep).map_or(word.len(), |(i, _)| i);
        &word[..end]
    })
}

#[cfg(test)]
mod tests {
    use super::PASSAGE_VECTOR_WEIGHT;
    use crate::answer::testing::small_index;

    #[test]
    fn bm25_ranks_the_passage_with_the_words_first_and_keeps_to_an_article() {
        let (_dir, index) = small_index();
        let hits = index.search("grain exports from Odesa", 5, None).unwrap();
        assert!(hits[0].text.contains("Odesa"), "{hits:?}");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let bakery = index
            .articles()
            .iter()
            .find(|a| a.title.contains("bakery"))
            .map(|a| a.id.clone())
            .unwrap();
        let only = index.search("grain bakery", 5, Some(&bakery)).unwrap();
        assert!(!only.is_empty() && only.iter().all(|h| h.article_id == bakery));
        // Without vectors the hybrid search is BM25's.
        let hybrid = index
            .hybrid_search("grain exports from Odesa", None, 5, None)
            .unwrap();
        assert_eq!(hybrid[0].passage_id, hits[0].passage_id);
    }

    #[test]
    fn the_dense_ranking_adds_a_passages_own_similarity_to_its_best_sentences() {
        use crate::index::vectors::{layout, SentenceVectors};
        use crate::index::SearchIndex;
        let (_dir, lexical) = small_index();
        // Vectors of any value, written beside the index and read back with it: the test sets
        // the question's similarities row by row.
        let rows = layout(lexical.articles(), lexical.passages());
        let fake = |texts: &[&str]| Ok::<_, ()>(texts.iter().map(|_| vec![1.0, 0.0]).collect());
        let (vectors, _) = SentenceVectors::build("m", 2, &rows, None, fake).unwrap();
        vectors.write(lexical.dir()).unwrap();
        let index = SearchIndex::open_dir(lexical.dir()).unwrap();
        let vectors = index.vectors().unwrap();
        // The first passages of two articles: `a` holds the closer sentence, `b` is about the
        // question as a whole.
        let first_of = |article: usize| {
            let id = &index.articles()[article].id;
            (0..index.passages().len())
                .find(|&slot| &index.passages()[slot].article_id == id)
                .unwrap()
        };
        let (a, b) = (first_of(0), first_of(1));
        let mut sims = vec![0.0; vectors.len()];
        sims[vectors.passage_rows(a).start] = 0.60;
        sims[vectors.passage_rows(b).start] = 0.55;
        let by_sentences = index.dense_search(&sims, 2, None);
        assert_eq!(by_sentences[0].0, a, "{by_sentences:?}");
        sims[vectors.passage_vector(a).unwrap()] = 0.1;
        sims[vectors.passage_vector(b).unwrap()] = 0.5;
        let ranked = index.dense_search(&sims, 2, None);
        assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), [b, a]);
        assert!((ranked[0].1 - (0.55 + PASSAGE_VECTOR_WEIGHT * 0.5)).abs() < 1e-6);
    }

    #[test]
    fn no_input_makes_a_query_fail() {
        let (_dir, index) = small_index();
        for q in [
            "",
            "the of and",
            "\"unclosed AND OR (",
            &"Odesa ".repeat(5000),
        ] {
            let hits = index.search(q, 3, None).unwrap();
            assert!(hits.len() <= 3);
        }
        assert!(index.search(" ?! -- ", 3, None).unwrap().is_empty());
        assert!(index.search("Odesa", 0, None).unwrap().is_empty());
    }
}
