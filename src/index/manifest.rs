//! The manifest records what an index was built from, so that an unchanged corpus is not
//! indexed again, and which index folder is current, so that swapping in a new index is one
//! atomic rename of this file.
use crate::corpus::{ChunkConfig, SkippedFile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped whenever the index layout or the analyzer changes, forcing a rebuild.
pub const FORMAT: u32 = 2;
pub const FILE_NAME: &str = "manifest.json";

/// What the corpus looked like: relative path → sha256 of the file's bytes.
pub type Fingerprint = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub chunking: ChunkConfig,
    pub files: Fingerprint,
    /// Folder (inside the data folder) holding the current index.
    pub index_dir: String,
    pub articles: usize,
    pub passages: usize,
    pub skipped: Vec<SkippedFile>,
    pub build_ms: u64,
    /// The embedder of the stored sentence vectors (none: a lexical index).
    #[serde(default)]
    pub vectors: Option<String>,
}

impl Manifest {
    /// True when this manifest describes an index of exactly these files and settings, with
    /// vectors of the embedder `vectors` (or none).
    pub fn matches(
        &self,
        files: &Fingerprint,
        chunking: &ChunkConfig,
        vectors: &Option<String>,
    ) -> bool {
        self.format == FORMAT
            && &self.chunking == chunking
            && &self.files == files
            && &self.vectors == vectors
    }
}

/// Hashes every article file of the corpus.
pub fn fingerprint(root: &Path, files: &[PathBuf]) -> std::io::Result<Fingerprint> {
    let mut out = BTreeMap::new();
    for path in files {
        let bytes = std::fs::read(path)?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        out.insert(
            rel.to_string_lossy().to_string(),
            hex::encode(Sha256::digest(&bytes)),
        );
    }
    Ok(out)
}

pub fn read(data_dir: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(data_dir.join(FILE_NAME)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the manifest to a temporary file, syncs it, and renames it over the old one: a
/// reader sees either the old manifest or the new one, never half of one.
pub fn write_atomically(data_dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(data_dir)?;
    tmp.write_all(&json)?;
    tmp.as_file().sync_all()?;
    tmp.persist(data_dir.join(FILE_NAME)).map_err(|e| e.error)?;
    if let Ok(dir) = std::fs::File::open(data_dir) {
        // Make the rename itself durable; not all file systems support this, so best effort.
        let _ = dir.sync_all();
    }
    Ok(())
}
