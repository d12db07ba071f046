//! BM25 retrieval. The user's text is never parsed as query syntax: it is run through the
//! index's own analyzer and each resulting term becomes a plain term query, so no input can
//! make a query fail.
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

/// One retrieved passage.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub passage_id: String,
    pub article_id: String,
    pub article_title: String,
    pub ordinal: usize,
    pub score: f32,
    /// Byte range of the passage inside the article text.
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
            let Some(passage) = self.store.passages.get(slot as usize) else {
                continue;
            };
            let title = self
                .store
                .article(&passage.article_id)
                .map(|a| a.title.clone())
                .unwrap_or_default();
            hits.push(SearchHit {
                passage_id: passage.id(),
                article_id: passage.article_id.clone(),
                article_title: title,
                ordinal: passage.ordinal,
                score,
                range: passage.range.clone(),
                text: passage.text.clone(),
                slot: slot as usize,
            });
        }
        Ok(hits)
    }
}
