//! Checking a model file against its pinned sha256, once per version of the file: a marker
//! beside it remembers the size and modification time that were verified.
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use super::{io_err, FetchError};

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn marker_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256-ok");
    path.with_file_name(name)
}

/// What the marker records: the file's size and modification time with the verified hash, so
/// that a replaced or modified file is hashed again.
fn marker_key(path: &Path, sha256: &str) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("{} {} {sha256}", meta.len(), mtime.as_nanos()))
}

pub(super) fn write_marker(path: &Path, sha256: &str) {
    if let Some(key) = marker_key(path, sha256) {
        // The marker only saves re-hashing next time; failing to write it is harmless.
        if let Err(e) = fs::write(marker_path(path), key) {
            tracing::debug!("could not write checksum marker: {e}");
        }
    }
}

/// Verifies a file already in place against its pinned checksum, once per (size, mtime).
pub(super) fn verify_cached(path: &Path, expected: &str) -> Result<(), FetchError> {
    if let Some(key) = marker_key(path, expected) {
        if fs::read_to_string(marker_path(path)).ok().as_deref() == Some(key.as_str()) {
            return Ok(());
        }
    }
    let actual = sha256_file(path).map_err(io_err(format!("reading {}", path.display())))?;
    if actual != expected {
        return Err(FetchError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    write_marker(path, expected);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_invalidated_by_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        fs::write(&path, b"hello").unwrap();
        let sha = sha256_file(&path).unwrap();
        verify_cached(&path, &sha).unwrap();
        assert!(marker_path(&path).exists());
        // Same size, different content and mtime: must be re-hashed and rejected.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, b"jello").unwrap();
        let err = verify_cached(&path, &sha).unwrap_err();
        assert!(matches!(err, FetchError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("by hand"));
    }
}
