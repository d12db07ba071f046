//! The portable microkernel: plain Rust over the packed layout, for any CPU (and the reference
//! the SIMD kernels are tested against, besides the f32 one in the tests). Both formats go
//! through [`PackedMatrix::q`]: simple, not fast.
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
        // The block's integers, column by column.
        let mut wq = [[0i32; QK]; NR];
        for (c, col) in wq.iter_mut().enumerate() {
            for (i, q) in col.iter_mut().enumerate() {
                *q = w.q(t, b, c, i);
            }
        }
        let ws = w.tile_scales(t, b);
        let wm = w.tile_mins(t, b);
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let row = (r0 + i) * nb + b;
            let aq = &a.q[row * QK..(row + 1) * QK];
            let (da, sa) = (a.d[row], a.scaled_sum(row));
            for c in 0..NR {
                let dot: i32 = wq[c].iter().zip(aq).map(|(&w, &x)| w * x as i32).sum();
                acc_row[c] += dot as f32 * (ws[c] * da) + wm[c] * sa;
            }
        }
    }
    store_block::<R, NR>(&acc, r0, rows, t, w.n(), out, ldo, col0);
}
