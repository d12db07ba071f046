//! Four- and five-bit weights as bytes: the file's values kept, the scales' integers, and
//! products against a plain reference of the same arithmetic or the widened path's.
use candle_core::quantized::GgmlDType;

use super::*;
use crate::tests::{candle_blocks, random};

/// `x · wᵀ` by this module's arithmetic, plainly, in f64: the rows quantised per 256 k, each
/// weight its nibble times its block's integer scale and group step, plus its minimum.
pub(crate) fn reference(x: &[f32], m: usize, w: &PackedMatrix) -> Vec<f64> {
    let (n, nb) = (w.n(), w.nb());
    let a = QuantizedRows::quantize(x, m, w.k(), WIDE).unwrap();
    let sums = block_sums(&a, m, nb);
    let mut tiles = ByteTiles::default();
    tiles.fill(w, 0..w.n_tiles());
    let mut out = vec![0f64; m * n];
    for r in 0..m {
        for c in 0..n {
            let (t, col) = (c / NR, c % NR);
            let mut total = 0f64;
            for b in 0..nb {
                let (mut dot, mut scale, mut step, mut min) = (0i64, 0i64, 0f64, 0f64);
                for i in 0..QK {
                    let (v, sc, st, mn) = tiles.value(t, b, col, i);
                    dot += v as i64 * a.q[(r * nb + b) * QK + i] as i64;
                    (scale, step, min) = (sc as i64, st as f64, mn as f64);
                }
                let d = a.d[r * (nb / WIDE) + b / WIDE] as f64;
                total += (dot * scale) as f64 * step * d + min * sums[r * nb + b] as f64;
            }
            out[r * n + c] = total;
        }
    }
    out
}

/// A Q4_K matrix of random weights.
fn q4_k(n: usize, k: usize, seed: u64) -> PackedMatrix {
    let (bytes, _) = candle_blocks(&random(n * k, seed), n, k, GgmlDType::Q4K);
    PackedMatrix::from_q4_k(&bytes, n, k).unwrap()
}

#[test]
fn the_bytes_are_the_files_values_and_the_scales_its_scales() {
    let w = q4_k(37, 512, 3);
    let mut tiles = ByteTiles::default();
    tiles.fill(&w, 0..w.n_tiles());
    for c in 0..w.n() {
        for i in 0..w.k() {
            let (b, within) = (i / QK, i % QK);
            let (v, sc, step, min) = tiles.value(c / NR, b, c % NR, within);
            let (q, d, m) = w.value(c, i);
            assert_eq!(v as i32, q, "value {c},{i}");
            assert_eq!(min, m, "minimum {c},{i}");
            // The integer scale is the f16 scale to half a step, a step 1/4095 of the
            // group's largest.
            assert!(
                (sc as f32 * step - d).abs() <= 0.5 * step * 1.001,
                "scale {c},{i}"
            );
            assert!(sc.unsigned_abs() as f32 <= SCALE_STEPS);
        }
    }
}

/// [`matmul`] on `x` (`m` rows) and `w` against [`reference`], to 1e-4 relative.
fn check_against_reference(x: &[f32], m: usize, w: &PackedMatrix, label: &str) {
    let want = reference(x, m, w);
    let mut out = vec![f32::NAN; m * w.n()];
    matmul(x, m, w, Sink::Plain(&mut out)).unwrap();
    for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
        let got = got as f64;
        assert!(
            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{label} at {i}: {got} vs {want}"
        );
    }
}

#[test]
fn products_match_the_reference() {
    if !Kernel::available().contains(&Kernel::Avx2) {
        return;
    }
    for (m, n, k) in [(16, 16, 256), (17, 33, 512), (40, 70, 768), (150, 64, 1536)] {
        let x = random(m * k, (m * 7 + n) as u64);
        let w = q4_k(n, k, (n * 3 + k) as u64);
        assert!(applies(Kernel::Avx2, &w, m));
        check_against_reference(&x, m, &w, &format!("m {m} n {n} k {k}"));
    }
}

/// The largest sums the int16 and int32 sums can meet: every nibble 15 and every activation
/// at the end of its range (−128 cannot come from quantising, −127 can), with the largest
/// scale in every block.
#[test]
fn the_largest_sums_do_not_overflow() {
    if !Kernel::available().contains(&Kernel::Avx2) {
        return;
    }
    let (m, n, k) = (16, 16, 2048);
    let wf: Vec<f32> = (0..n * k)
        .map(|i| if i % 7 == 0 { -1.0 } else { 1.0 })
        .collect();
    let (bytes, _) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
    let w = PackedMatrix::from_q4_k(&bytes, n, k).unwrap();
    for sign in [1.0f32, -1.0] {
        check_against_reference(&vec![sign; m * k], m, &w, &format!("sign {sign}"));
    }
}

/// Five-bit weights give, bit for bit, what widening them to int8 gives.
#[test]
fn five_bit_products_are_the_widened_ones_bit_for_bit() {
    if !Kernel::available().contains(&Kernel::Avx2) {
        return;
    }
    for (m, n, k) in [(16, 16, 32), (17, 40, 96), (64, 33, 896)] {
        let x = random(m * k, (m + n) as u64);
        let (bytes, _) = candle_blocks(&random(n * k, k as u64), n, k, GgmlDType::Q5_0);
        let w = PackedMatrix::from_q5_0(&bytes, n, k).unwrap();
        assert!(applies(Kernel::Avx2, &w, m));
        let mut got = vec![f32::NAN; m * n];
        matmul(&x, m, &w, Sink::Plain(&mut got)).unwrap();
        let a = QuantizedRows::quantize(&x, m, k, 1).unwrap();
        let mut want = vec![f32::NAN; m * n];
        super::super::multiply_tiles(Kernel::Avx2, &a, m, &w, 0..w.n_tiles(), &mut want);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "m {m} n {n} k {k}");
    }
}
