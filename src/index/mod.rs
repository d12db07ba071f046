//! The passage index: tantivy BM25 over passages, built aside and swapped in atomically.
//!
//! Layout of the data folder:
//! - `manifest.json`: what the current index was built from, and which folder holds it;
//! - `index-<id>/`: a tantivy index plus `store.json` (articles and passages for display) and,
//!   when built with an embedder, the sentence vectors (`vectors.json`, `vectors.f32`);
//! - `.building-<pid>-<id>/`: an index being built. It becomes current only when the
//!   manifest that names it has been renamed into place, so a crash mid-build leaves the old
//!   index serving;
//! - `.index.lock`: held (an `flock`) by the process that is building: builds in one data
//!   folder take turns, and a build folder found while holding the lock was abandoned.

mod manifest;
mod schema;
mod search;
mod store;
pub mod vectors;

pub use manifest::Manifest;
pub use schema::analyzer;
pub use search::{tolerated_prefix, SearchHit};
pub use store::Store;
pub use vectors::SentenceVectors;

use crate::corpus::{self, Article, ChunkConfig, Corpus, CorpusError, Passage, SkippedFile};
use crate::embed::{EmbedError, Embedder};
use crate::progress::{Progress, Unit};
use schema::Fields;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tantivy::{doc, IndexReader, IndexWriter, ReloadPolicy};

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
    #[error("index store {path} is unreadable: {reason}")]
    Store { path: PathBuf, reason: String },
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
    fn vectors_model(&self) -> Option<String> {
        self.embedder
            .as_ref()
            .map(|_| crate::embed::MODEL_NAME.to_string())
    }
}

/// What `ensure_index` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildStatus {
    /// The corpus had not changed: the existing index was opened, nothing was rebuilt.
    UpToDate,
    /// A new index was built and swapped in.
    Built,
}

#[derive(Debug, Clone)]
pub struct IndexReport {
    pub status: BuildStatus,
    pub articles: usize,
    pub passages: usize,
    pub skipped: Vec<SkippedFile>,
    pub build_ms: u64,
    pub index_dir: PathBuf,
}

/// An opened passage index with its article store.
pub struct SearchIndex {
    /// Every word of the corpus (see [`corpus::words`]), built on first use.
    vocabulary: std::sync::OnceLock<std::collections::HashSet<String>>,
    /// The words of [`Self::vocabulary`] written with letters beyond ASCII, folded to ASCII
    /// ("hervé" → "herve"), sorted; built on first use.
    folded: std::sync::OnceLock<Vec<String>>,
    reader: IndexReader,
    fields: Fields,
    store: Store,
    /// The sentences' embeddings, when the index was built with an embedder.
    vectors: Option<SentenceVectors>,
    dir: PathBuf,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("articles", &self.store.articles.len())
            .field("passages", &self.store.passages.len())
            .finish()
    }
}

/// Opens the index of `corpus_dir` in `data_dir`, building it first when it is missing or
/// the corpus (file contents or chunking settings) changed since it was built.
pub fn ensure_index(
    corpus_dir: &Path,
    data_dir: &Path,
    options: &IndexOptions,
) -> Result<(SearchIndex, IndexReport), IndexError> {
    let files = corpus::list_article_files(corpus_dir)?;
    let fingerprint = manifest::fingerprint(corpus_dir, &files).map_err(io_err(corpus_dir))?;
    if let Some(fresh) = current_if_fresh(data_dir, &fingerprint, options) {
        return Ok(fresh);
    }
    std::fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
    let _lock = BuildLock::acquire(data_dir)?;
    // Another process may have built it while this one waited.
    if let Some(fresh) = current_if_fresh(data_dir, &fingerprint, options) {
        return Ok(fresh);
    }
    let corpus = corpus::read_corpus(corpus_dir)?;
    rebuild(&corpus, fingerprint, data_dir, options)
}

/// The current index, when the manifest says it was built from this corpus and these settings
/// and it opens.
fn current_if_fresh(
    data_dir: &Path,
    fingerprint: &manifest::Fingerprint,
    options: &IndexOptions,
) -> Option<(SearchIndex, IndexReport)> {
    let current = manifest::read(data_dir)?;
    if !current.matches(fingerprint, &options.chunking, &options.vectors_model()) {
        return None;
    }
    let dir = data_dir.join(&current.index_dir);
    match SearchIndex::open_dir(&dir) {
        Ok(index) => {
            let report = IndexReport {
                status: BuildStatus::UpToDate,
                articles: current.articles,
                passages: current.passages,
                skipped: current.skipped,
                build_ms: current.build_ms,
                index_dir: dir,
            };
            Some((index, report))
        }
        Err(err) => {
            tracing::warn!("current index is unusable, rebuilding: {err}");
            None
        }
    }
}

/// The data folder's build lock, released when dropped (or when the process ends).
struct BuildLock(std::fs::File);

impl BuildLock {
    fn acquire(data_dir: &Path) -> Result<BuildLock, IndexError> {
        use fs4::fs_std::FileExt;
        let path = data_dir.join(".index.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if !FileExt::try_lock_exclusive(&file).map_err(io_err(&path))? {
            tracing::info!(
                "another process is building the index in {}; waiting for it",
                data_dir.display()
            );
            FileExt::lock_exclusive(&file).map_err(io_err(&path))?;
        }
        Ok(BuildLock(file))
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = fs4::fs_std::FileExt::unlock(&self.0);
    }
}

/// Flushes every file under `dir`, and `dir` itself, to disk (before it is renamed into place).
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(dir).contents_first(true) {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_file() {
            std::fs::File::open(entry.path())?.sync_all()?;
        } else if entry.file_type().is_dir() {
            // Directories cannot be fsynced on every platform: best effort.
            if let Ok(d) = std::fs::File::open(entry.path()) {
                let _ = d.sync_all();
            }
        }
    }
    Ok(())
}

/// Whether the current index of `data_dir` was built from the corpus as it is now (its
/// files; settings aside).
pub fn is_current(corpus_dir: &Path, data_dir: &Path) -> bool {
    let Ok(files) = corpus::list_article_files(corpus_dir) else {
        return false;
    };
    let Ok(fingerprint) = manifest::fingerprint(corpus_dir, &files) else {
        return false;
    };
    manifest::read(data_dir).is_some_and(|m| m.files == fingerprint)
}

/// Opens the current index of `data_dir` without looking at the corpus.
pub fn open(data_dir: &Path) -> Result<SearchIndex, IndexError> {
    let current = manifest::read(data_dir).ok_or_else(|| IndexError::Missing(data_dir.into()))?;
    SearchIndex::open_dir(&data_dir.join(current.index_dir))
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}

/// Builds a new index aside, then swaps it in by renaming the manifest that names it.
fn rebuild(
    corpus: &Corpus,
    fingerprint: manifest::Fingerprint,
    data_dir: &Path,
    options: &IndexOptions,
) -> Result<(SearchIndex, IndexReport), IndexError> {
    std::fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
    remove_abandoned_builds(data_dir);
    let started = Instant::now();
    let suffix = unique_suffix();
    let building = data_dir.join(format!(".building-{suffix}"));
    // Vectors of sentences whose text did not change are reused.
    let previous_vectors = manifest::read(data_dir)
        .and_then(|m| SearchIndex::open_dir(&data_dir.join(m.index_dir)).ok())
        .and_then(|i| i.vectors);
    let index = match build_at_reusing(corpus, &building, options, previous_vectors.as_ref()) {
        Ok(index) => index,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(err);
        }
    };
    drop(index);
    sync_tree(&building).map_err(io_err(&building))?;
    let final_name = format!("index-{suffix}");
    let final_dir = data_dir.join(&final_name);
    std::fs::rename(&building, &final_dir).map_err(io_err(&final_dir))?;
    let build_ms = started.elapsed().as_millis() as u64;
    let previous = manifest::read(data_dir);
    let index = SearchIndex::open_dir(&final_dir)?;
    let new_manifest = Manifest {
        format: manifest::FORMAT,
        chunking: options.chunking.clone(),
        files: fingerprint,
        index_dir: final_name,
        articles: index.store.articles.len(),
        passages: index.store.passages.len(),
        skipped: corpus.skipped.clone(),
        build_ms,
        vectors: index.vectors.as_ref().map(|v| v.model.clone()),
    };
    manifest::write_atomically(data_dir, &new_manifest).map_err(io_err(data_dir))?;
    // The old index is no longer named by the manifest. A process that still has it open
    // keeps reading its files until it closes them.
    if let Some(old) = previous {
        if old.index_dir != new_manifest.index_dir {
            let _ = std::fs::remove_dir_all(data_dir.join(old.index_dir));
        }
    }
    tracing::info!(
        articles = new_manifest.articles,
        passages = new_manifest.passages,
        skipped = new_manifest.skipped.len(),
        build_ms,
        "index built"
    );
    let report = IndexReport {
        status: BuildStatus::Built,
        articles: new_manifest.articles,
        passages: new_manifest.passages,
        skipped: new_manifest.skipped,
        build_ms,
        index_dir: final_dir,
    };
    Ok((index, report))
}

/// Removes `.building-*` folders left by a crash or a kill mid-build. Called with the build
/// lock held, so no other process is building: every such folder is abandoned.
fn remove_abandoned_builds(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(".building-") {
            tracing::info!("removing abandoned index build {name}");
            let _ = std::fs::remove_dir_all(entry.path());
        }
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
    let store = Store::new(corpus.articles.clone(), passages);
    let store_path = dir.join(store::FILE_NAME);
    let json = serde_json::to_vec(&store).map_err(|e| IndexError::Store {
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
                sentences = vectors.len(),
                embedded,
                reused = vectors.len() - embedded,
                "sentence vectors built"
            );
            vectors.write(dir).map_err(io_err(dir))?;
            Some(vectors)
        }
        None => None,
    };
    SearchIndex::from_parts(index, store, vectors, dir)
}

impl SearchIndex {
    fn open_dir(dir: &Path) -> Result<SearchIndex, IndexError> {
        let index = tantivy::Index::open_in_dir(dir)?;
        index
            .tokenizers()
            .register(schema::ANALYZER, schema::analyzer());
        let store_path = dir.join(store::FILE_NAME);
        let bytes = std::fs::read(&store_path).map_err(io_err(&store_path))?;
        let mut store: Store = serde_json::from_slice(&bytes).map_err(|e| IndexError::Store {
            path: store_path.clone(),
            reason: e.to_string(),
        })?;
        store.reindex();
        let vectors = if dir.join(vectors::META_FILE).exists() {
            SentenceVectors::read(dir, &vectors::layout(&store.articles, &store.passages))
        } else {
            None
        };
        SearchIndex::from_parts(index, store, vectors, dir)
    }

    fn from_parts(
        index: tantivy::Index,
        store: Store,
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
            store,
            vectors,
            dir: dir.to_path_buf(),
        })
    }

    /// The sentence vectors, when the index has them.
    pub fn vectors(&self) -> Option<&SentenceVectors> {
        self.vectors.as_ref()
    }

    pub fn articles(&self) -> &[Article] {
        &self.store.articles
    }

    pub fn passages(&self) -> &[Passage] {
        &self.store.passages
    }

    pub fn article(&self, id: &str) -> Option<&Article> {
        self.store.article(id)
    }

    pub fn passages_of(&self, article_id: &str) -> &[Passage] {
        self.store.passages_of(article_id)
    }

    /// Every word of the articles and their titles, lower-cased, possessives dropped.
    pub fn vocabulary(&self) -> &std::collections::HashSet<String> {
        self.vocabulary.get_or_init(|| {
            let mut set = std::collections::HashSet::new();
            for a in &self.store.articles {
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
