//! The element-wise steps of the llama forward pass, over plain f32 buffers (no tensor
//! allocation or op dispatch per step: what decode pays per token otherwise). Written so the
//! compiler vectorises them on any target (fixed-width accumulators, a branch-free exp).

/// `exp(x)` within a few ulp over the f32 range (Cephes' polynomial, range reduction by
/// ln 2), branch-free so loops over it vectorise. Below −87.3 it returns ~1e-38, not 0.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.7);
    let shifted = x * LOG2E + EXP_MAGIC;
    let n = shifted - EXP_MAGIC;
    let ni = integer_of(shifted);
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((ni + 127) << 23) as u32)
}

/// The integer `n` of a float rounded by adding [`EXP_MAGIC`] (`shifted = v + 1.5 · 2^23`,
/// |n| < 2^22), read from its low bits, not with `as i32` on `shifted − 1.5 · 2^23`, whose
/// NaN and range checks kept the loops over [`fast_exp`] scalar (`perf`: SwiGLU took 4% of a
/// 1.5B prefill). The same n, so the same values.
#[inline(always)]
fn integer_of(shifted: f32) -> i32 {
    shifted.to_bits() as i32 - EXP_MAGIC.to_bits() as i32
}

/// 1.5 · 2^23: added to a float of magnitude below 2^22, it rounds it to an integer.
const EXP_MAGIC: f32 = 12_582_912.0;

/// `out = x / rms(x) · w` per row of `w.len()` values.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let k = w.len();
    for (xr, or) in x.chunks_exact(k).zip(out.chunks_exact_mut(k)) {
        let ss = dot(xr, xr);
        let scale = 1.0 / (ss / k as f32 + eps).sqrt();
        for ((o, &v), &g) in or.iter_mut().zip(xr).zip(w) {
            *o = v * scale * g;
        }
    }
}

/// Dot product with 16 independent accumulators (vectorises without reassociation).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

/// The first `n` (≤ 16) values of `src`, zero-filled to 16 (a fixed-size load when full:
/// a variable-length copy would be a `memmove` call in the innermost loop).
#[inline(always)]
pub(super) fn load_block(src: &[f32], n: usize) -> [f32; 16] {
    if n == 16 {
        if let Some(Ok(full)) = src.get(..16).map(<[f32; 16]>::try_from) {
            return full;
        }
    }
    let mut r = [0f32; 16];
    for (d, &x) in r.iter_mut().zip(src).take(n) {
        *d = x;
    }
    r
}

/// Interleaved rotary embedding (pairs of adjacent values) of one head vector, with the
/// `cos`/`sin` rows of its position.
#[inline(always)]
pub fn rope_interleaved(v: &mut [f32], cos: &[f32], sin: &[f32]) {
    for ((pair, &c), &s) in v.chunks_exact_mut(2).zip(cos).zip(sin) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * c - b * s;
        pair[1] = a * s + b * c;
    }
}

/// Rotary embedding on halves ("NeoX" style: value `i` pairs with value `i + len / 2`) of
/// one head vector, with the `cos`/`sin` rows of its position.
#[inline(always)]
pub fn rope_halves(v: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = v.len() / 2;
    let (a, b) = v.split_at_mut(half);
    for (((x, y), &c), &s) in a.iter_mut().zip(b.iter_mut()).zip(cos).zip(sin) {
        let (p, q) = (*x, *y);
        *x = p * c - q * s;
        *y = p * s + q * c;
    }
}

/// `out[i] = silu(gate[i]) · up[i]` for rows laid out `[gate (ffn) | up (ffn)]`.
pub fn swiglu(gu: &[f32], ffn: usize, out: &mut [f32]) {
    split_rows(gu, ffn, out, swiglu_rows);
}

/// A prompt's rows split between the threads (one row would not pay for the dispatch), each
/// part to `rows`.
fn split_rows(gu: &[f32], ffn: usize, out: &mut [f32], rows_fn: fn(&[f32], usize, &mut [f32])) {
    let rows = out.len() / ffn.max(1);
    let pool = candle_core::utils::barrier_pool();
    let threads = pool.n_workers() + 1;
    if threads == 1 || rows < 2 * threads {
        return rows_fn(gu, ffn, out);
    }
    let per = rows.div_ceil(threads);
    let chunks: Vec<std::sync::Mutex<&mut [f32]>> = out
        .chunks_mut(per * ffn)
        .map(std::sync::Mutex::new)
        .collect();
    pool.execute(|tid| {
        if let Some(Ok(mut o)) = chunks.get(tid).map(|c| c.lock()) {
            let (r0, n) = (tid * per, o.len() / ffn);
            rows_fn(&gu[r0 * 2 * ffn..(r0 + n) * 2 * ffn], ffn, &mut o);
        }
    });
}

/// [`swiglu`] on some rows, compiled for the selected kernel's instruction set (the same
/// operations, so the same values, on every path).
fn swiglu_rows(gu: &[f32], ffn: usize, out: &mut [f32]) {
    match crate::Kernel::selected() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the selected kernel is one the CPU has; these two are offered only where it
        // reports AVX-512 F and BW.
        crate::Kernel::Avx512Vnni | crate::Kernel::Amx => unsafe {
            swiglu_rows_avx512(gu, ffn, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above; the AVX2 kernel is offered only where the CPU reports AVX2.
        crate::Kernel::Avx2 => unsafe { swiglu_rows_avx2(gu, ffn, out) },
        _ => swiglu_rows_plain(gu, ffn, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn swiglu_rows_avx512(gu: &[f32], ffn: usize, out: &mut [f32]) {
    swiglu_rows_plain(gu, ffn, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn swiglu_rows_avx2(gu: &[f32], ffn: usize, out: &mut [f32]) {
    swiglu_rows_plain(gu, ffn, out)
}

/// `out[16i + c] = silu(gu[32i + c]) · gu[32i + 16 + c]`: SwiGLU of a gate/up product whose
/// tiles pair 16 gate columns with the 16 up columns they go with (a matrix packed with its
/// gate and up rows interleaved 16 at a time): [`swiglu`] on rows of one tile each.
pub fn swiglu_interleaved(gu: &[f32], out: &mut [f32]) {
    split_rows(gu, PAIR_OUT, out, |gu, _, out| swiglu_pairs(gu, out));
}

/// Outputs of one gate/up tile pair.
const PAIR_OUT: usize = crate::NR;

/// [`swiglu_interleaved`] on one thread. The rows' length is a constant in the compiled
/// loops (with it passed at run time, the 1.5B's prefill was 5–8% slower).
pub(crate) fn swiglu_pairs(gu: &[f32], out: &mut [f32]) {
    match crate::Kernel::selected() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `swiglu_rows`.
        crate::Kernel::Avx512Vnni | crate::Kernel::Amx => unsafe { swiglu_pairs_avx512(gu, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `swiglu_rows`.
        crate::Kernel::Avx2 => unsafe { swiglu_pairs_avx2(gu, out) },
        _ => swiglu_rows_plain(gu, PAIR_OUT, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn swiglu_pairs_avx512(gu: &[f32], out: &mut [f32]) {
    swiglu_rows_plain(gu, PAIR_OUT, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn swiglu_pairs_avx2(gu: &[f32], out: &mut [f32]) {
    swiglu_rows_plain(gu, PAIR_OUT, out)
}

#[inline(always)]
fn swiglu_rows_plain(gu: &[f32], ffn: usize, out: &mut [f32]) {
    for (row, o) in gu.chunks_exact(2 * ffn).zip(out.chunks_exact_mut(ffn)) {
        let (g, u) = row.split_at(ffn);
        for ((ov, &gv), &uv) in o.iter_mut().zip(g).zip(u) {
            *ov = gv / (1.0 + fast_exp(-gv)) * uv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (fast_exp(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 2e-6 * want,
                "exp({x}) = {got}, want {want}"
            );
            x += 0.0137;
        }
        // The exponent read from the bits is the one `as i32` gives, over the range it is
        // used on.
        let mut v = -130.0f32;
        while v < 130.0 {
            let shifted = v + EXP_MAGIC;
            assert_eq!(integer_of(shifted), (shifted - EXP_MAGIC) as i32, "{v}");
            v += 0.0071;
        }
        assert!(fast_exp(-1e9) < 1e-37);
        assert!(fast_exp(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn norm_rope_and_swiglu() {
        let x = [1.0f32, -2.0, 3.0, 0.5];
        let w = [1.0f32, 2.0, 0.5, 1.0];
        let mut out = [0f32; 4];
        rms_norm(&x, &w, 1e-5, &mut out);
        let rms = ((1.0 + 4.0 + 9.0 + 0.25) / 4.0f32 + 1e-5).sqrt();
        for i in 0..4 {
            assert!((out[i] - x[i] / rms * w[i]).abs() < 1e-6);
        }
        let mut v = [1.0f32, 2.0, 3.0, 4.0];
        let (c, s) = ([0.0f32, 1.0], [1.0f32, 0.0]);
        rope_interleaved(&mut v, &c, &s);
        // On halves the same rotation pairs value i with value i + 2.
        let mut w = [1.0f32, 3.0, 0.0, 4.0];
        rope_halves(&mut w, &c, &s);
        let mut pairs = [1.0f32, 0.0, 3.0, 4.0];
        rope_interleaved(&mut pairs, &c, &s);
        assert_eq!(w, [pairs[0], pairs[2], pairs[1], pairs[3]]);
        assert_eq!(v, [-2.0, 1.0, 3.0, 4.0]);
        let gu = [1.0f32, -1.0, 2.0, 3.0];
        let mut act = [0f32; 2];
        swiglu(&gu, 2, &mut act);
        let silu = |g: f32| g / (1.0 + (-g).exp());
        assert!((act[0] - silu(1.0) * 2.0).abs() < 1e-6);
        assert!((act[1] - silu(-1.0) * 3.0).abs() < 1e-6);
    }
}
