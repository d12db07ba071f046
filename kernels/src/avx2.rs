//! The AVX2 microkernel (x86-64 without VNNI): `vpmaddubsw` needs an unsigned operand whose
//! products cannot saturate, so the int8 weight is made unsigned by taking its absolute value
//! and its sign moves to the activation (`vpsignb`), then `vpmaddwd` sums pairs into int32.
//! Two rows × one tile (16 columns, two 8-column halves) per call, to fit 16 registers.
//! Nibble weights ([`Format::Nib4`]) are unsigned already: no sign trick, a mask and a shift.
//! Five-bit weights ([`Format::Nib5`]) also OR in 16 where their high bit is set (the bits
//! spread to bytes with a shuffle and a compare).
// Register arrays of several rows and columns are indexed in step: index loops read best.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::{store_block, Format, PackedMatrix, QuantizedRows, NR, QK};

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn gemm(
    a: &QuantizedRows,
    rows: Range<usize>,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    for t in tiles {
        let mut r0 = rows.start;
        while r0 < rows.end {
            match (rows.end - r0 >= 2, w.format()) {
                (true, Format::Int8) => {
                    kernel::<2, false, false>(a, r0, &rows, w, t, out, ldo, col0)
                }
                (false, Format::Int8) => {
                    kernel::<1, false, false>(a, r0, &rows, w, t, out, ldo, col0)
                }
                (true, Format::Nib4) => {
                    kernel::<2, true, false>(a, r0, &rows, w, t, out, ldo, col0)
                }
                (false, Format::Nib4) => {
                    kernel::<1, true, false>(a, r0, &rows, w, t, out, ldo, col0)
                }
                (true, Format::Nib5) => kernel::<2, true, true>(a, r0, &rows, w, t, out, ldo, col0),
                (false, Format::Nib5) => {
                    kernel::<1, true, true>(a, r0, &rows, w, t, out, ldo, col0)
                }
            }
            r0 += (rows.end - r0).min(2);
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
fn kernel<const R: usize, const NIB: bool, const HIGH: bool>(
    a: &QuantizedRows,
    r0: usize,
    rows: &Range<usize>,
    w: &PackedMatrix,
    t: usize,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let (nb, group) = (w.nb(), w.group());
    let ng = nb / group;
    let ones = _mm256_set1_epi16(1);
    let flip = _mm256_set1_epi8(-128);
    let low4 = _mm256_set1_epi8(0x0f);
    let mut accf = [[_mm256_setzero_ps(); 2]; R];
    // Few rows (decode, drafted tokens): the weights stream from memory.
    let streaming = rows.end - rows.start < crate::WIDEN_MIN_ROWS;
    for s in 0..ng {
        let mut acci = [[_mm256_setzero_si256(); 2]; R];
        for b in s * group..(s + 1) * group {
            if streaming {
                w.prefetch_ahead(t, b);
            }
            let mut arow: [&[i8]; R] = [&[]; R];
            for i in 0..R {
                let row = (r0 + i) * nb + b;
                arow[i] = &a.q[row * QK..(row + 1) * QK];
            }
            if NIB {
                let wt = w.tile_nibbles(t, b);
                for v in 0..4 {
                    let mut lo = [_mm256_setzero_si256(); 2];
                    let mut hi = [_mm256_setzero_si256(); 2];
                    for h in 0..2 {
                        // SAFETY: `wt` holds 256 bytes; `v·64 + h·32 + 32 ≤ 256`.
                        let raw =
                            unsafe { _mm256_loadu_si256(wt.as_ptr().add(v * 64 + h * 32).cast()) };
                        [lo[h], hi[h]] = if HIGH {
                            five_bit_values(raw, w.tile_high_bits(t, b), v, h)
                        } else {
                            [
                                _mm256_and_si256(raw, low4),
                                _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4),
                            ]
                        };
                    }
                    for i in 0..R {
                        let (ql, qh) =
                            (&arow[i][v * 4..v * 4 + 4], &arow[i][16 + v * 4..20 + v * 4]);
                        let al = _mm256_set1_epi32(i32::from_le_bytes([
                            ql[0] as u8,
                            ql[1] as u8,
                            ql[2] as u8,
                            ql[3] as u8,
                        ]));
                        let ah = _mm256_set1_epi32(i32::from_le_bytes([
                            qh[0] as u8,
                            qh[1] as u8,
                            qh[2] as u8,
                            qh[3] as u8,
                        ]));
                        for h in 0..2 {
                            // Nibbles are unsigned: `vpmaddubsw` takes them as they are (products
                            // ≤ 15 · 128 cannot saturate).
                            let pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[h], al), ones);
                            let ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[h], ah), ones);
                            acci[i][h] = _mm256_add_epi32(acci[i][h], _mm256_add_epi32(pl, ph));
                        }
                    }
                }
            } else {
                let wt = w.tile_block(t, b);
                for g in 0..QK / 4 {
                    let mut wabs = [_mm256_setzero_si256(); 2];
                    let mut wsgn = [_mm256_setzero_si256(); 2];
                    for h in 0..2 {
                        // SAFETY: `wt` holds 512 bytes; `g·64 + h·32 + 32 ≤ 512`.
                        let raw =
                            unsafe { _mm256_loadu_si256(wt.as_ptr().add(g * 64 + h * 32).cast()) };
                        // Undo the +128 offset: the signed weights.
                        let wq = _mm256_xor_si256(raw, flip);
                        wabs[h] = _mm256_abs_epi8(wq);
                        wsgn[h] = wq;
                    }
                    for i in 0..R {
                        let q = &arow[i][g * 4..g * 4 + 4];
                        let av = _mm256_set1_epi32(i32::from_le_bytes([
                            q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8,
                        ]));
                        for h in 0..2 {
                            let s = _mm256_sign_epi8(av, wsgn[h]);
                            let p = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[h], s), ones);
                            acci[i][h] = _mm256_add_epi32(acci[i][h], p);
                        }
                    }
                }
            }
        }
        // The scales and minimums are f16: converted 8 at a time (F16C), not one by one.
        let sc = w.tile_scales_f16(t, s);
        // SAFETY: `sc` holds exactly 16 f16 (32 bytes): two loads of 8.
        let ws = unsafe {
            [
                _mm256_cvtph_ps(_mm_loadu_si128(sc.as_ptr().cast())),
                _mm256_cvtph_ps(_mm_loadu_si128(sc.as_ptr().add(16).cast())),
            ]
        };
        for i in 0..R {
            let da = _mm256_set1_ps(a.d[(r0 + i) * ng + s]);
            for h in 0..2 {
                accf[i][h] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(acci[i][h]),
                    _mm256_mul_ps(ws[h], da),
                    accf[i][h],
                );
            }
        }
        if NIB {
            let wm = if HIGH {
                // Five-bit weights store `q + 16`: their minimum is −16 × the scale.
                let k = _mm256_set1_ps(-16.0);
                [_mm256_mul_ps(ws[0], k), _mm256_mul_ps(ws[1], k)]
            } else {
                let m = w.tile_mins_f16(t, s);
                // SAFETY: `m` holds exactly 16 f16 (32 bytes): two loads of 8.
                unsafe {
                    [
                        _mm256_cvtph_ps(_mm_loadu_si128(m.as_ptr().cast())),
                        _mm256_cvtph_ps(_mm_loadu_si128(m.as_ptr().add(16).cast())),
                    ]
                }
            };
            for i in 0..R {
                let sa = _mm256_set1_ps(a.scaled_sum((r0 + i) * ng + s));
                for h in 0..2 {
                    accf[i][h] = _mm256_fmadd_ps(wm[h], sa, accf[i][h]);
                }
            }
        }
    }
    store_block::<R, NR>(&rows_out(&accf), r0, rows, t, w.n(), out, ldo, col0);
}

/// Each row's 16 column sums out of their two vectors.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn rows_out<const R: usize>(acc: &[[__m256; 2]; R]) -> [[f32; NR]; R] {
    let mut res = [[0f32; NR]; R];
    for i in 0..R {
        store16(&mut res[i], acc[i]);
    }
    res
}

/// Two vectors into the first 16 f32 of `dst`.
#[inline]
#[target_feature(enable = "avx2")]
fn store16(dst: &mut [f32], v: [__m256; 2]) {
    let dst = &mut dst[..16];
    for h in 0..2 {
        // SAFETY: `dst` holds 16 f32; 8 at `8h` are in bounds.
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add(8 * h), v[h]) };
    }
}

/// Rows `q0..q0 + qn` of `buf` (row `i` at `i · stride`, `len` long), four of them: past `qn`
/// the first again (computed with, not stored).
#[inline(always)]
fn four_rows(buf: &[f32], q0: usize, qn: usize, stride: usize, len: usize) -> [&[f32]; 4] {
    let mut rows: [&[f32]; 4] = [&[]; 4];
    for i in 0..4 {
        let qi = if i < qn { q0 + i } else { q0 };
        rows[i] = &buf[qi * stride..qi * stride + len];
    }
    rows
}

/// The five-bit values of 32 stored bytes `raw` of a five-bit tile (half `h` of its nibble
/// vector `v`): the low nibbles with their high bits from plane `2v` of `high`, the high
/// nibbles with plane `2v + 1` (the tile's high bits, [`PackedMatrix::tile_high_bits`]).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn five_bit_values(raw: __m256i, high: &[u8], v: usize, h: usize) -> [__m256i; 2] {
    let low4 = _mm256_set1_epi8(0x0f);
    let sixteen = _mm256_set1_epi8(0x10);
    let bits = |plane: usize| {
        let at = plane * 8 + h * 4;
        u32::from_le_bytes([high[at], high[at + 1], high[at + 2], high[at + 3]])
    };
    [
        _mm256_or_si256(
            _mm256_and_si256(raw, low4),
            spread_bits(bits(2 * v), sixteen),
        ),
        _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4),
            spread_bits(bits(2 * v + 1), sixteen),
        ),
    ]
}

/// Byte `i` of the result is `value` where bit `i` of `bits` is set, else 0.
#[target_feature(enable = "avx2")]
fn spread_bits(bits: u32, value: __m256i) -> __m256i {
    // Byte `i` takes byte `i / 8` of `bits` (the shuffle works within each 16-byte lane, and
    // both lanes hold the same four bytes), then keeps bit `i % 8`.
    let which = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    );
    let select = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(bits as i32), which);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
    _mm256_and_si256(set, value)
}

/// Attention's inner loops with explicit AVX2 (see `attention::AttnMicro`): the compiler's
/// own vectorisation of the plain loops ran at about a tenth of the FMA units' peak. Products
/// and sums are not fused, in the plain loops' order, so the results are theirs bit for bit
/// (fused, attention ran ~20% faster still, but greedy replies flipped).
pub(super) struct Attn;

impl super::attention::AttnMicro for Attn {
    #[inline(always)]
    fn scores(
        qv: &[f32],
        q0: usize,
        qn: usize,
        hd: usize,
        kt: &[f32],
        j0: usize,
        scores: &mut [f32],
        lpad: usize,
    ) {
        // SAFETY: only instantiated inside `attention::micro::run_avx2`, which runs only where
        // the CPU reports AVX2 and FMA.
        unsafe { attn_scores(qv, q0, qn, hd, kt, j0, scores, lpad) }
    }

    #[inline(always)]
    fn values(
        scores: &[f32],
        q0: usize,
        qn: usize,
        lpad: usize,
        lmax: usize,
        v: &[f32],
        stride: usize,
        hd: usize,
        dst: &mut [f32],
    ) {
        if !hd.is_multiple_of(16) {
            return <super::attention::Plain as super::attention::AttnMicro>::values(
                scores, q0, qn, lpad, lmax, v, stride, hd, dst,
            );
        }
        // SAFETY: as above.
        unsafe { attn_values(scores, q0, qn, lpad, lmax, v, stride, hd, dst) }
    }
}

/// 4 query vectors × 16 keys of one key tile: per dimension two 8-key loads and eight
/// broadcast multiplies and adds.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn attn_scores(
    qv: &[f32],
    q0: usize,
    qn: usize,
    hd: usize,
    kt: &[f32],
    j0: usize,
    scores: &mut [f32],
    lpad: usize,
) {
    if kt.len() < hd * 16 || qv.len() < (q0 + qn) * hd {
        return;
    }
    let qrows = four_rows(qv, q0, qn, hd, hd);
    let mut acc = [[_mm256_setzero_ps(); 2]; 4];
    for d in 0..hd {
        // SAFETY: `kt` holds `hd · 16` floats (checked above): 16 from `16d`.
        let k = unsafe {
            [
                _mm256_loadu_ps(kt.as_ptr().add(d * 16)),
                _mm256_loadu_ps(kt.as_ptr().add(d * 16 + 8)),
            ]
        };
        for i in 0..4 {
            // SAFETY: `qrows[i]` holds `hd` floats and `d < hd`.
            let q = _mm256_set1_ps(unsafe { *qrows[i].get_unchecked(d) });
            for h in 0..2 {
                acc[i][h] = _mm256_add_ps(acc[i][h], _mm256_mul_ps(q, k[h]));
            }
        }
    }
    for i in 0..qn.min(4) {
        store16(&mut scores[(q0 + i) * lpad + j0..], acc[i]);
    }
}

/// 4 query vectors × 16 dimensions per pass (8 accumulators): per key two value loads and
/// eight broadcast multiplies and adds. `hd` is a multiple of 16.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn attn_values(
    scores: &[f32],
    q0: usize,
    qn: usize,
    lpad: usize,
    lmax: usize,
    v: &[f32],
    stride: usize,
    hd: usize,
    dst: &mut [f32],
) {
    let last = (q0 + qn.max(1) - 1) * lpad + lmax;
    if lmax == 0 || last > scores.len() || (lmax - 1) * stride + hd > v.len() {
        return;
    }
    let prow = four_rows(scores, q0, qn, lpad, lmax);
    let mut d0 = 0;
    while d0 < hd {
        let mut acc = [[_mm256_setzero_ps(); 2]; 4];
        for j in 0..lmax {
            // SAFETY: `(lmax − 1) · stride + hd ≤ v.len()` (checked above) and `d0 + 16 ≤ hd`.
            let vv = unsafe {
                let at = v.as_ptr().add(j * stride + d0);
                [_mm256_loadu_ps(at), _mm256_loadu_ps(at.add(8))]
            };
            for i in 0..4 {
                // SAFETY: `prow[i]` holds `lmax` floats and `j < lmax`.
                let p = _mm256_set1_ps(unsafe { *prow[i].get_unchecked(j) });
                for h in 0..2 {
                    acc[i][h] = _mm256_add_ps(acc[i][h], _mm256_mul_ps(p, vv[h]));
                }
            }
        }
        for i in 0..qn.min(4) {
            store16(&mut dst[(q0 + i) * hd + d0..], acc[i]);
        }
        d0 += 16;
    }
}
