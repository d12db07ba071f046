//! Reading GGUF files with clear errors, and the requantised copy cached beside a model.
use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;

use super::LlmError;

/// Architectures with a loader (ours for llama, candle-transformers' for the others).
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama", "qwen2", "gemma3", "phi3"];

fn file_err(path: &Path, message: impl Into<String>) -> LlmError {
    LlmError::ModelFile {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// An opened GGUF: its header and a reader positioned anywhere.
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    pub reader: BufReader<File>,
}

impl GgufFile {
    /// Opens and checks a GGUF: readable header, a supported architecture, and every tensor's
    /// data inside the file (a truncated download fails here, not halfway through loading).
    pub fn open(path: &Path) -> Result<Self, LlmError> {
        let file = File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                file_err(
                    path,
                    "not found (run `ama fetch-model`, or pass --model PATH)",
                )
            } else {
                file_err(path, format!("cannot open: {e}"))
            }
        })?;
        let file_len = file
            .metadata()
            .map_err(|e| file_err(path, e.to_string()))?
            .len();
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader)
            .map_err(|e| file_err(path, format!("not a readable GGUF file: {e}")))?;
        let arch = architecture(&content).map_err(|m| file_err(path, m))?;
        if !SUPPORTED_ARCHITECTURES.contains(&arch.as_str()) {
            return Err(LlmError::UnsupportedArchitecture(arch));
        }
        for (name, info) in &content.tensor_infos {
            let elems = info.shape.elem_count();
            let block = info.ggml_dtype.block_size();
            if block == 0 || elems % block != 0 {
                return Err(file_err(
                    path,
                    format!("tensor {name} has an invalid shape"),
                ));
            }
            let size = (elems / block) as u64 * info.ggml_dtype.type_size() as u64;
            let end = content
                .tensor_data_offset
                .saturating_add(info.offset)
                .saturating_add(size);
            if end > file_len {
                return Err(file_err(
                    path,
                    format!(
                        "truncated: tensor {name} ends at byte {end} but the file has {file_len} \
                         bytes (re-fetch or re-copy the file)"
                    ),
                ));
            }
        }
        reader.rewind().map_err(|e| file_err(path, e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            content,
            reader,
        })
    }

    pub fn architecture(&self) -> String {
        architecture(&self.content).unwrap_or_default()
    }
}

fn architecture(ct: &Content) -> Result<String, String> {
    match ct.metadata.get("general.architecture") {
        Some(v) => v
            .to_string()
            .cloned()
            .map_err(|_| "general.architecture is not a string".to_string()),
        None => Err("no general.architecture in the metadata".to_string()),
    }
}

/// Path of the requantised copy of `model` for `dtype`, beside it.
pub fn requantized_path(model: &Path, dtype: GgmlDType) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string());
    model.with_file_name(format!("{stem}.{}.gguf", dtype_name(dtype)))
}

pub fn dtype_name(dtype: GgmlDType) -> &'static str {
    match dtype {
        GgmlDType::Q8_0 => "q8_0",
        GgmlDType::Q4_0 => "q4_0",
        GgmlDType::Q4_1 => "q4_1",
        GgmlDType::F16 => "f16",
        GgmlDType::F32 => "f32",
        _ => "requant",
    }
}

const SOURCE_KEY: &str = "ama.requantized_from";

/// Identity of a source file for the caches beside it: size and modification time.
pub(crate) fn source_id(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", meta.len(), mtime.as_nanos()))
}

/// Returns a GGUF in which every 2-D weight of a type candle runs slowly (`slow`) is
/// requantised to `dtype`. The copy is written once beside the model (temp file + rename) and
/// reused while the source's size and mtime match; if the folder is not writable the copy is
/// made in a temporary file for this process only. Returns `None` when nothing needs it.
pub fn requantized(
    src: &mut GgufFile,
    dtype: GgmlDType,
    slow: impl Fn(GgmlDType) -> bool,
) -> Result<Option<GgufFile>, LlmError> {
    let needs = src
        .content
        .tensor_infos
        .values()
        .any(|t| t.shape.rank() == 2 && slow(t.ggml_dtype));
    if !needs {
        return Ok(None);
    }
    let target = requantized_path(&src.path, dtype);
    let id = source_id(&src.path);
    if target.exists() {
        match GgufFile::open(&target) {
            Ok(cached)
                if id.is_some()
                    && cached
                        .content
                        .metadata
                        .get(SOURCE_KEY)
                        .and_then(|v| v.to_string().ok())
                        == id.as_ref() =>
            {
                return Ok(Some(cached));
            }
            Ok(_) => tracing::info!(path = %target.display(), "requantised copy is stale"),
            Err(e) => tracing::warn!("requantised copy unusable, rebuilding: {e}"),
        }
    }
    let started = std::time::Instant::now();
    let path = src.path.clone();
    let err = |e: candle_core::Error| file_err(&path, format!("requantising: {e}"));
    let mut names: Vec<String> = src.content.tensor_infos.keys().cloned().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let t = src
            .content
            .tensor(&mut src.reader, &name, &Device::Cpu)
            .map_err(err)?;
        let t = if t.shape().rank() == 2 && slow(t.dtype()) {
            QTensor::quantize(&t.dequantize(&Device::Cpu).map_err(err)?, dtype).map_err(err)?
        } else {
            t
        };
        tensors.push((name, t));
    }
    let id_value = Value::String(id.unwrap_or_default());
    let mut metadata: Vec<(&str, &Value)> = src
        .content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != SOURCE_KEY)
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    metadata.push((SOURCE_KEY, &id_value));
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let dir = target.parent().unwrap_or(Path::new("."));
    let write = |tmp: &mut tempfile::NamedTempFile| -> Result<(), LlmError> {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        gguf_file::write(&mut w, &metadata, &tensor_refs).map_err(err)?;
        std::io::Write::flush(&mut w).map_err(|e| file_err(&path, e.to_string()))?;
        drop(w);
        // On disk before the rename: a crash never leaves a truncated model under its name.
        tmp.as_file()
            .sync_all()
            .map_err(|e| file_err(&path, e.to_string()))?;
        Ok(())
    };
    let result = match tempfile::NamedTempFile::new_in(dir) {
        Ok(mut tmp) => {
            write(&mut tmp)?;
            match tmp.persist(&target) {
                Ok(_) => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = std::fs::set_permissions(
                            &target,
                            std::fs::Permissions::from_mode(0o644),
                        );
                    }
                    GgufFile::open(&target)?
                }
                Err(e) => return Err(file_err(&target, format!("cannot write: {}", e.error))),
            }
        }
        Err(e) => {
            tracing::warn!(
                "cannot cache the requantised model in {}: {e}; requantising in memory",
                dir.display()
            );
            let mut tmp = tempfile::NamedTempFile::new()
                .map_err(|e| file_err(&path, format!("temporary file: {e}")))?;
            write(&mut tmp)?;
            // The open handle keeps the data readable after the name is removed.
            let reopened = GgufFile::open(tmp.path())?;
            drop(tmp);
            reopened
        }
    };
    tracing::info!(
        path = %result.path.display(),
        ms = started.elapsed().as_millis() as u64,
        "requantised weights to {}",
        dtype_name(dtype)
    );
    Ok(Some(result))
}
