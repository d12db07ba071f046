//! The AVX-512 VNNI microkernel: `MR` rows × 2 tiles (32 columns) per call, one `vpdpbusd`
//! per 4 k × 16 columns × row. Each 64-byte weight vector is loaded once and used for every
//! row of the group; the int32 sums of a block start at `-128 × Σ activation` (cancelling the
//! weights' +128 offset) and are scaled into f32 accumulators once per block.
// Register arrays of several rows and columns are indexed in step: index loops read best.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::{store_block, PackedMatrix, QuantizedRows, MR, NR, QK};

pub(super) fn gemm(
    a: &QuantizedRows,
    rows: Range<usize>,
    w: &PackedMatrix,
    tiles: Range<usize>,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    // SAFETY: `Kernel::Avx512Vnni` is only offered (and `matmul_with` refuses any kernel not
    // offered) when the CPU reports avx512f, avx512bw and avx512vnni.
    unsafe { gemm_vnni(a, rows, w, tiles, out, ldo, col0) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn gemm_vnni(
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
            let r = (rows.end - r0).min(MR);
            match (r, pair) {
                (1, true) => kernel::<1, 2, 32>(a, r0, &rows, w, t, out, ldo, col0),
                (2, true) => kernel::<2, 2, 32>(a, r0, &rows, w, t, out, ldo, col0),
                (3, true) => kernel::<3, 2, 32>(a, r0, &rows, w, t, out, ldo, col0),
                (_, true) => kernel::<MR, 2, 32>(a, r0, &rows, w, t, out, ldo, col0),
                (1, false) => kernel::<1, 1, 16>(a, r0, &rows, w, t, out, ldo, col0),
                (2, false) => kernel::<2, 1, 16>(a, r0, &rows, w, t, out, ldo, col0),
                (3, false) => kernel::<3, 1, 16>(a, r0, &rows, w, t, out, ldo, col0),
                (_, false) => kernel::<MR, 1, 16>(a, r0, &rows, w, t, out, ldo, col0),
            }
            r0 += r;
        }
        t += if pair { 2 } else { 1 };
    }
}

/// `R` rows from `r0` × `T` tiles from `t0` (`W = T·NR` columns).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
fn kernel<const R: usize, const T: usize, const W: usize>(
    a: &QuantizedRows,
    r0: usize,
    rows: &Range<usize>,
    w: &PackedMatrix,
    t0: usize,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let nb = w.nb();
    let mut accf = [[_mm512_setzero_ps(); T]; R];
    for b in 0..nb {
        let mut acci = [[_mm512_setzero_si512(); T]; R];
        let mut arow: [&[i8]; R] = [&[]; R];
        for i in 0..R {
            let row = (r0 + i) * nb + b;
            arow[i] = &a.q[row * QK..(row + 1) * QK];
            let c = _mm512_set1_epi32(a.corr[row]);
            for acc in acci[i].iter_mut() {
                *acc = c;
            }
        }
        let wt: [&[u8; 512]; T] = std::array::from_fn(|j| w.tile_block(t0 + j, b));
        for g in 0..QK / 4 {
            let mut wv = [_mm512_setzero_si512(); T];
            for j in 0..T {
                // SAFETY: `wt[j]` holds 512 bytes and `g < 8`, so the 64 bytes read at
                // `g·64` are in bounds; loadu has no alignment requirement.
                wv[j] = unsafe { _mm512_loadu_si512(wt[j].as_ptr().add(g * 64).cast()) };
            }
            for i in 0..R {
                let q = &arow[i][g * 4..g * 4 + 4];
                let av = _mm512_set1_epi32(i32::from_le_bytes([
                    q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8,
                ]));
                for j in 0..T {
                    acci[i][j] = _mm512_dpbusd_epi32(acci[i][j], wv[j], av);
                }
            }
        }
        let mut ws = [_mm512_setzero_ps(); T];
        for j in 0..T {
            let s = w.tile_scales(t0 + j, b);
            // SAFETY: `s` holds exactly 16 f32.
            ws[j] = unsafe { _mm512_loadu_ps(s.as_ptr()) };
        }
        for i in 0..R {
            let da = _mm512_set1_ps(a.d[(r0 + i) * nb + b]);
            for j in 0..T {
                accf[i][j] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(acci[i][j]),
                    _mm512_mul_ps(ws[j], da),
                    accf[i][j],
                );
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
