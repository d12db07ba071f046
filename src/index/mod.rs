//! The passage index: tantivy BM25 over passages, built aside and swapped in atomically.
//!
//! Layout of the data folder:
//! - `manifest.json`: what the current index was built from, and which folder holds it;
//! - `index-<id>/`: a tantivy index plus `store.json` (the articles' texts and passages, for display) and,
//!   when built with an embedder, the sentence vectors (`vectors.json`, `vectors.f32`);
//! - `.building-<pid>-<id>/`: an index being built. It becomes current only when the
//!   manifest that names it has been renamed into place, so a crash mid-build leaves the old
//!   index serving;
//! - `.index.lock`: held (an `flock`) by the process that is building: builds in one data
//!   folder take turns, and a build folder found while holding the lock was abandoned.

mod build;
mod current;
mod manifest;
mod schema;
mod search;
mod texts;
pub mod vectors;

pub use build::{build_at, build_at_reusing, IndexOptions};
pub use current::{ensure_index, is_current, open, BuildStatus, IndexReport};
pub use manifest::Manifest;
pub use schema::analyzer;
pub use search::{tolerated_prefix, SearchHit};
pub use texts::ArticleTexts;
pub use vectors::SentenceVectors;

use crate::corpus::{self, Article, CorpusError, Passage};
use crate::embed::EmbedError;
use schema::Fields;
use std::path::{Path, PathBuf};
use tantivy::{IndexReader, ReloadPolicy};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error("index I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("the index's article texts {path} are unreadable: {reason}")]
    Texts { path: PathBuf, reason: String },
    #[error("no index in {0}: run `ama index` first")]
    Missing(PathBuf),
    #[error("embedding the sentences: {0}")]
    Embed(#[from] EmbedError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An opened passage index with its articles' texts.
pub struct SearchIndex {
    /// Every word of the corpus (see [`corpus::words`]), built on first use.
    vocabulary: std::sync::OnceLock<std::collections::HashSet<String>>,
    /// The words of [`Self::vocabulary`] written with letters beyond ASCII, folded to ASCII
    /// ("hervé" → "herve"), sorted; built on first use.
    folded: std::sync::OnceLock<Vec<String>>,
    reader: IndexReader,
    fields: Fields,
    texts: ArticleTexts,
    /// The sentences' embeddings, when the index was built with an embedder.
    vectors: Option<SentenceVectors>,
    dir: PathBuf,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("articles", &self.texts.articles.len())
            .field("passages", &self.texts.passages.len())
            .finish()
    }
}

impl SearchIndex {
    fn open_dir(dir: &Path) -> Result<SearchIndex, IndexError> {
        let index = tantivy::Index::open_in_dir(dir)?;
        index
            .tokenizers()
            .register(schema::ANALYZER, schema::analyzer());
        let store_path = dir.join(texts::FILE_NAME);
        let bytes = std::fs::read(&store_path).map_err(io_err(&store_path))?;
        let mut texts: ArticleTexts =
            serde_json::from_slice(&bytes).map_err(|e| IndexError::Texts {
                path: store_path.clone(),
                reason: e.to_string(),
            })?;
        texts.reindex();
        let vectors = if dir.join(vectors::META_FILE).exists() {
            SentenceVectors::read(dir, &vectors::layout(&texts.articles, &texts.passages))
        } else {
            None
        };
        SearchIndex::from_parts(index, texts, vectors, dir)
    }

    fn from_parts(
        index: tantivy::Index,
        texts: ArticleTexts,
        vectors: Option<SentenceVectors>,
        dir: &Path,
    ) -> Result<SearchIndex, IndexError> {
        let fields = schema::fields_of(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            vocabulary: std::sync::OnceLock::new(),
            folded: std::sync::OnceLock::new(),
            reader,
            fields,
            texts,
            vectors,
            dir: dir.to_path_buf(),
        })
    }

    /// The sentence vectors, when the index has them.
    pub fn vectors(&self) -> Option<&SentenceVectors> {
        self.vectors.as_ref()
    }

    pub fn articles(&self) -> &[Article] {
        &self.texts.articles
    }

    pub fn passages(&self) -> &[Passage] {
        &self.texts.passages
    }

    pub fn article(&self, id: &str) -> Option<&Article> {
        self.texts.article(id)
    }

    pub fn passages_of(&self, article_id: &str) -> &[Passage] {
        self.texts.passages_of(article_id)
    }

    /// Every word of the articles and their titles, lower-cased, possessives dropped.
    pub fn vocabulary(&self) -> &std::collections::HashSet<String> {
        self.vocabulary.get_or_init(|| {
            let mut set = std::collections::HashSet::new();
            for a in &self.texts.articles {
                set.extend(corpus::words(&a.text));
                set.extend(corpus::words(&a.title));
            }
            set
        })
    }

    /// The corpus's words written with accents or other letters beyond ASCII, folded to
    /// ASCII, sorted: what a reader typing "Herve" for "Hervé" means.
    pub fn folded_words(&self) -> &[String] {
        self.folded.get_or_init(|| {
            let mut folded: Vec<String> = self
                .vocabulary()
                .iter()
                .filter(|w| !w.is_ascii())
                .map(|w| fold_to_ascii(w))
                .collect();
            folded.sort();
            folded.dedup();
            folded
        })
    }

    /// The folder holding this index.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `text` with accented and other Latin letters folded to ASCII (tantivy's folding filter).
pub fn fold_to_ascii(text: &str) -> String {
    use tantivy::tokenizer::{AsciiFoldingFilter, RawTokenizer, TextAnalyzer};
    let mut analyzer = TextAnalyzer::builder(RawTokenizer::default())
        .filter(AsciiFoldingFilter)
        .build();
    let mut stream = analyzer.token_stream(text);
    let mut out = String::new();
    while stream.advance() {
        out.push_str(&stream.token().text);
    }
    out
}
