//! Q4_K as nibbles, widened to wide int8: the file's values, the bytes wide int8 would hold,
//! and products on every kernel.
use candle_core::quantized::GgmlDType;

use super::*;
use crate::tests::{candle_blocks, check_packed, random};

/// All of `w`'s tiles widened by `kernel`.
pub(crate) fn widened(w: &PackedMatrix, kernel: Kernel) -> PackedMatrix {
    widened_with(w, kernel, true)
}

fn widened_with(w: &PackedMatrix, kernel: Kernel, lookup: bool) -> PackedMatrix {
    let mut dst = PackedMatrix::wide_scratch();
    widen_tiles_with(kernel, lookup, w, 0..w.n_tiles(), &mut dst);
    dst
}

/// The values `w` holds, row-major.
fn values(w: &PackedMatrix) -> Vec<f32> {
    let (n, k) = (w.n(), w.k());
    let mut v = Vec::with_capacity(n * k);
    for c in 0..n {
        for i in 0..k {
            let (q, d, m) = w.value(c, i);
            v.push(q as f32 * d + m);
        }
    }
    v
}

#[test]
fn q4_k_unpacks_to_the_files_values() {
    let (n, k) = (37, 512);
    let wf = random(n * k, 21);
    let (bytes, deq) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
    let w = PackedMatrix::from_q4_k(&bytes, n, k).unwrap();
    assert_eq!(w.format(), Format::Nib4);
    let got = values(&w);
    for c in 0..n {
        let row = &deq[c * k..(c + 1) * k];
        let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        for i in 0..k {
            // Only each block's scale and minimum are rounded (to f16): 2⁻¹¹ of their size.
            let diff = (got[c * k + i] - row[i]).abs();
            assert!(
                diff <= 2e-3 * amax,
                "at {c},{i}: {} vs {}",
                got[c * k + i],
                row[i]
            );
        }
    }
    assert!(PackedMatrix::from_q4_k(&bytes, n, 256).is_err());
    assert!(PackedMatrix::from_q4_k(&bytes[..bytes.len() - 1], n, k).is_err());
}

#[test]
fn widening_gives_the_bytes_of_wide_int8() {
    for (n, k, seed) in [(16, 256, 1), (37, 512, 2), (70, 1536, 3)] {
        let wf = random(n * k, seed);
        let (bytes, _) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
        let w = PackedMatrix::from_q4_k(&bytes, n, k).unwrap();
        let want = PackedMatrix::from_f32_wide(&values(&w), n, k).unwrap();
        // With VBMI, the AVX-512 kernels widen by table lookup or through floats: both.
        let ways = Kernel::available()
            .iter()
            .flat_map(|&kernel| [(kernel, true), (kernel, false)]);
        for (kernel, lookup) in ways {
            let got = widened_with(&w, kernel, lookup);
            assert_eq!(got.header(), want.header(), "{kernel:?}");
            let differ = got
                .bytes()
                .iter()
                .zip(want.bytes())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                differ, 0,
                "{kernel:?} (lookup {lookup}) n {n} k {k}: {differ} bytes differ"
            );
        }
    }
}

#[test]
fn products_on_q4_k_nibbles_match_the_references() {
    for (m, n, k) in [
        (1, 40, 256),
        (15, 33, 512),
        (16, 48, 256),
        (40, 70, 768),
        (150, 64, 1536),
    ] {
        let x = random(m * k, (m * 31 + n) as u64);
        let wf = random(n * k, (n * 17 + k) as u64);
        let (bytes, _) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
        let w = PackedMatrix::from_q4_k(&bytes, n, k).unwrap();
        for &kernel in Kernel::available() {
            assert_eq!(widens(kernel, &w, m), m >= WIDEN_MIN_ROWS);
        }
        check_packed(&x, m, &w, &values(&w), 0.02);
    }
}
