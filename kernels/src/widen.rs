//! Prompt matmuls on nibble weights, at the speed of wide int8.
//!
//! Q4_K weights are kept as [`Format::Nib4`] nibbles (0.625 bytes a weight) so that a decode
//! step reads little. A prompt's matmul, which does hundreds of products per weight, widens
//! them instead: a few tiles at a time (a pair; eight for the AMX kernel), the nibbles become
//! wide int8 (one scale per 256 k, as [`PackedMatrix::from_f32_wide`] would quantise the same
//! values: bit for bit the same bytes), and the wide int8 kernel runs every prompt row against
//! those tiles while they sit in cache. Widening costs a few operations per weight, once per
//! matmul; the rows then sum 256 products in int32 per scale instead of 32. The output columns are split between threads
//! (each widens its own tiles once). On AVX2, five-bit weights widen too, exactly, to int8
//! with their own per-32 scales ([`five`]).
//!
//! The AVX2 kernel itself reads both as bytes of their unsigned values instead ([`bytes`]):
//! its int8 products need a sign trick that unsigned nibbles do not, and prompts run about
//! 1.2–1.8× faster that way.
use std::ops::Range;

use super::{run, Format, Kernel, KernelError, PackedMatrix, QuantizedRows, Sink, NR, QK, WIDE};

/// Rows from which a matmul on nibble weights widens them: below it, the nibble kernel reads
/// them as they are (a decode step, a short continuation).
pub const WIDEN_MIN_ROWS: usize = 16;

/// Whether a matmul of `m` rows on `w` by `kernel` goes through widening: four-bit weights
/// on every kernel, five-bit ones on AVX2 ([`five`]; the AVX-512 kernels take them as they
/// are).
pub(crate) fn widens(kernel: Kernel, w: &PackedMatrix, m: usize) -> bool {
    m >= WIDEN_MIN_ROWS
        && match w.format() {
            Format::Nib4 => w.nb().is_multiple_of(WIDE),
            Format::Nib5 => kernel == Kernel::Avx2,
            Format::Int8 => false,
        }
}

/// Blocks per scale of `w` widened: one scale per 256 k for four-bit weights, the file's
/// own per 32 for five-bit ones.
fn widened_group(w: &PackedMatrix) -> usize {
    if w.format() == Format::Nib5 {
        1
    } else {
        WIDE
    }
}

/// `out (m × n) = x (m × k) · wᵀ` for nibble weights `w` ([`widens`]).
pub(crate) fn matmul(
    kernel: Kernel,
    x: &[f32],
    m: usize,
    w: &PackedMatrix,
    out: Sink<'_>,
) -> Result<(), KernelError> {
    #[cfg(target_arch = "x86_64")]
    if bytes::applies(kernel, w, m) {
        return bytes::matmul(x, m, w, out);
    }
    // Both threads quantise, then each widens its own tiles, once.
    let a = QuantizedRows::quantize_parallel(x, m, w.k(), widened_group(w))?;
    super::by_columns(m, w.n(), w.n_tiles(), out, |tiles, local| {
        multiply_tiles(kernel, &a, m, w, tiles, local)
    });
    Ok(())
}

/// Tiles widened at a time by `kernel`: eight (128 columns) for the AMX kernel, whose setup
/// per call (the rows' scales and corrections, the tile configuration) then counts less
/// (gate/up +16–20% against a pair at a time); a pair for the others (the VNNI kernel's down
/// projection −5% at eight). Figures: docs/benchmarks/2026-12-08-amx-wide.md.
fn widen_span(kernel: Kernel) -> usize {
    if kernel == Kernel::Amx {
        8
    } else {
        2
    }
}

/// Rows `0..m` of `a` against tiles `tiles` of `w`, into `out` (`m` rows of those tiles'
/// columns), widening [`widen_span`] tiles at a time.
fn multiply_tiles(
    kernel: Kernel,
    a: &QuantizedRows,
    m: usize,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
) {
    let width = (tiles.end * NR).min(w.n()) - tiles.start * NR;
    let mut scratch = PackedMatrix::wide_scratch();
    let mut t = tiles.start;
    while t < tiles.end {
        let end = (t + widen_span(kernel)).min(tiles.end);
        widen_tiles(kernel, w, t..end, &mut scratch);
        let offset = (t - tiles.start) * NR;
        run(
            kernel,
            a,
            0..m,
            &scratch,
            0..scratch.n_tiles(),
            &mut out[offset..],
            width,
            0,
        );
        t = end;
    }
}

/// Tiles `tiles` of the nibble matrix `w` as a wide int8 matrix in `dst` (their columns).
pub(crate) fn widen_tiles(
    kernel: Kernel,
    w: &PackedMatrix,
    tiles: Range<usize>,
    dst: &mut PackedMatrix,
) {
    widen_tiles_with(kernel, true, w, tiles, dst);
}

/// [`widen_tiles`], by table lookup where the CPU has AVX-512 VBMI and `lookup` asks for it
/// (the tests take both ways on such a CPU).
fn widen_tiles_with(
    kernel: Kernel,
    lookup: bool,
    w: &PackedMatrix,
    tiles: Range<usize>,
    dst: &mut PackedMatrix,
) {
    #[cfg(target_arch = "x86_64")]
    let lookup = lookup && vbmi::available();
    let n = (tiles.end * NR).min(w.n()) - tiles.start * NR;
    dst.reshape_int8(n, w.k(), widened_group(w));
    if w.format() == Format::Nib5 {
        for (i, t) in tiles.enumerate() {
            for b in 0..w.nb() {
                five::widen_block(kernel, w, t, b, dst.int8_group_mut(i, b));
            }
        }
        return;
    }
    let groups = w.nb() / WIDE;
    for (i, t) in tiles.enumerate() {
        for s in 0..groups {
            let out = dst.int8_group_mut(i, s);
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the kernel is one of `Kernel::available()` (checked by `matmul_with`,
                // the only way here), and these two run only where AVX-512 F and BW are.
                Kernel::Avx512Vnni | Kernel::Amx => unsafe {
                    avx512::widen_group(w, t, s, out, lookup)
                },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above; the AVX2 kernel is offered only with AVX2, FMA and F16C.
                Kernel::Avx2 => unsafe { avx2::widen_group(w, t, s, out) },
                _ => widen_group(w, t, s, out),
            }
        }
    }
}

/// Scale and inverse of a wide group whose largest magnitude is `amax`, as
/// [`PackedMatrix::from_f32_wide`] makes them: the scale rounded to f16 first.
#[inline(always)]
fn wide_scale(amax: f32) -> (half::f16, f32) {
    let d = half::f16::from_f32(amax / 127.0);
    let df = d.to_f32();
    let id = if df > 0.0 && df.is_finite() {
        1.0 / df
    } else {
        0.0
    };
    (d, id)
}

/// One tile's scale group `s` widened (portable): `out` is the group's [`WIDE`] blocks of
/// int8 (+128) values, then its `NR` f16 scales.
fn widen_group(w: &PackedMatrix, t: usize, s: usize, out: &mut [u8]) {
    let blocks = s * WIDE..(s + 1) * WIDE;
    let mut amax = [0f32; NR];
    for b in blocks.clone() {
        let (d, m) = (w.tile_scales(t, b), w.tile_mins(t, b));
        for (col, amax) in amax.iter_mut().enumerate() {
            for i in 0..QK {
                let v = w.q(t, b, col, i) as f32 * d[col] + m[col];
                *amax = amax.max(v.abs());
            }
        }
    }
    let scales = amax.map(wide_scale);
    for (j, b) in blocks.enumerate() {
        let (d, m) = (w.tile_scales(t, b), w.tile_mins(t, b));
        for col in 0..NR {
            let id = scales[col].1;
            for i in 0..QK {
                let v = w.q(t, b, col, i) as f32 * d[col] + m[col];
                let q = super::round_small(v * id).clamp(-127.0, 127.0) as i8;
                let (g, within) = (i / 4, i % 4);
                out[j * super::TILE_BYTES + g * NR * 4 + col * 4 + within] = (q as u8) ^ 0x80;
            }
        }
    }
    let at = WIDE * super::TILE_BYTES;
    for (col, (d, _)) in scales.iter().enumerate() {
        out[at + 2 * col..at + 2 * col + 2].copy_from_slice(&d.to_le_bytes());
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use crate::pack::NIB_BYTES;
    use crate::{PackedMatrix, NR, TILE_BYTES, WIDE};

    /// [`super::widen_group`] with AVX-512: the same values, operations and rounding.
    #[target_feature(enable = "avx512f,avx512bw,f16c")]
    /// `lookup`: by table lookup (the caller checked that the CPU has VBMI).
    pub(super) fn widen_group(w: &PackedMatrix, t: usize, s: usize, out: &mut [u8], lookup: bool) {
        if out.len() < WIDE * TILE_BYTES + 2 * NR {
            return;
        }
        let low = _mm512_set1_epi8(0x0f);
        let blocks = s * WIDE..(s + 1) * WIDE;
        // Per block: the columns' scales and minimums (lane = column), and the nibbles.
        let mut d = [_mm512_setzero_ps(); WIDE];
        let mut m = [_mm512_setzero_ps(); WIDE];
        let mut amax = _mm512_setzero_ps();
        for (j, b) in blocks.clone().enumerate() {
            let (sc, mn) = (w.tile_scales_f16(t, b), w.tile_mins_f16(t, b));
            // SAFETY: each holds exactly 16 f16 (32 bytes).
            d[j] = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(sc.as_ptr().cast()) });
            m[j] = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(mn.as_ptr().cast()) });
            // The smallest and largest nibble of each column (4 bytes per 32-bit lane in
            // each vector): the values are monotonic in the nibble, so the largest magnitude
            // is at one of them.
            let nib = w.tile_nibbles(t, b);
            let (mut lo, mut hi) = (_mm512_set1_epi8(-1), _mm512_setzero_si512());
            for v in 0..NIB_BYTES / 64 {
                // SAFETY: `nib` holds NIB_BYTES bytes.
                let x = unsafe { _mm512_loadu_si512(nib.as_ptr().add(64 * v).cast()) };
                let a = _mm512_and_si512(x, low);
                let h = _mm512_and_si512(_mm512_srli_epi16(x, 4), low);
                lo = _mm512_min_epu8(lo, _mm512_min_epu8(a, h));
                hi = _mm512_max_epu8(hi, _mm512_max_epu8(a, h));
            }
            lo = _mm512_min_epu8(lo, _mm512_srli_epi32(lo, 8));
            lo = _mm512_min_epu8(lo, _mm512_srli_epi32(lo, 16));
            hi = _mm512_max_epu8(hi, _mm512_srli_epi32(hi, 8));
            hi = _mm512_max_epu8(hi, _mm512_srli_epi32(hi, 16));
            let byte = _mm512_set1_epi32(0xff);
            let qlo = _mm512_cvtepi32_ps(_mm512_and_si512(lo, byte));
            let qhi = _mm512_cvtepi32_ps(_mm512_and_si512(hi, byte));
            let vlo = _mm512_add_ps(_mm512_mul_ps(qlo, d[j]), m[j]);
            let vhi = _mm512_add_ps(_mm512_mul_ps(qhi, d[j]), m[j]);
            amax = _mm512_max_ps(amax, _mm512_max_ps(_mm512_abs_ps(vlo), _mm512_abs_ps(vhi)));
        }
        // The scales, rounded to f16 first, and their inverses (0 where the scale is 0 or
        // not finite).
        let scale = _mm512_div_ps(amax, _mm512_set1_ps(127.0));
        let half = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(scale);
        let df = _mm512_cvtph_ps(half);
        let usable = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(df, _mm512_setzero_ps())
            & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(df, _mm512_set1_ps(f32::INFINITY));
        let id = _mm512_maskz_div_ps(usable, _mm512_set1_ps(1.0), df);
        // Lane i of the k-major vectors belongs to column 4c + i/4 (c: which 16 bytes).
        let mut spread = [_mm512_setzero_si512(); 4];
        for (c, lanes) in spread.iter_mut().enumerate() {
            let columns: [i32; 16] = std::array::from_fn(|i| (4 * c + i / 4) as i32);
            // SAFETY: 16 i32 (64 bytes).
            *lanes = unsafe { _mm512_loadu_si512(columns.as_ptr().cast()) };
        }
        let mut ids = [_mm512_setzero_ps(); 4];
        for c in 0..4 {
            ids[c] = _mm512_permutexvar_ps(spread[c], id);
        }
        if lookup {
            for j in 0..WIDE {
                let (block, at) = (w.tile_nibbles(t, blocks.start + j), j * TILE_BYTES);
                // SAFETY: `lookup` is only set where `vbmi::available()` (AVX-512 F, BW, VBMI).
                unsafe { super::vbmi::widen_block(block, d[j], m[j], id, &mut out[at..]) };
            }
            // SAFETY: `WIDE · TILE_BYTES + 32 ≤ out.len()` (checked above).
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(WIDE * TILE_BYTES).cast(), half) };
            return;
        }
        let (lowest, flip) = (_mm512_set1_epi32(-127), _mm_set1_epi8(-128));
        for j in 0..WIDE {
            let (mut ds, mut ms) = ([_mm512_setzero_ps(); 4], [_mm512_setzero_ps(); 4]);
            for c in 0..4 {
                ds[c] = _mm512_permutexvar_ps(spread[c], d[j]);
                ms[c] = _mm512_permutexvar_ps(spread[c], m[j]);
            }
            let nib = w.tile_nibbles(t, blocks.start + j);
            for v in 0..NIB_BYTES / 64 {
                // SAFETY: `nib` holds NIB_BYTES bytes.
                let x = unsafe { _mm512_loadu_si512(nib.as_ptr().add(64 * v).cast()) };
                // Low nibbles are k 4v.., the int8 group v; high ones the group 4 + v.
                let halves = [
                    _mm512_and_si512(x, low),
                    _mm512_and_si512(_mm512_srli_epi16(x, 4), low),
                ];
                for (h, q) in halves.into_iter().enumerate() {
                    let at = j * TILE_BYTES + (4 * h + v) * NR * 4;
                    for c in 0..4 {
                        let bytes = match c {
                            0 => _mm512_extracti32x4_epi32::<0>(q),
                            1 => _mm512_extracti32x4_epi32::<1>(q),
                            2 => _mm512_extracti32x4_epi32::<2>(q),
                            _ => _mm512_extracti32x4_epi32::<3>(q),
                        };
                        let qf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
                        let value = _mm512_add_ps(_mm512_mul_ps(qf, ds[c]), ms[c]);
                        let r = _mm512_cvtps_epi32(_mm512_mul_ps(value, ids[c]));
                        // Clamped to −127..=127 (the saturating narrowing takes the top).
                        let r = _mm512_max_epi32(r, lowest);
                        let packed = _mm_xor_si128(_mm512_cvtsepi32_epi8(r), flip);
                        // SAFETY: `at + 16c + 16 ≤ WIDE · TILE_BYTES ≤ out.len()` (checked).
                        unsafe {
                            _mm_storeu_si128(out.as_mut_ptr().add(at + 16 * c).cast(), packed)
                        };
                    }
                }
            }
        }
        let at = WIDE * TILE_BYTES;
        // SAFETY: `at + 32 ≤ out.len()` (checked above).
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(at).cast(), half) };
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod bytes;
mod five;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(target_arch = "x86_64")]
mod vbmi;
