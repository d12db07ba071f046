//! The AVX-512 VNNI microkernel: `MR` rows × 2 tiles (32 columns) per call, one `vpdpbusd`
//! per 4 k × 16 columns × row. Each 64-byte weight vector is loaded once and used for every
//! row of the group; the int32 sums of a block start at `-128 × Σ activation` (cancelling the
//! weights' +128 offset) and are scaled into f32 accumulators once per block: per scale
//! group, which for wide int8 weights is 8 blocks (256 k), taken 6 rows at a time. Nibble weights
//! ([`Format::Nib4`]): each 64-byte load gives two operands (mask, shift), the int32 sums start
//! at 0, and the block's minimum times `d · Σ activation` is added once per block. Five-bit
//! weights ([`Format::Nib5`]) add 16 to the bytes their high-bit mask selects (one masked add
//! per operand) and take `−16d` as their minimum.
// Register arrays of several rows and columns are indexed in step: index loops read best.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::{store_block, Format, PackedMatrix, QuantizedRows, MR, NR, QK};

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) fn gemm(
    a: &QuantizedRows,
    rows: Range<usize>,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    match w.format() {
        Format::Int8 => gemm_vnni::<false, false>(a, rows, w, tiles, out, ldo, col0),
        Format::Nib4 => gemm_vnni::<true, false>(a, rows, w, tiles, out, ldo, col0),
        Format::Nib5 => gemm_vnni::<true, true>(a, rows, w, tiles, out, ldo, col0),
    }
}

/// Rows per call of the kernel on wide int8 weights ([`PackedMatrix::group`] > 1).
const WIDE_MR: usize = 6;

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn gemm_vnni<const NIB: bool, const HIGH: bool>(
    a: &QuantizedRows,
    rows: Range<usize>,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let mut t = tiles.start;
    while t < tiles.end {
        let pair = tiles.end - t >= 2;
        let mut r0 = rows.start;
        while r0 < rows.end {
            // Wide int8 weights: 6 rows per weight load (the per-block scaling no longer
            // needs the registers). Six, not eight: 12 int32 and 12 f32 sums, the weights and
            // the broadcasts fit the 32 registers (at eight the compiled loop spills). On the
            // 1.5B's prompt shapes, 8 → 6 rows: gate/up 303–307 → 435–457 GMAC/s, Q/K/V
            // 376–384 → 410–428, down unchanged (~390); 5 and 7 rows, and the f32 sums kept
            // in memory (8 rows × 2 tiles, 6 × 2, 6 × 3), measured no better
            // (docs/benchmarks/2026-12-06-prefill-six-rows.md).
            if !NIB && pair && rows.end - r0 >= WIDE_MR && w.group() > 1 {
                kernel::<WIDE_MR, 2, 32, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0);
                r0 += WIDE_MR;
                continue;
            }
            let r = (rows.end - r0).min(MR);
            match (r, pair) {
                (1, true) => kernel::<1, 2, 32, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (2, true) => kernel::<2, 2, 32, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (3, true) => kernel::<3, 2, 32, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (_, true) => kernel::<MR, 2, 32, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (1, false) => kernel::<1, 1, 16, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (2, false) => kernel::<2, 1, 16, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (3, false) => kernel::<3, 1, 16, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
                (_, false) => kernel::<MR, 1, 16, NIB, HIGH>(a, r0, &rows, w, t, out, ldo, col0),
            }
            r0 += r;
        }
        t += if pair { 2 } else { 1 };
    }
}

/// `R` rows from `r0` × `T` tiles from `t0` (`W = T·NR` columns).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
fn kernel<const R: usize, const T: usize, const W: usize, const NIB: bool, const HIGH: bool>(
    a: &QuantizedRows,
    r0: usize,
    rows: &Range<usize>,
    w: &PackedMatrix,
    t0: usize,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let (nb, group) = (w.nb(), w.group());
    let ng = nb / group;
    let mut accf = [[_mm512_setzero_ps(); T]; R];
    for s in 0..ng {
        let mut acci = [[_mm512_setzero_si512(); T]; R];
        if !NIB {
            for i in 0..R {
                let c = _mm512_set1_epi32(a.corr[(r0 + i) * ng + s]);
                for acc in acci[i].iter_mut() {
                    *acc = c;
                }
            }
        }
        for b in s * group..(s + 1) * group {
            if R < WIDE_MR {
                // Few rows (decode, drafted tokens): the weights stream from memory.
                for j in 0..T {
                    w.prefetch_ahead(t0 + j, b);
                }
            }
            let mut arow: [&[i8]; R] = [&[]; R];
            for i in 0..R {
                let row = (r0 + i) * nb + b;
                arow[i] = &a.q[row * QK..(row + 1) * QK];
            }
            block::<R, T, NIB, HIGH>(&arow, w, t0, b, &mut acci);
        }
        let mut ws = [_mm512_setzero_ps(); T];
        for j in 0..T {
            let sc = w.tile_scales_f16(t0 + j, s);
            // SAFETY: `sc` holds exactly 16 f16 (32 bytes).
            ws[j] = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(sc.as_ptr().cast()) });
        }
        for i in 0..R {
            let da = _mm512_set1_ps(a.d[(r0 + i) * ng + s]);
            for j in 0..T {
                accf[i][j] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(acci[i][j]),
                    _mm512_mul_ps(ws[j], da),
                    accf[i][j],
                );
            }
        }
        if NIB {
            let mut wm = [_mm512_setzero_ps(); T];
            for j in 0..T {
                wm[j] = if HIGH {
                    _mm512_mul_ps(ws[j], _mm512_set1_ps(-16.0))
                } else {
                    let m = w.tile_mins_f16(t0 + j, s);
                    // SAFETY: `m` holds exactly 16 f16 (32 bytes).
                    _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(m.as_ptr().cast()) })
                };
            }
            for i in 0..R {
                let sa = _mm512_set1_ps(a.scaled_sum((r0 + i) * ng + s));
                for j in 0..T {
                    accf[i][j] = _mm512_fmadd_ps(wm[j], sa, accf[i][j]);
                }
            }
        }
    }
    let mut res = [[0f32; W]; R];
    for i in 0..R {
        for j in 0..T {
            // SAFETY: `res[i]` holds `T·16` f32 and `j < T`: 16 floats at `j·16` are in bounds.
            unsafe { _mm512_storeu_ps(res[i].as_mut_ptr().add(j * NR), accf[i][j]) };
        }
    }
    store_block::<R, W>(&res, r0, rows, t0, w.n(), out, ldo, col0);
}

/// One block `b` of `R` rows × `T` tiles from `t0`: its int32 sums added to `acci`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn block<const R: usize, const T: usize, const NIB: bool, const HIGH: bool>(
    arow: &[&[i8]; R],
    w: &PackedMatrix,
    t0: usize,
    b: usize,
    acci: &mut [[__m512i; T]; R],
) {
    if NIB {
        let low4 = _mm512_set1_epi8(0x0f);
        let sixteen = _mm512_set1_epi8(0x10);
        let wt: [&[u8; 256]; T] = std::array::from_fn(|j| w.tile_nibbles(t0 + j, b));
        let hb: [&[u8; 64]; T] = std::array::from_fn(|j| {
            if HIGH {
                w.tile_high_bits(t0 + j, b)
            } else {
                &[0; 64]
            }
        });
        for v in 0..4 {
            let mut lo = [_mm512_setzero_si512(); T];
            let mut hi = [_mm512_setzero_si512(); T];
            for j in 0..T {
                // SAFETY: `wt[j]` holds 256 bytes and `v < 4`: 64 bytes at `v·64` are in
                // bounds.
                let raw = unsafe { _mm512_loadu_si512(wt[j].as_ptr().add(v * 64).cast()) };
                lo[j] = _mm512_and_si512(raw, low4);
                hi[j] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
                if HIGH {
                    let word =
                        |i: usize| u64::from_le_bytes(std::array::from_fn(|x| hb[j][i * 8 + x]));
                    let (ml, mh) = (word(2 * v), word(2 * v + 1));
                    lo[j] = _mm512_mask_add_epi8(lo[j], ml, lo[j], sixteen);
                    hi[j] = _mm512_mask_add_epi8(hi[j], mh, hi[j], sixteen);
                }
            }
            for i in 0..R {
                let al = broadcast4(&arow[i][v * 4..v * 4 + 4]);
                let ah = broadcast4(&arow[i][16 + v * 4..20 + v * 4]);
                for j in 0..T {
                    acci[i][j] = _mm512_dpbusd_epi32(acci[i][j], lo[j], al);
                    acci[i][j] = _mm512_dpbusd_epi32(acci[i][j], hi[j], ah);
                }
            }
        }
    } else {
        let wt: [&[u8; 512]; T] = std::array::from_fn(|j| w.tile_block(t0 + j, b));
        for g in 0..QK / 4 {
            let mut wv = [_mm512_setzero_si512(); T];
            for j in 0..T {
                // SAFETY: `wt[j]` holds 512 bytes and `g < 8`, so the 64 bytes read at
                // `g·64` are in bounds; loadu has no alignment requirement.
                wv[j] = unsafe { _mm512_loadu_si512(wt[j].as_ptr().add(g * 64).cast()) };
            }
            for i in 0..R {
                let av = broadcast4(&arow[i][g * 4..g * 4 + 4]);
                for j in 0..T {
                    acci[i][j] = _mm512_dpbusd_epi32(acci[i][j], wv[j], av);
                }
            }
        }
    }
}

/// Four consecutive int8 activations in every 32-bit lane.
#[inline(always)]
fn broadcast4(q: &[i8]) -> __m512i {
    // SAFETY: plain integer broadcast, no memory access (avx512f is enabled by every caller).
    unsafe {
        _mm512_set1_epi32(i32::from_le_bytes([
            q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8,
        ]))
    }
}

/// Attention's inner loops with explicit AVX-512 (see `attention::AttnMicro`).
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
        // SAFETY: only instantiated inside `attention::attention_item_avx512`, which runs only when
        // the CPU reports avx512f.
        unsafe { scores_avx512(qv, q0, qn, hd, kt, j0, scores, lpad) }
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
        unsafe { values_avx512(scores, q0, qn, lpad, lmax, v, stride, hd, dst) }
    }
}

/// 4 query vectors × 16 keys of one key tile: per dimension one 16-key load and four
/// broadcast multiply-adds.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn scores_avx512(
    qv: &[f32],
    q0: usize,
    qn: usize,
    hd: usize,
    kt: &[f32],
    j0: usize,
    scores: &mut [f32],
    lpad: usize,
) {
    let mut acc = [_mm512_setzero_ps(); 4];
    let qrows: [&[f32]; 4] = std::array::from_fn(|i| {
        if i < qn {
            &qv[(q0 + i) * hd..(q0 + i + 1) * hd]
        } else {
            &qv[q0 * hd..(q0 + 1) * hd]
        }
    });
    for d in 0..hd {
        let row = &kt[d * 16..d * 16 + 16];
        // SAFETY: `row` holds 16 floats.
        let k = unsafe { _mm512_loadu_ps(row.as_ptr()) };
        for i in 0..4 {
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(qrows[i][d]), k, acc[i]);
        }
    }
    for i in 0..qn.min(4) {
        let dst = &mut scores[(q0 + i) * lpad + j0..(q0 + i) * lpad + j0 + 16];
        // SAFETY: `dst` holds 16 floats (`lpad` is a multiple of 16 past `j0`).
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), acc[i]) };
    }
}

/// 4 query vectors × 64 dimensions per pass (16 accumulators): per key four value loads and
/// sixteen broadcast multiply-adds. `hd` is a multiple of 16.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn values_avx512(
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
    let prow: [&[f32]; 4] = std::array::from_fn(|i| {
        let qi = if i < qn { q0 + i } else { q0 };
        &scores[qi * lpad..qi * lpad + lmax]
    });
    let mut d0 = 0;
    while d0 + 64 <= hd {
        values_block::<4>(&prow, qn, q0, lmax, v, stride, hd, d0, dst);
        d0 += 64;
    }
    while d0 < hd {
        values_block::<1>(&prow, qn, q0, lmax, v, stride, hd, d0, dst);
        d0 += 16;
    }
}

/// `C` × 16 dimensions from `d0` for 4 query vectors (a constant `C` keeps the accumulators
/// in registers).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn values_block<const C: usize>(
    prow: &[&[f32]; 4],
    qn: usize,
    q0: usize,
    lmax: usize,
    v: &[f32],
    stride: usize,
    hd: usize,
    d0: usize,
    dst: &mut [f32],
) {
    let mut acc = [[_mm512_setzero_ps(); C]; 4];
    for j in 0..lmax {
        let vrow = &v[j * stride + d0..j * stride + d0 + C * 16];
        let mut vv = [_mm512_setzero_ps(); C];
        for c in 0..C {
            // SAFETY: `vrow` holds `C·16` floats.
            vv[c] = unsafe { _mm512_loadu_ps(vrow.as_ptr().add(c * 16)) };
        }
        for i in 0..4 {
            let p = _mm512_set1_ps(prow[i][j]);
            for c in 0..C {
                acc[i][c] = _mm512_fmadd_ps(p, vv[c], acc[i][c]);
            }
        }
    }
    for i in 0..qn.min(4) {
        let o = &mut dst[(q0 + i) * hd + d0..(q0 + i) * hd + d0 + C * 16];
        for c in 0..C {
            // SAFETY: `o` holds `C·16` floats.
            unsafe { _mm512_storeu_ps(o.as_mut_ptr().add(c * 16), acc[i][c]) };
        }
    }
}
