//! One serving process per data folder: `serve` holds `data/.serve.lock` (an `flock`) while it
//! runs, and a second `serve` on the same folder stops at once with an error that says which
//! process holds it. One-shot commands (`ask`, `index`) do not take it: their index builds take
//! turns on the index's own lock, and their log appends are single whole-line writes.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File, in the data folder, that the serving process locks.
pub const SERVE_LOCK: &str = ".serve.lock";

#[derive(Debug, thiserror::Error)]
pub enum DataLockError {
    #[error(
        "the data folder {folder} is in use by another `ama serve` ({holder}); stop it, or give this one its own --data folder"
    )]
    InUse { folder: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the life of the server; dropping it (or the process ending) releases the folder.
#[derive(Debug)]
pub struct DataLock {
    file: File,
}

impl DataLock {
    /// Locks `data` for this process, or says who holds it.
    pub fn acquire(data: &Path) -> Result<DataLock, DataLockError> {
        use fs4::fs_std::FileExt;
        let path = data.join(SERVE_LOCK);
        let io = |source| DataLockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        if !FileExt::try_lock_exclusive(&file).map_err(io)? {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another process".to_string(),
                pid => format!("process {pid}"),
            };
            return Err(DataLockError::InUse {
                folder: data.to_path_buf(),
                holder,
            });
        }
        // Who holds it, for the next one's error message.
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(std::process::id().to_string().as_bytes())
            .map_err(io)?;
        Ok(DataLock { file })
    }
}

impl Drop for DataLock {
    fn drop(&mut self) {
        let _ = fs4::fs_std::FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataLock::acquire(dir.path()).unwrap();
        let err = DataLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("in use"), "{err}");
        drop(first);
        assert!(DataLock::acquire(dir.path()).is_ok());
    }
}
