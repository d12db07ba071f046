//! Wide int8 weights (one scale per 256 k: Q6_K, and Q4_K widened for a prompt) on the tile
//! unit: per 256 k, 32 rows × 32 columns take sixteen `tdpbsud` into four int32 tiles, which
//! are then scaled once, where the VNNI kernel runs 2,048 `vpdpbusd`.
//!
//! - **The same numbers as the VNNI kernel.** `tdpbsud` multiplies the signed activations by
//!   the stored weight bytes as they are (unsigned: the value plus 128), so the weights are
//!   read in place, with no unpacking; adding the row's `−128 × Σ q` (its `corr`) in int32 gives
//!   exactly the VNNI kernel's int32 sum, scaled with the same operations in the same order
//!   (`fma(sum, d_w · d_a, acc)`): bit for bit its results.
//! - **Layout.** A group's 8 blocks are 4 KB in a row, 64 rows of 64 bytes (4 k × 16
//!   columns), so each 64-k step of a tile is a 16 × 64 weight tile; the activations of 16
//!   rows are read in place at stride `nb · 32`.
//! - **Two by two.** Two activation tiles (32 rows) × two weight tiles (32 columns) into four
//!   sum tiles: the four `tdpbsud` of a step are independent, so the tile unit never waits for
//!   one to finish (one tile of sums, four dependent steps per group, ran at a tenth of the
//!   unit's peak). The sums of group `s + 1` are computed while group `s`'s are scaled (two
//!   buffers); the f32 sums of the 32 × 32 outputs live in memory (64 vectors).
//! - **Order.** Rows in blocks of [`BLOCK_ROWS`] (their activations stay in cache), every tile
//!   pair of the call against each block, 32 rows at a time. A last group of 16 rows or a
//!   lone last tile runs as a pair with itself (its copy's sums are not stored).
// Register arrays of several rows are indexed in step: index loops read best.
#![allow(clippy::needless_range_loop)]

use std::arch::asm;
use std::arch::x86_64::*;
use std::ops::Range;

use super::super::{store_block, PackedMatrix, QuantizedRows, NR, QK, WIDE};
use super::ROWS;

/// Rows whose activations are read by every tile of a call before the next rows' are: 64
/// rows × k bytes (576 KB at k = 8,960) stay in L2.
const BLOCK_ROWS: usize = 64;
/// Bytes of one scale group of one tile: 8 blocks of 32 k × 16 columns.
const GROUP_BYTES: usize = WIDE * QK * NR;
/// Outputs of one sum tile.
const TILE_OUT: usize = ROWS * NR;

/// 32 × 32 outputs: four tiles of 16 × 16, in order (rows 0–15 | 16–31) × (tile 0 | 1).
#[repr(C, align(64))]
struct Quad<T>([T; 4 * TILE_OUT]);

/// The first `whole` rows of `rows` (a multiple of 16) × tiles `tiles` of the wide int8 `w`
/// on tiles configured as 16 rows × 64 bytes each.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
    a: &QuantizedRows,
    rows: &Range<usize>,
    whole: usize,
    w: &PackedMatrix,
    tiles: &Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let ng = w.nb() / WIDE;
    let n = w.n();
    // Per group of 16 rows in the block: scales and corrections, group-major.
    let mut da = vec![0f32; BLOCK_ROWS / ROWS * ng * ROWS];
    let mut corr = vec![0i32; BLOCK_ROWS / ROWS * ng * ROWS];
    let mut acc = Quad([0f32; 4 * TILE_OUT]);
    let end = rows.start + whole;
    let mut b0 = rows.start;
    while b0 < end {
        let b1 = (b0 + BLOCK_ROWS).min(end);
        for (g, r0) in (b0..b1).step_by(ROWS).enumerate() {
            for s in 0..ng {
                for i in 0..ROWS {
                    let at = (g * ng + s) * ROWS + i;
                    da[at] = a.d[(r0 + i) * ng + s];
                    corr[at] = a.corr[(r0 + i) * ng + s];
                }
            }
        }
        let mut t = tiles.start;
        while t < tiles.end {
            let pair = [t, (t + 1).min(tiles.end - 1)];
            let mut g = 0;
            let mut r0 = b0;
            while r0 < b1 {
                let two = r0 + ROWS < b1;
                let span = |g: usize| g * ng * ROWS..(g + 1) * ng * ROWS;
                let g1 = if two { g + 1 } else { g };
                let scales = [
                    (&da[span(g)], &corr[span(g)]),
                    (&da[span(g1)], &corr[span(g1)]),
                ];
                let starts = [r0, if two { r0 + ROWS } else { r0 }];
                quad(a, starts, scales, w, pair, &mut acc);
                let (tiles_out, _) = acc.0.as_chunks::<NR>();
                for (ia, &rs) in starts.iter().enumerate().take(if two { 2 } else { 1 }) {
                    for (jb, &tj) in pair
                        .iter()
                        .enumerate()
                        .take(if pair[1] > t { 2 } else { 1 })
                    {
                        let at = (ia * 2 + jb) * ROWS;
                        if let Ok(tile) = <&[[f32; NR]; ROWS]>::try_from(&tiles_out[at..at + ROWS])
                        {
                            store_block(tile, rs, rows, tj, n, out, ldo, col0);
                        }
                    }
                }
                g += if two { 2 } else { 1 };
                r0 += if two { 2 * ROWS } else { ROWS };
            }
            t += 2;
        }
        b0 = b1;
    }
}

/// Rows `starts[0]..+16` and `starts[1]..+16` × tiles `t[0]` and `t[1]` into `acc`: per group
/// of 256 k, the tile unit's int32 sums (four steps of four independent `tdpbsud`), the rows'
/// corrections and the VNNI kernel's scaling.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn quad(
    a: &QuantizedRows,
    starts: [usize; 2],
    scales: [(&[f32], &[i32]); 2],
    w: &PackedMatrix,
    t: [usize; 2],
    acc: &mut Quad<f32>,
) {
    let nb = w.nb();
    let ng = nb / WIDE;
    let lda = nb * QK;
    if ng == 0
        || starts.iter().any(|&r| (r + ROWS) * lda > a.q.len())
        || scales
            .iter()
            .any(|(d, c)| d.len() < ng * ROWS || c.len() < ng * ROWS)
        || t.iter()
            .any(|&tj| w.int8_group(tj, ng - 1).len() < GROUP_BYTES)
    {
        return;
    }
    let mut sums = [Quad([0i32; 4 * TILE_OUT]), Quad([0i32; 4 * TILE_OUT])];
    let issue = |s: usize, dst: &mut Quad<i32>| {
        let a0 = a.q[(starts[0] * nb + s * WIDE) * QK..].as_ptr();
        let a1 = a.q[(starts[1] * nb + s * WIDE) * QK..].as_ptr();
        let w0 = w.int8_group(t[0], s).as_ptr();
        let w1 = w.int8_group(t[1], s).as_ptr();
        // SAFETY: reads 16 rows of 256 bytes at stride `lda` from rows starts[0] and starts[1],
        // block 8s of `a` (those rows exist: checked above) and the group's 4 KB of weights of
        // both tiles (checked above: the last group is whole, so every group is); writes four
        // tiles of 16 rows × 64 bytes, contiguous, into `dst` (4 KB). The tiles are configured
        // as 16 rows × 64 bytes.
        unsafe {
            asm!(
                "tilezero tmm4",
                "tilezero tmm5",
                "tilezero tmm6",
                "tilezero tmm7",
                "tileloadd tmm0, [{a0} + {lda}*1]",
                "tileloadd tmm2, [{w0} + {ldw}*1]",
                "tileloadd tmm3, [{w1} + {ldw}*1]",
                "tdpbsud tmm4, tmm0, tmm2",
                "tdpbsud tmm5, tmm0, tmm3",
                "tileloadd tmm1, [{a1} + {lda}*1]",
                "tdpbsud tmm6, tmm1, tmm2",
                "tdpbsud tmm7, tmm1, tmm3",
                "tileloadd tmm0, [{a0} + {lda}*1 + 64]",
                "tileloadd tmm2, [{w0} + {ldw}*1 + 1024]",
                "tileloadd tmm3, [{w1} + {ldw}*1 + 1024]",
                "tdpbsud tmm4, tmm0, tmm2",
                "tdpbsud tmm5, tmm0, tmm3",
                "tileloadd tmm1, [{a1} + {lda}*1 + 64]",
                "tdpbsud tmm6, tmm1, tmm2",
                "tdpbsud tmm7, tmm1, tmm3",
                "tileloadd tmm0, [{a0} + {lda}*1 + 128]",
                "tileloadd tmm2, [{w0} + {ldw}*1 + 2048]",
                "tileloadd tmm3, [{w1} + {ldw}*1 + 2048]",
                "tdpbsud tmm4, tmm0, tmm2",
                "tdpbsud tmm5, tmm0, tmm3",
                "tileloadd tmm1, [{a1} + {lda}*1 + 128]",
                "tdpbsud tmm6, tmm1, tmm2",
                "tdpbsud tmm7, tmm1, tmm3",
                "tileloadd tmm0, [{a0} + {lda}*1 + 192]",
                "tileloadd tmm2, [{w0} + {ldw}*1 + 3072]",
                "tileloadd tmm3, [{w1} + {ldw}*1 + 3072]",
                "tdpbsud tmm4, tmm0, tmm2",
                "tdpbsud tmm5, tmm0, tmm3",
                "tileloadd tmm1, [{a1} + {lda}*1 + 192]",
                "tdpbsud tmm6, tmm1, tmm2",
                "tdpbsud tmm7, tmm1, tmm3",
                "tilestored [{s} + {ldw}*1], tmm4",
                "tilestored [{s} + {ldw}*1 + 1024], tmm5",
                "tilestored [{s} + {ldw}*1 + 2048], tmm6",
                "tilestored [{s} + {ldw}*1 + 3072], tmm7",
                a0 = in(reg) a0,
                a1 = in(reg) a1,
                w0 = in(reg) w0,
                w1 = in(reg) w1,
                s = in(reg) dst.0.as_mut_ptr(),
                lda = in(reg) lda,
                ldw = in(reg) 64usize,
                options(nostack)
            )
        }
    };
    issue(0, &mut sums[0]);
    for s in 0..ng {
        let (now, next) = sums.split_at_mut(1);
        let (cur, ahead) = if s % 2 == 0 {
            (&now[0], &mut next[0])
        } else {
            (&next[0], &mut now[0])
        };
        if s + 1 < ng {
            issue(s + 1, ahead);
        }
        let mut ws = [_mm512_setzero_ps(); 2];
        for jb in 0..2 {
            let sc = w.tile_scales_f16(t[jb], s);
            // SAFETY: `sc` holds exactly 16 f16 (32 bytes).
            ws[jb] = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(sc.as_ptr().cast()) });
        }
        for ia in 0..2 {
            let (db, cb) = scales[ia];
            for i in 0..ROWS {
                let d = _mm512_set1_ps(db[s * ROWS + i]);
                let c = _mm512_set1_epi32(cb[s * ROWS + i]);
                for jb in 0..2 {
                    let at = (ia * 2 + jb) * TILE_OUT + i * NR;
                    // SAFETY: `at + 16 ≤ 4 · 256`: 16 values inside `cur` and `acc`.
                    unsafe {
                        let raw = _mm512_load_si512(cur.0.as_ptr().add(at).cast());
                        let sum = _mm512_add_epi32(raw, c);
                        let p = acc.0.as_mut_ptr().add(at);
                        let scale = _mm512_mul_ps(ws[jb], d);
                        // The first group adds to zero (as the VNNI kernel's accumulators
                        // start), not to what `acc` held.
                        let before = if s == 0 {
                            _mm512_setzero_ps()
                        } else {
                            _mm512_load_ps(p)
                        };
                        let v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, before);
                        _mm512_store_ps(p, v);
                    }
                }
            }
        }
    }
}
