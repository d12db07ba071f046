//! The portable microkernel: plain Rust over the packed layout, for any CPU (and the reference
//! the SIMD kernels are tested against, besides the f32 one in the tests).
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
    let mut r0 = rows.start;
    while r0 < rows.end {
        let r = (rows.end - r0).min(MR);
        for t in tiles.clone() {
            match r {
                1 => tile::<1>(a, r0, &rows, w, t, out, ldo, col0),
                2 => tile::<2>(a, r0, &rows, w, t, out, ldo, col0),
                3 => tile::<3>(a, r0, &rows, w, t, out, ldo, col0),
                _ => tile::<MR>(a, r0, &rows, w, t, out, ldo, col0),
            }
        }
        r0 += r;
    }
}

#[allow(clippy::too_many_arguments)]
fn tile<const R: usize>(
    a: &QuantizedRows,
    r0: usize,
    rows: &Range<usize>,
    w: &PackedMatrix,
    t: usize,
    out: &mut [f32],
    ldo: usize,
    col0: usize,
) {
    let nb = w.nb();
    let mut acc = [[0f32; NR]; R];
    for b in 0..nb {
        let wt = w.tile_block(t, b);
        let ws = w.tile_scales(t, b);
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let row = (r0 + i) * nb + b;
            let aq = &a.q[row * QK..(row + 1) * QK];
            let mut dots = [a.corr[row]; NR];
            for g in 0..QK / 4 {
                let wg = &wt[g * NR * 4..(g + 1) * NR * 4];
                let ag = &aq[g * 4..g * 4 + 4];
                for (c, dot) in dots.iter_mut().enumerate() {
                    let wc = &wg[c * 4..c * 4 + 4];
                    for j in 0..4 {
                        *dot += wc[j] as i32 * ag[j] as i32;
                    }
                }
            }
            let da = a.d[row];
            for c in 0..NR {
                acc_row[c] += dots[c] as f32 * (ws[c] * da);
            }
        }
    }
    store_block::<R, NR>(&acc, r0, rows, t, w.n(), out, ldo, col0);
}
