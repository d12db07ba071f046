//! Writing a complete index into a fresh folder: passages into tantivy, articles and
//! passages into the store, and, with an embedder, the sentence vectors.
use super::schema;
use super::texts::{self, ArticleTexts};
use super::vectors::{self, SentenceVectors};
use super::{io_err, IndexError, SearchIndex};
use crate::corpus::{self, ChunkConfig, Corpus, Passage};
use crate::embed::Embedder;
use crate::progress::{Progress, Unit};
use std::path::Path;
use tantivy::{doc, IndexWriter};

/// How to index.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    pub chunking: ChunkConfig,
    /// Where indexing a large corpus reports its progress.
    pub progress: Progress,
    /// Embeds every sentence, for dense retrieval; without it the index is lexical only.
    pub embedder: Option<std::sync::Arc<Embedder>>,
}

impl IndexOptions {
    /// The vectors' model name an index built with these options has.
    pub(super) fn vectors_model(&self) -> Option<String> {
        self.embedder
            .as_ref()
            .map(|_| crate::embed::MODEL_NAME.to_string())
    }
}

/// Chunks the corpus and writes a complete index (tantivy and store) into `dir`, which must
/// not exist yet. Used by `ensure_index` and by benchmarks that index into a scratch folder.
pub fn build_at(
    corpus: &Corpus,
    dir: &Path,
    options: &IndexOptions,
) -> Result<SearchIndex, IndexError> {
    build_at_reusing(corpus, dir, options, None)
}

/// As [`build_at`], taking the vectors of sentences whose text is unchanged from `previous`
/// instead of embedding them again.
pub fn build_at_reusing(
    corpus: &Corpus,
    dir: &Path,
    options: &IndexOptions,
    previous_vectors: Option<&SentenceVectors>,
) -> Result<SearchIndex, IndexError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (schema, fields) = schema::schema();
    let index = tantivy::Index::create_in_dir(dir, schema)?;
    index
        .tokenizers()
        .register(schema::ANALYZER, schema::analyzer());
    let mut writer: IndexWriter = index.writer(100_000_000)?;
    // Small corpora index in a blink; progress reports would only flicker.
    let mut progress = if corpus.articles.len() >= 200 {
        options.progress.clone()
    } else {
        Progress::silent()
    }
    .task("indexing", Some(corpus.articles.len() as u64), Unit::Items);
    let mut passages: Vec<Passage> = Vec::new();
    for article in &corpus.articles {
        for passage in corpus::chunk_article(article, &options.chunking) {
            writer.add_document(doc!(
                fields.passage_id => passage.id(),
                fields.article_id => passage.article_id.clone(),
                fields.slot => passages.len() as u64,
                fields.title => article.title.clone(),
                fields.body => passage.text.clone(),
            ))?;
            passages.push(passage);
        }
        progress.advance(1);
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    drop(progress);
    let store = ArticleTexts::new(corpus.articles.clone(), passages);
    let store_path = dir.join(texts::FILE_NAME);
    let json = serde_json::to_vec(&store).map_err(|e| IndexError::Texts {
        path: store_path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&store_path, json).map_err(io_err(&store_path))?;
    let vectors = match &options.embedder {
        Some(embedder) => {
            let layout = vectors::layout(&store.articles, &store.passages);
            let (vectors, embedded) = SentenceVectors::build(
                crate::embed::MODEL_NAME,
                crate::embed::DIM,
                &layout,
                previous_vectors,
                |texts| embedder.embed_all(texts, &options.progress),
            )?;
            tracing::info!(
                rows = vectors.len(),
                embedded,
                reused = vectors.len() - embedded,
                "sentence and passage vectors built"
            );
            vectors.write(dir).map_err(io_err(dir))?;
            Some(vectors)
        }
        None => None,
    };
    SearchIndex::from_parts(index, store, vectors, dir)
}
