//! Prompt matmuls on four- and five-bit weights with AVX2, on the file's own values.
//!
//! Wide int8 ([`super::widen_tiles`]) needs the AVX2 kernel's sign trick: `vpmaddubsw` takes
//! one unsigned operand, so every product of signed int8 costs a `vpsignb` (and each weight
//! vector a `vpabsb`) besides the multiply and its `vpmaddwd`. Q4_K's nibbles are unsigned
//! already: here they become bytes (0..=15, exactly the file's) and go to `vpmaddubsw` as they
//! are. Their pair sums stay in int16 for a whole block of 32 k (8 · 2 · 15 · 128 < 2¹⁵), and
//! one `vpmaddwd` per block multiplies them by the block's scale as an integer: the scales of
//! each column's 8 blocks of a 256-k group become integers up to [`SCALE_STEPS`] of one f32
//! step (12 bits, against the f16 scales' 11). The minimums are added in f32 per block from
//! each row's block sums. A prompt's row is quantised per 256 k, as for wide int8.
//!
//! Five-bit weights (Q5_0, stored `q + 16`, 0..=31) go the same way with their own per-32
//! scales: four groups of pair sums fit int16 (4 · 2 · 31 · 128 < 2¹⁵), and `−16 Σ a` makes
//! the integer sum exactly the one widening to int8 gives ([`super::five`]), so the results
//! are those of that path, bit for bit.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use crate::pack::NIB_BYTES;
use crate::{
    by_columns, store_block, Format, Kernel, KernelError, PackedMatrix, QuantizedRows, Sink, NR,
    QK, TILE_BYTES, WIDE, WIDEN_MIN_ROWS,
};

/// The largest integer scale: 8 blocks · 2 pair sums · 8 · 3,840 · 4,095 < 2³¹, so a group's
/// int32 sums cannot overflow.
const SCALE_STEPS: f32 = 4095.0;

/// Whether a matmul of `m` rows on `w` by `kernel` runs here: four-bit weights in whole
/// 256-k groups or five-bit ones, prompt-sized, on AVX2.
pub(crate) fn applies(kernel: Kernel, w: &PackedMatrix, m: usize) -> bool {
    kernel == Kernel::Avx2
        && m >= WIDEN_MIN_ROWS
        && match w.format() {
            Format::Nib4 => w.nb().is_multiple_of(WIDE),
            Format::Nib5 => true,
            Format::Int8 => false,
        }
}

/// `out (m × n) = x (m × k) · wᵀ` for nibble weights `w` ([`applies`]).
pub(crate) fn matmul(
    x: &[f32],
    m: usize,
    w: &PackedMatrix,
    out: Sink<'_>,
) -> Result<(), KernelError> {
    let five = w.format() == Format::Nib5;
    let a = QuantizedRows::quantize_parallel(x, m, w.k(), if five { 1 } else { WIDE })?;
    let sums = if five {
        Vec::new()
    } else {
        block_sums(&a, m, w.nb())
    };
    by_columns(m, w.n(), w.n_tiles(), out, |tiles, local| {
        multiply_tiles(&a, &sums, m, w, tiles, local)
    });
    Ok(())
}

/// Each row's `d · Σ q` per block of 32 k: what the block's minimum multiplies.
pub(crate) fn block_sums(a: &QuantizedRows, m: usize, nb: usize) -> Vec<f32> {
    let mut sums = vec![0f32; m * nb];
    for (i, sum) in sums.iter_mut().enumerate() {
        let (row, b) = (i / nb, i % nb);
        let q = &a.q[i * QK..(i + 1) * QK];
        let total: i32 = q.iter().map(|&v| v as i32).sum();
        *sum = a.d[row * (nb / WIDE) + b / WIDE] * total as f32;
    }
    sums
}

/// Tiles of a nibble matrix as [`multiply_tiles`] reads them.
#[derive(Default)]
pub(crate) struct ByteTiles {
    nb: usize,
    /// Five-bit values with a scale per block in `steps` (no integer scales or minimums).
    five: bool,
    /// Per tile and block, [`TILE_BYTES`]: 8 groups of 4 k × 2 halves × 8 columns × 4, each
    /// byte a weight's nibble (the layout of [`Format::Int8`]).
    values: Vec<u8>,
    /// Per tile, block and half: each of the 8 columns' integer scale, twice (one per
    /// `vpmaddubsw` pair sum).
    scales: Vec<i16>,
    /// Per tile and 256-k group: the columns' scale step (scale = integer · step); five-bit:
    /// per tile and block, the columns' scales.
    steps: Vec<f32>,
    /// Per tile and block: the columns' minimums.
    mins: Vec<f32>,
}

impl ByteTiles {
    /// Tiles `tiles` of `w` (a nibble matrix whose blocks come in whole 256-k groups).
    pub(crate) fn fill(&mut self, w: &PackedMatrix, tiles: Range<usize>) {
        let (nb, count) = (w.nb(), tiles.len());
        self.nb = nb;
        self.five = w.format() == Format::Nib5;
        if self.five {
            self.values.resize(count * nb * TILE_BYTES, 0);
            self.steps.resize(count * nb * NR, 0.0);
            for (i, t) in tiles.enumerate() {
                // SAFETY: as below.
                unsafe { self.fill_five_tile(w, t, i) };
            }
            return;
        }
        self.values.resize(count * nb * TILE_BYTES, 0);
        self.scales.resize(count * nb * 2 * NR, 0);
        self.steps.resize(count * (nb / WIDE) * NR, 0.0);
        self.mins.resize(count * nb * NR, 0.0);
        for (i, t) in tiles.enumerate() {
            // SAFETY: only `applies` leads here, for the AVX2 kernel, which is offered only
            // where the CPU has AVX2, FMA and F16C.
            unsafe { self.fill_tile(w, t, i) };
        }
    }

    /// Tile `t` of the five-bit `w` as this one's tile `i`: the stored values (0..=31) and
    /// the scales.
    #[target_feature(enable = "avx2,fma,f16c")]
    fn fill_five_tile(&mut self, w: &PackedMatrix, t: usize, i: usize) {
        let nb = self.nb;
        for b in 0..nb {
            let (nib, high) = (w.tile_nibbles(t, b), w.tile_high_bits(t, b));
            let at = (i * nb + b) * TILE_BYTES;
            let values = &mut self.values[at..at + TILE_BYTES];
            for v in 0..NIB_BYTES / 64 {
                for h in 0..2 {
                    // SAFETY: `nib` holds NIB_BYTES bytes; `64v + 32h + 32 ≤ NIB_BYTES`.
                    let raw =
                        unsafe { _mm256_loadu_si256(nib.as_ptr().add(64 * v + 32 * h).cast()) };
                    // Low nibbles are group v (k 4v..4v + 4), high ones group 4 + v.
                    let [lo, hi] = crate::avx2::five_bit_values(raw, high, v, h);
                    for (g, q) in [(v, lo), (4 + v, hi)] {
                        // SAFETY: `64g + 32h + 32 ≤ TILE_BYTES`.
                        unsafe {
                            _mm256_storeu_si256(values.as_mut_ptr().add(64 * g + 32 * h).cast(), q)
                        };
                    }
                }
            }
            let at = (i * nb + b) * NR;
            f16_into(w.tile_scales_f16(t, b), &mut self.steps[at..at + NR]);
        }
    }

    /// Tile `t` of `w` as this one's tile `i`.
    #[target_feature(enable = "avx2,fma,f16c")]
    fn fill_tile(&mut self, w: &PackedMatrix, t: usize, i: usize) {
        let nb = self.nb;
        let low = _mm256_set1_epi8(0x0f);
        for b in 0..nb {
            let nib = w.tile_nibbles(t, b);
            let at = (i * nb + b) * TILE_BYTES;
            let values = &mut self.values[at..at + TILE_BYTES];
            // Low nibbles are group v (k 4v..4v + 4), high ones group 4 + v.
            for p in (0..NIB_BYTES).step_by(32) {
                // SAFETY: `nib` holds NIB_BYTES bytes and `values` twice that; `p + 32 ≤
                // NIB_BYTES`.
                unsafe {
                    let x = _mm256_loadu_si256(nib.as_ptr().add(p).cast());
                    let (lo, hi) = (
                        _mm256_and_si256(x, low),
                        _mm256_and_si256(_mm256_srli_epi16(x, 4), low),
                    );
                    _mm256_storeu_si256(values.as_mut_ptr().add(p).cast(), lo);
                    _mm256_storeu_si256(values.as_mut_ptr().add(p + NIB_BYTES).cast(), hi);
                }
            }
            let at = (i * nb + b) * NR;
            f16_into(w.tile_mins_f16(t, b), &mut self.mins[at..at + NR]);
        }
        let sign = _mm256_set1_ps(-0.0);
        let (top, zero) = (_mm256_set1_ps(SCALE_STEPS), _mm256_setzero_ps());
        let word = _mm256_set1_epi32(0xffff);
        for s in 0..nb / WIDE {
            for h in 0..2 {
                // The 8 columns' scales in each block (lane = column), their largest
                // magnitude, the step and its inverse (0 where 0 or not finite).
                let d: [__m256; WIDE] = std::array::from_fn(|j| {
                    let raw = w.tile_scales_f16(t, s * WIDE + j);
                    // SAFETY: `raw` holds 16 f16 (32 bytes); 8 from 8h.
                    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(raw.as_ptr().add(16 * h).cast()) })
                });
                let amax = d
                    .iter()
                    .fold(zero, |m, &d| _mm256_max_ps(m, _mm256_andnot_ps(sign, d)));
                let step = _mm256_div_ps(amax, top);
                let usable = _mm256_and_ps(
                    _mm256_cmp_ps::<_CMP_GT_OQ>(step, zero),
                    _mm256_cmp_ps::<_CMP_LT_OQ>(step, _mm256_set1_ps(f32::INFINITY)),
                );
                let step = _mm256_and_ps(usable, step);
                let inverse = _mm256_and_ps(usable, _mm256_div_ps(top, amax));
                let at = (i * (nb / WIDE) + s) * NR + 8 * h;
                // SAFETY: `at + 8 ≤ steps.len()` (sized above).
                unsafe { _mm256_storeu_ps(self.steps.as_mut_ptr().add(at), step) };
                for (j, d) in d.iter().enumerate() {
                    let q = _mm256_mul_ps(*d, inverse);
                    let q = _mm256_min_ps(_mm256_max_ps(q, _mm256_sub_ps(zero, top)), top);
                    let q = _mm256_cvtps_epi32(q);
                    // Each column's integer in both 16-bit halves of its lane.
                    let twice =
                        _mm256_or_si256(_mm256_and_si256(q, word), _mm256_slli_epi32(q, 16));
                    let at = ((i * nb + s * WIDE + j) * 2 + h) * NR;
                    // SAFETY: `at + 16 ≤ scales.len()` (sized above).
                    unsafe { _mm256_storeu_si256(self.scales.as_mut_ptr().add(at).cast(), twice) };
                }
            }
        }
    }

    /// Weight `(col, i)` of block `b` of tile `t` as (value, integer scale, step, minimum).
    #[cfg(test)]
    pub(crate) fn value(&self, t: usize, b: usize, col: usize, i: usize) -> (u8, i16, f32, f32) {
        let (g, j) = (i / 4, i % 4);
        let v = self.values[(t * self.nb + b) * TILE_BYTES + g * 4 * NR + col * 4 + j];
        let sc = self.scales[((t * self.nb + b) * 2 + col / 8) * NR + (col % 8) * 2];
        let step = self.steps[(t * (self.nb / WIDE) + b / WIDE) * NR + col];
        (v, sc, step, self.mins[(t * self.nb + b) * NR + col])
    }
}

/// Rows `0..m` of `a` against tiles `tiles` of `w`, into `out` (`m` rows of those tiles'
/// columns), a tile pair's bytes at a time.
fn multiply_tiles(
    a: &QuantizedRows,
    sums: &[f32],
    m: usize,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
) {
    let width = (tiles.end * NR).min(w.n()) - tiles.start * NR;
    let rows = 0..m;
    let mut scratch = ByteTiles::default();
    let mut t = tiles.start;
    while t < tiles.end {
        let end = (t + 2).min(tiles.end);
        scratch.fill(w, t..end);
        for (local, tile) in (t..end).enumerate() {
            let t0 = tile - tiles.start;
            let mut r0 = 0;
            while r0 < m {
                if m - r0 >= 2 {
                    let res = tile_rows::<2>(a, sums, r0, &scratch, local);
                    store_block::<2, NR>(&res, r0, &rows, t0, width, out, width, 0);
                    r0 += 2;
                } else {
                    let res = tile_rows::<1>(a, sums, r0, &scratch, local);
                    store_block::<1, NR>(&res, r0, &rows, t0, width, out, width, 0);
                    r0 += 1;
                }
            }
        }
        t = end;
    }
}

/// Rows `r0..r0 + R` of `a` against tile `t` of `w`, by the kernel for its weights.
fn tile_rows<const R: usize>(
    a: &QuantizedRows,
    sums: &[f32],
    r0: usize,
    w: &ByteTiles,
    t: usize,
) -> [[f32; NR]; R] {
    // SAFETY: `applies` chose this path for the AVX2 kernel, which is offered only where the
    // CPU has AVX2, FMA and F16C.
    unsafe {
        if w.five {
            kernel_five::<R>(a, r0, w, t)
        } else {
            kernel::<R>(a, sums, r0, w, t)
        }
    }
}

/// Rows `r0..r0 + R` of `a` against tile `t` of `w`: 16 columns each.
#[target_feature(enable = "avx2,fma,f16c")]
fn kernel<const R: usize>(
    a: &QuantizedRows,
    sums: &[f32],
    r0: usize,
    w: &ByteTiles,
    t: usize,
) -> [[f32; NR]; R] {
    let nb = w.nb;
    let ng = nb / WIDE;
    let mut accf = [[_mm256_setzero_ps(); 2]; R];
    for s in 0..ng {
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        for b in s * WIDE..(s + 1) * WIDE {
            let at = (t * nb + b) * TILE_BYTES;
            let values = &w.values[at..at + TILE_BYTES];
            let arow = block_rows::<R>(a, nb, r0, b);
            let mut pairs = [[_mm256_setzero_si256(); 2]; R];
            add_pairs(values, &arow, 0..QK / 4, &mut pairs);
            let at = (t * nb + b) * 2 * NR;
            let sc = &w.scales[at..at + 2 * NR];
            // SAFETY: `sc` holds 32 i16: two loads of 16.
            let scv = unsafe {
                [
                    _mm256_loadu_si256(sc.as_ptr().cast()),
                    _mm256_loadu_si256(sc.as_ptr().add(16).cast()),
                ]
            };
            let mv = load16(&w.mins[(t * nb + b) * NR..]);
            for i in 0..R {
                let sum = _mm256_set1_ps(sums[(r0 + i) * nb + b]);
                for h in 0..2 {
                    acc[i][h] = _mm256_add_epi32(acc[i][h], _mm256_madd_epi16(pairs[i][h], scv[h]));
                    accf[i][h] = _mm256_fmadd_ps(mv[h], sum, accf[i][h]);
                }
            }
        }
        let sv = load16(&w.steps[(t * ng + s) * NR..]);
        for i in 0..R {
            let da = _mm256_set1_ps(a.d[(r0 + i) * ng + s]);
            for h in 0..2 {
                accf[i][h] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(acc[i][h]),
                    _mm256_mul_ps(sv[h], da),
                    accf[i][h],
                );
            }
        }
    }
    crate::avx2::rows_out(&accf)
}

/// Rows `r0..r0 + R` of `a` (quantised per 32 k) against tile `t` of the five-bit `w`.
#[target_feature(enable = "avx2,fma,f16c")]
fn kernel_five<const R: usize>(
    a: &QuantizedRows,
    r0: usize,
    w: &ByteTiles,
    t: usize,
) -> [[f32; NR]; R] {
    let nb = w.nb;
    let ones = _mm256_set1_epi16(1);
    let mut accf = [[_mm256_setzero_ps(); 2]; R];
    for b in 0..nb {
        let at = (t * nb + b) * TILE_BYTES;
        let values = &w.values[at..at + TILE_BYTES];
        let arow = block_rows::<R>(a, nb, r0, b);
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        for half in 0..2 {
            let mut pairs = [[_mm256_setzero_si256(); 2]; R];
            add_pairs(values, &arow, 4 * half..4 * half + 4, &mut pairs);
            for i in 0..R {
                for h in 0..2 {
                    acc[i][h] = _mm256_add_epi32(acc[i][h], _mm256_madd_epi16(pairs[i][h], ones));
                }
            }
        }
        let sv = load16(&w.steps[(t * nb + b) * NR..]);
        for i in 0..R {
            // `corr` is −128 Σ a: an eighth of it is the −16 Σ a of the values' offset.
            let offset = _mm256_set1_epi32(a.corr[(r0 + i) * nb + b] / 8);
            let da = _mm256_set1_ps(a.d[(r0 + i) * nb + b]);
            for h in 0..2 {
                accf[i][h] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(_mm256_add_epi32(acc[i][h], offset)),
                    _mm256_mul_ps(sv[h], da),
                    accf[i][h],
                );
            }
        }
    }
    crate::avx2::rows_out(&accf)
}

/// The rows `r0..r0 + R` of `a`, block `b` of the `nb` in each.
#[inline(always)]
fn block_rows<const R: usize>(a: &QuantizedRows, nb: usize, r0: usize, b: usize) -> [&[i8]; R] {
    // A plain loop, not `array::from_fn`: its closure is not inlined into a `target_feature`
    // function, and the call spills every register.
    let mut rows: [&[i8]; R] = [&[]; R];
    for i in 0..R {
        let at = ((r0 + i) * nb + b) * QK;
        rows[i] = &a.q[at..at + QK];
    }
    rows
}

/// Adds the int16 pair sums of `values` (a block's [`TILE_BYTES`]) times `rows` (the rows'
/// activations of that block), groups `groups` of 4 k, to `pairs`.
#[inline]
#[target_feature(enable = "avx2")]
fn add_pairs<const R: usize>(
    values: &[u8],
    rows: &[&[i8]; R],
    groups: Range<usize>,
    pairs: &mut [[__m256i; 2]; R],
) {
    let values = &values[..TILE_BYTES];
    if rows.iter().any(|r| r.len() < QK) {
        return;
    }
    for g in groups.start..groups.end.min(QK / 4) {
        // SAFETY: `values` holds TILE_BYTES = 512 bytes; `64g + 64 ≤ 512`.
        let wv = unsafe {
            [
                _mm256_loadu_si256(values.as_ptr().add(g * 64).cast()),
                _mm256_loadu_si256(values.as_ptr().add(g * 64 + 32).cast()),
            ]
        };
        for i in 0..R {
            // SAFETY: `rows[i]` holds QK = 32 bytes; `4g + 4 ≤ 32`.
            let four = unsafe { rows[i].as_ptr().add(g * 4).cast::<i32>().read_unaligned() };
            let av = _mm256_set1_epi32(four);
            for h in 0..2 {
                pairs[i][h] = _mm256_add_epi16(pairs[i][h], _mm256_maddubs_epi16(wv[h], av));
            }
        }
    }
}

/// The first 16 f32 of `v` as two vectors.
#[inline]
#[target_feature(enable = "avx2")]
fn load16(v: &[f32]) -> [__m256; 2] {
    let v = &v[..NR];
    // SAFETY: `v` holds 16 f32: two loads of 8.
    unsafe {
        [
            _mm256_loadu_ps(v.as_ptr()),
            _mm256_loadu_ps(v.as_ptr().add(8)),
        ]
    }
}

/// 16 f16 (little-endian) into the first 16 f32 of `out`.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f16_into(raw: &[u8; 2 * NR], out: &mut [f32]) {
    let out = &mut out[..NR];
    for h in 0..2 {
        // SAFETY: `raw` holds 16 f16 and `out` 16 f32; 8 from 8h.
        unsafe {
            let v = _mm256_cvtph_ps(_mm_loadu_si128(raw.as_ptr().add(16 * h).cast()));
            _mm256_storeu_ps(out.as_mut_ptr().add(8 * h), v);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
