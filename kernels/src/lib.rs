//! Our own quantized matrix multiply, in place of candle's `QMatMul` for the llama weights.
//!
//! - Weights are repacked once at load ([`PackedMatrix`]) into tiles of [`NR`] output columns
//!   by 32 input values (one GGUF block), in one of two [`Format`]s: int8 values stored with a
//!   +128 offset (as `u8`) in groups of 4 consecutive k per column, so that one 64-byte vector
//!   holds 4 k of 16 columns, plus an f16 scale per column and block (Q8_0 exactly; types
//!   without a format of their own, the K-quants, are dequantised and requantised with one
//!   scale per 256 k, so the int32 sums run over 256 products before a scale); or
//!   nibbles, two k groups per byte, with an f16 scale and minimum (Q4_1 and Q4_0 exactly),
//!   which halves what a decode step reads.
//! - Activations are quantised once per matmul ([`QuantizedRows`]): int8 per the weights' scale group with
//!   an f32 scale and `-128 × sum` (which cancels the weights' +128 offset).
//! - A microkernel computes [`MR`] rows × 2 tiles at a time, reading each weight vector once
//!   per group of rows: AVX-512 VNNI (`vpdpbusd`), AVX2 (`vpmaddubsw`) or portable Rust, chosen
//!   at run time. `AMA_NO_FAST_KERNELS=1` forces the portable kernel.
//! - On CPUs with AMX-INT8 ([`Kernel::Amx`]), every whole group of 16 rows of a matmul runs on
//!   the tile unit (`tdpbssd`), with the same integer sums and the same float operations in the
//!   same order as the AVX-512 VNNI kernel, which takes the remaining rows (and decode steps):
//!   the results are bit for bit the same either way. `AMA_NO_AMX=1` leaves AMX out.
//! - One dispatch on candle's thread pool per matmul: prompt rows are split between the threads
//!   (each quantises its own rows), a single row (decode) splits the output columns.
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

mod aligned;
#[cfg(target_arch = "x86_64")]
mod amx;
pub mod attention;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod columns;
use columns::{by_columns, Sink};
pub mod encoder;
pub mod ops;
mod pack;
mod portable;
mod quantize;
use quantize::quantize_block;
mod widen;

pub use aligned::{Aligned, Byte};
pub use pack::{Format, PackedMatrix, WIDE};
pub use widen::WIDEN_MIN_ROWS;

/// Input values per block (one scale each), as in GGUF's Q8_0 and Q4_0.
pub const QK: usize = 32;
/// Output columns per tile.
pub const NR: usize = 16;
/// Activation rows per microkernel call.
pub const MR: usize = 4;
/// Rows per AMX activation tile: [`Kernel::Amx`] takes rows in whole groups of this many.
pub const AMX_ROWS: usize = 16;
/// Bytes of one tile block: `QK × NR` int8 values.
pub(crate) const TILE_BYTES: usize = QK * NR;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("unsupported weights: {0}")]
    Unsupported(String),
}

/// The microkernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    Avx2,
    Avx512Vnni,
    /// AMX-INT8 tiles for each whole group of 16 rows, AVX-512 VNNI for the rest.
    Amx,
}

impl Kernel {
    /// Kernels this CPU can run, slowest first (detected once: callers ask per matmul).
    pub fn available() -> &'static [Kernel] {
        static AVAILABLE: OnceLock<Vec<Kernel>> = OnceLock::new();
        AVAILABLE.get_or_init(Self::detect)
    }

    /// Every target feature a kernel's functions enable (`#[target_feature(enable = …)]`),
    /// all of which detection checks; a test holds the sources to these lists. The AVX-512
    /// kernel also runs AVX2 code, so it needs the AVX2 features too.
    pub fn required_features(self) -> &'static [&'static str] {
        match self {
            Kernel::Portable => &[],
            Kernel::Avx2 => &["avx2", "fma", "f16c"],
            // AMX's tile instructions are inline assembly, enabled by no target feature:
            // detection checks AMX-TILE and AMX-INT8 itself (`amx::supported`); the rest of
            // it, and the rows it hands over, are the VNNI kernel's.
            Kernel::Avx512Vnni | Kernel::Amx => &[
                "avx2",
                "fma",
                "f16c",
                "avx512f",
                "avx512bw",
                "avx512vl",
                "avx512vnni",
            ],
        }
    }

    fn detect() -> Vec<Kernel> {
        let mut v = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("f16c");
            if avx2 {
                v.push(Kernel::Avx2);
            }
            if avx2
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512vnni")
            {
                v.push(Kernel::Avx512Vnni);
                if amx::supported() {
                    v.push(Kernel::Amx);
                }
            }
        }
        v
    }

    /// The kernel used by [`matmul`]: the fastest available, or the portable one when
    /// `AMA_NO_FAST_KERNELS` is set (to anything but `0` or empty); `AMA_NO_AMX` leaves the
    /// AMX kernel out (to compare it with the AVX-512 one on the same machine).
    pub fn selected() -> Kernel {
        static SELECTED: OnceLock<Kernel> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            if fast_kernels_disabled() {
                Kernel::Portable
            } else {
                let no_amx = env_flag("AMA_NO_AMX");
                Kernel::available()
                    .iter()
                    .rev()
                    .find(|&&k| !(no_amx && k == Kernel::Amx))
                    .copied()
                    .unwrap_or(Kernel::Portable)
            }
        })
    }
}

/// Whether `AMA_NO_FAST_KERNELS` asks for the portable code paths only.
pub fn fast_kernels_disabled() -> bool {
    env_flag("AMA_NO_FAST_KERNELS")
}

/// Whether the variable is set to anything but `0` or empty.
fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| !v.is_empty() && v != "0")
        .unwrap_or(false)
}

/// Activation rows quantised to int8 per scale group of `group` blocks of [`QK`] (the
/// weights' own grouping: one scale per 32 k, or per 256 k for [`PackedMatrix::from_f32_wide`]).
#[derive(Debug, Clone)]
pub struct QuantizedRows {
    /// `m × nb × QK` (nb blocks per row) values, zero-padded past `k`.
    pub(crate) q: Aligned<i8>,
    /// Scale per row and scale group (`m × nb / group`).
    pub(crate) d: Vec<f32>,
    /// `-128 × Σ q` per row and scale group: cancels the +128 offset of the packed weights.
    pub(crate) corr: Vec<i32>,
}

impl QuantizedRows {
    /// `d · Σ q` of row-group `i` (what a weight block's minimum multiplies).
    #[inline(always)]
    pub(crate) fn scaled_sum(&self, i: usize) -> f32 {
        // corr = −128 Σ q exactly, and 1/128 is a power of two: exact.
        self.d[i] * (self.corr[i] as f32 * (-1.0 / 128.0))
    }
}

/// Rounds to the nearest integer (ties to even) for |v| < 2^22, in a form the compiler can
/// vectorise on any x86-64 or ARM (no rounding instruction needed).
#[inline(always)]
fn round_small(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 × 2^23
    (v + MAGIC) - MAGIC
}

/// `out (m × n) = x (m × k) · wᵀ` with the selected kernel.
pub fn matmul(x: &[f32], m: usize, w: &PackedMatrix, out: &mut [f32]) -> Result<(), KernelError> {
    matmul_with(Kernel::selected(), x, m, w, out)
}

/// `act (m × n/2) = SwiGLU(x (m × k) · wᵀ)` for a gate/up matrix packed with its gate and up
/// rows interleaved 16 at a time (`n` a multiple of 32), as [`ops::swiglu_interleaved`] reads
/// them. Where a prompt's matmul splits the columns between the threads, each applies SwiGLU
/// to its own columns as it stores them, so the gate/up product (twice the size of `act`) is
/// never written whole; elsewhere it is computed (into `scratch`, kept for the next call), then
/// SwiGLU runs over it. The same values either way, and as [`matmul`] then
/// [`ops::swiglu_interleaved`].
pub fn matmul_swiglu(
    x: &[f32],
    m: usize,
    w: &PackedMatrix,
    act: &mut [f32],
    scratch: &mut Vec<f32>,
) -> Result<(), KernelError> {
    let (kernel, n) = (Kernel::selected(), w.n());
    if !n.is_multiple_of(2 * NR) || act.len() != m * n / 2 || x.len() != m * w.k() {
        return Err(KernelError::Shape(format!(
            "SwiGLU of {m} rows × {} → {n} into {} values (n must be a multiple of 32)",
            w.k(),
            act.len()
        )));
    }
    if widen::widens(kernel, w, m) {
        return widen::matmul(kernel, x, m, w, Sink::Swiglu(act));
    }
    scratch.resize(m * n, 0.0);
    let gu = &mut scratch[..m * n];
    matmul_with(kernel, x, m, w, gu)?;
    ops::swiglu_interleaved(gu, act);
    Ok(())
}

/// [`matmul`] with a given kernel (it must be one of [`Kernel::available`]).
pub fn matmul_with(
    kernel: Kernel,
    x: &[f32],
    m: usize,
    w: &PackedMatrix,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let (n, k) = (w.n(), w.k());
    if x.len() != m * k || out.len() != m * n {
        return Err(KernelError::Shape(format!(
            "x has {} values, out {}, for {m} rows × k {k} → n {n}",
            x.len(),
            out.len()
        )));
    }
    if !Kernel::available().contains(&kernel) {
        return Err(KernelError::Unsupported(format!(
            "the {kernel:?} kernel on this CPU"
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if widen::widens(kernel, w, m) {
        return widen::matmul(kernel, x, m, w, Sink::Plain(out));
    }
    let pool = candle_core::utils::barrier_pool();
    let threads = pool.n_workers() + 1;
    // Work units of the row split: MR rows each (the AMX kernel's 16).
    let unit = if kernel == Kernel::Amx { AMX_ROWS } else { MR };
    let row_groups = m.div_ceil(unit);
    if threads > 1 && m.div_ceil(MR) >= 2 * threads && row_groups >= threads {
        // Prompt rows: each thread quantises and multiplies its own rows (weights are small
        // enough to stay in cache and are read by both threads).
        let per = row_groups.div_ceil(threads) * unit;
        let chunks: Vec<Mutex<(usize, &mut [f32])>> = out
            .chunks_mut(per * n)
            .enumerate()
            .map(|(i, c)| Mutex::new((i * per, c)))
            .collect();
        let failed = Mutex::new(None);
        pool.execute(|tid| {
            let Some(chunk) = chunks.get(tid) else {
                return;
            };
            let Ok(mut guard) = chunk.lock() else {
                return;
            };
            let (r0, ref mut dst) = *guard;
            let rows = dst.len() / n;
            let res =
                QuantizedRows::quantize(&x[r0 * k..(r0 + rows) * k], rows, k, w.group()).map(|a| {
                    run(kernel, &a, 0..rows, w, 0..w.n_tiles(), dst, n, 0);
                });
            if let Err(e) = res {
                if let Ok(mut f) = failed.lock() {
                    *f = Some(e);
                }
            }
        });
        return match failed.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        };
    }
    let a = QuantizedRows::quantize(x, m, k, w.group())?;
    let tiles = w.n_tiles();
    if threads == 1 || tiles < 2 * threads {
        run(kernel, &a, 0..m, w, 0..tiles, out, n, 0);
        return Ok(());
    }
    // Few rows: split the output columns (in whole tile pairs).
    let per_tiles = tiles.div_ceil(2 * threads) * 2;
    if m == 1 {
        let chunks: Vec<Mutex<(usize, &mut [f32])>> = out
            .chunks_mut(per_tiles * NR)
            .enumerate()
            .map(|(i, c)| Mutex::new((i * per_tiles, c)))
            .collect();
        pool.execute(|tid| {
            if let Some(Ok(mut guard)) = chunks.get(tid).map(|c| c.lock()) {
                let (t0, ref mut dst) = *guard;
                let t1 = (t0 + per_tiles).min(tiles);
                let width = dst.len();
                run(kernel, &a, 0..1, w, t0..t1, dst, width, t0 * NR);
            }
        });
        return Ok(());
    }
    by_columns(m, n, tiles, Sink::Plain(out), |range, local| {
        let width = local.len() / m;
        let col0 = range.start * NR;
        run(kernel, &a, 0..m, w, range, local, width, col0);
    });
    Ok(())
}

/// Computes rows `rows` of `a` against tiles `tiles` of `w` into `out` (row stride `ldo`,
/// column `col0` of the full output at index 0).
#[allow(clippy::too_many_arguments)]
fn run(
    kernel: Kernel,
    a: &QuantizedRows,
    rows: Range<usize>,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `matmul_with`, the only caller, refuses any kernel not in
        // `Kernel::available`, which offers this one only when the CPU reports avx512f,
        // avx512bw and avx512vnni.
        Kernel::Avx512Vnni => unsafe { avx512::gemm(a, rows, w, tiles, out, ldo, col0) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: offered only when `amx::supported()` (AMX-TILE, AMX-INT8 and the tile
        // permission) and beside the AVX-512 VNNI kernel, whose features it also uses.
        Kernel::Amx => unsafe { amx::gemm(a, rows, w, tiles, out, ldo, col0) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above; offered only when the CPU reports avx2, fma and f16c.
        Kernel::Avx2 => unsafe { avx2::gemm(a, rows, w, tiles, out, ldo, col0) },
        _ => portable::gemm(a, rows, w, tiles, out, ldo, col0),
    }
}

/// Writes an `R × (T·NR)` block of results computed for rows `r0..` and tiles `t0..` into the
/// output, skipping columns past `n`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_block<const R: usize, const W: usize>(
    acc: &[[f32; W]; R],
    r0: usize,
    rows: &Range<usize>,
    t0: usize,
    n: usize,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let c_start = t0 * NR;
    let width = W.min(n.saturating_sub(c_start));
    let dst_col = c_start - col0;
    for (i, row) in acc.iter().enumerate() {
        let r = r0 + i - rows.start;
        let dst = &mut out[r * ldo + dst_col..r * ldo + dst_col + width];
        match <&mut [f32; W]>::try_from(&mut *dst) {
            // A whole row: a copy of known size (vector stores, not a call to `memcpy`; the
            // AMX wide kernel's Q/K/V shape +27% with it).
            Ok(whole) => *whole = *row,
            Err(_) => dst.copy_from_slice(&row[..width]),
        }
    }
}

#[cfg(test)]
mod tests;
