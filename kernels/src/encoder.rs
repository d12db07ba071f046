//! The steps of a BERT-style sentence encoder besides its matmuls: layer normalisation, GELU
//! and attention within each text (bidirectional). Here rather than beside the encoder so that
//! they are optimised wherever this crate is (the tests build the main crate at a low level).

/// Layer normalisation of every row of `x` (rows of `weight.len()` values), in place.
pub fn layer_norm(x: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let h = weight.len();
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

/// GELU (erf form) of every value, in place.
pub fn gelu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = gelu_erf(*v));
}

/// Bidirectional multi-head attention within each text: `qkv` rows are Q, K and V of
/// `hidden` values each; returns the context rows (`hidden` wide). Keys are transposed per
/// head so that every inner loop is a multiply-add along contiguous values (vectorised).
pub fn bidirectional_attention(
    qkv: &[f32],
    spans: &[(usize, usize)],
    hidden: usize,
    heads: usize,
) -> Vec<f32> {
    let h = hidden;
    let hd = h / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut ctx = vec![0f32; qkv.len() / 3];
    let (mut kt, mut scores) = (Vec::new(), Vec::new());
    for &(start, len) in spans {
        for head in 0..heads {
            let col = head * hd;
            kt.clear();
            kt.resize(hd * len, 0.0);
            for j in 0..len {
                let k = &qkv[(start + j) * 3 * h + h + col..][..hd];
                for (d, &v) in k.iter().enumerate() {
                    kt[d * len + j] = v;
                }
            }
            scores.clear();
            scores.resize(len, 0.0);
            for i in 0..len {
                let q = &qkv[(start + i) * 3 * h + col..][..hd];
                scores.iter_mut().for_each(|s| *s = 0.0);
                for (d, &qd) in q.iter().enumerate() {
                    let qd = qd * scale;
                    let row = &kt[d * len..(d + 1) * len];
                    scores.iter_mut().zip(row).for_each(|(s, k)| *s += qd * k);
                }
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut total = 0.0;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    total += *s;
                }
                let inv = 1.0 / total;
                let out = &mut ctx[(start + i) * h + col..][..hd];
                for (j, &p) in scores.iter().enumerate() {
                    let v = &qkv[(start + j) * 3 * h + 2 * h + col..][..hd];
                    let p = p * inv;
                    out.iter_mut().zip(v).for_each(|(o, v)| *o += p * v);
                }
            }
        }
    }
    ctx
}

/// GELU, `x/2 · (1 + erf(x/√2))`.
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf to 1.5e-7 (Abramowitz and Stegun 7.1.26).
fn erf(x: f32) -> f32 {
    let sign = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_7 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    sign * (1.0 - poly * (-x * x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (-1.0, -0.842_700_8),
            (4.0, 0.999_999_98),
        ] {
            assert!(
                (erf(x) - want).abs() < 5e-7,
                "erf({x}) = {} not {want}",
                erf(x)
            );
        }
    }
}
