//! The data folder's current index: opened when the manifest says it was built from this
//! corpus and these settings, else built aside under the build lock and swapped in by
//! renaming the manifest that names it.
use super::build::{build_at_reusing, IndexOptions};
use super::manifest::{self, Manifest};
use super::{io_err, IndexError, SearchIndex};
use crate::corpus::{self, Corpus, SkippedFile};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
        articles: index.texts.articles.len(),
        passages: index.texts.passages.len(),
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
