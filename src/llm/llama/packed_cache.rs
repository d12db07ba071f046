//! The repacked weights cached beside the model (`MODEL.gguf.ama-packed`): a warm load reads
//! the kernels' layout as it is instead of dequantising and requantising every matrix
//! (the 1.5B: 13 s → about 2 s).
//!
//! - **Valid only for its source.** The header names the GGUF's size and modification time
//!   and the kernels' layout version; a CRC-32 of everything before it closes the file. A
//!   file that does not match in every respect is ignored and rebuilt.
//! - **Written aside, swapped in.** A temporary file in the same folder, synced, then
//!   renamed: a crash never leaves a half-written cache under its name. A folder that cannot
//!   be written leaves the model loading as before (a warning, no cache).
use std::collections::HashMap;
use std::io::{Read, Write};
use std::ops::DerefMut;
use std::path::{Path, PathBuf};

use crate::llm::gguf::source_id;
use crate::llm::kernels::{Aligned, PackedMatrix};

const MAGIC: &[u8; 8] = b"AMAPACK\0";
/// Bumped whenever the packed layout or the requantisation changes.
const LAYOUT_VERSION: u32 = 4;

/// Packed matrices by name, read from a valid cache; after a cold load, the model's matrices
/// are written for the next one ([`Self::finish`]).
pub(super) struct PackedCache {
    path: Option<PathBuf>,
    source: String,
    loaded: HashMap<String, Vec<PackedMatrix>>,
    /// True when `loaded` came from a valid file (nothing to write).
    warm: bool,
}

/// Path of the cache beside `model`.
pub fn cache_path(model: &Path) -> PathBuf {
    let mut name = model.file_name().unwrap_or_default().to_os_string();
    name.push(".ama-packed");
    model.with_file_name(name)
}

impl PackedCache {
    /// No cache: everything is packed from the file and nothing is written.
    pub(super) fn none() -> Self {
        Self {
            path: None,
            source: String::new(),
            loaded: HashMap::new(),
            warm: false,
        }
    }

    /// The cache of `model`: its matrices when the file beside it is valid, else empty (and
    /// written by [`Self::finish`]).
    pub(super) fn open(model: &Path) -> Self {
        let Some(source) = source_id(model) else {
            return Self::none();
        };
        let path = cache_path(model);
        let mut cache = Self {
            path: Some(path.clone()),
            source,
            ..Self::none()
        };
        if path.exists() {
            match read(&path, &cache.source) {
                Ok(loaded) => {
                    cache.loaded = loaded;
                    cache.warm = true;
                }
                Err(why) => {
                    tracing::info!(path = %path.display(), "packed weights cache not used: {why}")
                }
            }
        }
        cache
    }

    /// The matrices cached under `name`, if any (each is taken once).
    pub(super) fn take(&mut self, name: &str) -> Option<Vec<PackedMatrix>> {
        self.loaded.remove(name)
    }

    /// Whether the matrices were all read from the cache (nothing to write).
    pub(super) fn is_warm(&self) -> bool {
        self.warm
    }

    /// After a cold load, writes the model's matrices (temp file, sync, rename). Failures only
    /// warn.
    pub(super) fn finish(self, entries: &[(String, Vec<&PackedMatrix>)]) {
        let Some(path) = self.path else { return };
        if self.warm || entries.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        match write(&path, &self.source, entries) {
            Ok(bytes) => tracing::info!(
                path = %path.display(),
                mb = bytes / 1_000_000,
                ms = started.elapsed().as_millis() as u64,
                "cached the packed weights"
            ),
            Err(e) => tracing::warn!(
                path = %path.display(),
                "cannot cache the packed weights ({e}); the next load packs them again"
            ),
        }
    }
}

/// Writes the CRC of all bytes written at the end.
struct Crc<W> {
    inner: W,
    crc: crc32fast::Hasher,
    bytes: usize,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write(
    path: &Path,
    source: &str,
    entries: &[(String, Vec<&PackedMatrix>)],
) -> std::io::Result<usize> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let bytes = {
        let mut w = Crc {
            inner: std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut()),
            crc: crc32fast::Hasher::new(),
            bytes: 0,
        };
        w.write_all(MAGIC)?;
        w.write_all(&LAYOUT_VERSION.to_le_bytes())?;
        write_bytes(&mut w, source.as_bytes())?;
        w.write_all(&(entries.len() as u64).to_le_bytes())?;
        for (name, matrices) in entries {
            write_bytes(&mut w, name.as_bytes())?;
            w.write_all(&(matrices.len() as u64).to_le_bytes())?;
            for m in matrices {
                for v in m.header() {
                    w.write_all(&v.to_le_bytes())?;
                }
                write_bytes(&mut w, m.bytes())?;
            }
        }
        let (crc, bytes) = (w.crc.clone().finalize(), w.bytes);
        let mut inner = w.inner;
        inner.write_all(&crc.to_le_bytes())?;
        inner.flush()?;
        bytes + 4
    };
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(bytes)
}

fn write_bytes(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)
}

/// Reads and checks a cache file: its magic, layout version, source and CRC (each matrix read
/// straight into its own buffer: the file is never in memory twice).
fn read(path: &Path, source: &str) -> Result<HashMap<String, Vec<PackedMatrix>>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let body_len = len.checked_sub(4).ok_or("truncated")?;
    let mut r = Reader {
        inner: std::io::BufReader::with_capacity(1 << 20, file),
        crc: crc32fast::Hasher::new(),
        left: body_len,
    };
    if r.vec(MAGIC.len() as u64)? != MAGIC {
        return Err("not a packed weights cache".into());
    }
    if r.u32()? != LAYOUT_VERSION {
        return Err("made by another layout version".into());
    }
    if r.bytes()? != source.as_bytes() {
        return Err("made from another version of the model file".into());
    }
    let mut out = HashMap::new();
    for _ in 0..r.u64()? {
        let name = String::from_utf8(r.bytes()?).map_err(|e| e.to_string())?;
        let count = r.u64()?;
        let mut matrices = Vec::new();
        for _ in 0..count {
            let mut header = [0u64; 5];
            for h in header.iter_mut() {
                *h = r.u64()?;
            }
            let data = r.aligned_bytes()?;
            matrices.push(PackedMatrix::from_parts(header, data).map_err(|e| e.to_string())?);
        }
        out.insert(name, matrices);
    }
    if r.left != 0 {
        return Err("trailing bytes".into());
    }
    let crc = r.crc.clone().finalize();
    let mut tail = [0u8; 4];
    r.inner.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if u32::from_le_bytes(tail) != crc {
        return Err("checksum mismatch".into());
    }
    Ok(out)
}

/// Reads the body of a cache, hashing what it reads and never past the body's end.
struct Reader<R> {
    inner: R,
    crc: crc32fast::Hasher,
    left: u64,
}

impl<R: Read> Reader<R> {
    /// The next `n` bytes, into a buffer `make(n)` gives.
    fn read_into<B: DerefMut<Target = [u8]>>(
        &mut self,
        n: u64,
        make: impl Fn(usize) -> B,
    ) -> Result<B, String> {
        if n > self.left {
            return Err("truncated".into());
        }
        let mut out = make(usize::try_from(n).map_err(|e| e.to_string())?);
        self.inner.read_exact(&mut out).map_err(|e| e.to_string())?;
        self.crc.update(&out);
        self.left -= n;
        Ok(out)
    }
    fn vec(&mut self, n: u64) -> Result<Vec<u8>, String> {
        self.read_into(n, |len| vec![0u8; len])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.vec(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.vec(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u64()?;
        self.vec(n)
    }
    /// [`Self::bytes`] into a buffer on a cache line (a matrix's packed bytes).
    fn aligned_bytes(&mut self) -> Result<Aligned<u8>, String> {
        let n = self.u64()?;
        self.read_into(n, |len| Aligned::filled(len, 0u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrices() -> Vec<PackedMatrix> {
        let w: Vec<f32> = (0..48 * 512)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        vec![
            PackedMatrix::from_f32_wide(&w, 48, 512).unwrap_or_else(|e| panic!("{e}")),
            PackedMatrix::from_f32(&w[..33 * 96], 33, 96).unwrap_or_else(|e| panic!("{e}")),
        ]
    }

    fn model_file(dir: &Path) -> PathBuf {
        let model = dir.join("m.gguf");
        std::fs::write(&model, b"not really a model").unwrap();
        model
    }

    #[test]
    fn a_cold_load_writes_what_a_warm_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let model = model_file(dir.path());
        let cold = PackedCache::open(&model);
        assert!(!cold.is_warm());
        let ms = matrices();
        cold.finish(&[("blk.0.qkv".to_string(), ms.iter().collect())]);
        let mut warm = PackedCache::open(&model);
        assert!(warm.is_warm());
        let back = warm.take("blk.0.qkv").expect("cached entry");
        assert_eq!(back.len(), 2);
        for (a, b) in back.iter().zip(&ms) {
            assert_eq!(a.header(), b.header());
            assert_eq!(a.bytes(), b.bytes());
        }
        assert!(warm.take("blk.0.qkv").is_none(), "each entry is taken once");
    }

    #[test]
    fn a_damaged_or_stale_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let model = model_file(dir.path());
        let ms = matrices();
        PackedCache::open(&model).finish(&[("x".to_string(), ms.iter().collect())]);
        let path = cache_path(&model);
        // One flipped byte in the middle: the checksum refuses it.
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(!PackedCache::open(&model).is_warm());
        // Truncated.
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        assert!(!PackedCache::open(&model).is_warm());
        // Rewritten whole, then the model file changes: stale.
        PackedCache::open(&model).finish(&[("x".to_string(), ms.iter().collect())]);
        assert!(PackedCache::open(&model).is_warm());
        std::fs::write(&model, b"another model, another size").unwrap();
        assert!(!PackedCache::open(&model).is_warm());
    }
}
