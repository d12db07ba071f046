//! The portable microkernel: plain Rust over the packed layout, for any CPU (and the reference
//! the SIMD kernels are tested against, besides the f32 one in the tests). Each tile block is
//! first unpacked to signed int8 in the packed order, so one loop serves both formats.
use std::ops::Range;

use super::{store_block, Format, PackedMatrix, QuantizedRows, MR, NR, QK, TILE_BYTES};

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
    let (nb, group) = (w.nb(), w.group());
    let ng = nb / group;
    let mut acc = [[0f32; NR]; R];
    let mut wq = [0i8; TILE_BYTES];
    for s in 0..ng {
        let mut dots = [[0i32; NR]; R];
        for b in s * group..(s + 1) * group {
            unpack(w, t, b, &mut wq);
            for (i, dots) in dots.iter_mut().enumerate() {
                let row = (r0 + i) * nb + b;
                let aq = &a.q[row * QK..(row + 1) * QK];
                for (wg, ag) in wq.chunks_exact(NR * 4).zip(aq.chunks_exact(4)) {
                    for (dot, wc) in dots.iter_mut().zip(wg.chunks_exact(4)) {
                        for j in 0..4 {
                            *dot += wc[j] as i32 * ag[j] as i32;
                        }
                    }
                }
            }
        }
        let ws = w.tile_scales(t, s);
        let wm = w.tile_mins(t, s);
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let row = (r0 + i) * ng + s;
            let (da, sa) = (a.d[row], a.scaled_sum(row));
            for c in 0..NR {
                acc_row[c] += dots[i][c] as f32 * (ws[c] * da) + wm[c] * sa;
            }
        }
    }
    store_block::<R, NR>(&acc, r0, rows, t, w.n(), out, ldo, col0);
}

/// The integers of tile `t`, block `b` as int8, in the int8 layout (group of 4 k, column, k):
/// nibble tiles hold groups 0–3 in their low nibbles and 4–7 in their high ones.
#[inline(always)]
fn unpack(w: &PackedMatrix, t: usize, b: usize, out: &mut [i8; TILE_BYTES]) {
    match w.format() {
        Format::Int8 => {
            for (o, &v) in out.iter_mut().zip(w.tile_block(t, b)) {
                *o = (v ^ 0x80) as i8;
            }
        }
        Format::Nib4 => {
            let (lo, hi) = out.split_at_mut(TILE_BYTES / 2);
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(w.tile_nibbles(t, b)) {
                *l = (v & 0x0f) as i8;
                *h = (v >> 4) as i8;
            }
        }
        Format::Nib5 => {
            let high = w.tile_high_bits(t, b);
            let (lo, hi) = out.split_at_mut(TILE_BYTES / 2);
            for (i, ((l, h), &v)) in lo
                .iter_mut()
                .zip(hi.iter_mut())
                .zip(w.tile_nibbles(t, b))
                .enumerate()
            {
                // Byte `i` is byte `i % 64` of vector `i / 64`; its high bits are bit `i % 64`
                // of words `2·(i / 64)` (low nibble) and `2·(i / 64) + 1` (high nibble).
                let (vec, at) = (i / 64, i % 64);
                let bit = |word: usize| (high[word * 8 + at / 8] >> (at % 8)) & 1;
                *l = ((v & 0x0f) | (bit(2 * vec) << 4)) as i8;
                *h = ((v >> 4) | (bit(2 * vec + 1) << 4)) as i8;
            }
        }
    }
}
