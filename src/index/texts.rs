//! The articles and passages an index was built from, kept beside it for display: full
//! texts, titles, and the byte ranges of every passage and sentence.
use crate::corpus::{Article, Passage};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const FILE_NAME: &str = "store.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ArticleTexts {
    pub articles: Vec<Article>,
    /// All passages, grouped by article in article order.
    pub passages: Vec<Passage>,
    #[serde(skip)]
    by_article: HashMap<String, (usize, std::ops::Range<usize>)>,
}

impl ArticleTexts {
    pub fn new(articles: Vec<Article>, passages: Vec<Passage>) -> ArticleTexts {
        let mut store = ArticleTexts {
            articles,
            passages,
            by_article: HashMap::new(),
        };
        store.reindex();
        store
    }

    /// Rebuilds the lookup tables after deserialising.
    pub fn reindex(&mut self) {
        self.by_article.clear();
        for (i, a) in self.articles.iter().enumerate() {
            self.by_article.insert(a.id.clone(), (i, 0..0));
        }
        let mut start = 0;
        while start < self.passages.len() {
            let id = &self.passages[start].article_id;
            let mut end = start;
            while end < self.passages.len() && &self.passages[end].article_id == id {
                end += 1;
            }
            if let Some(entry) = self.by_article.get_mut(id) {
                entry.1 = start..end;
            }
            start = end;
        }
    }

    pub fn article(&self, id: &str) -> Option<&Article> {
        self.by_article.get(id).map(|(i, _)| &self.articles[*i])
    }

    /// The slots of the passages of an article.
    pub fn article_slots(&self, article_id: &str) -> Option<std::ops::Range<usize>> {
        self.by_article
            .get(article_id)
            .map(|(_, range)| range.clone())
    }

    pub fn passages_of(&self, article_id: &str) -> &[Passage] {
        match self.by_article.get(article_id) {
            Some((_, range)) => &self.passages[range.clone()],
            None => &[],
        }
    }
}
