//! Activation rows to int8, once per matmul ([`QuantizedRows`]): per the weights' scale group,
//! with an f32 scale and `-128 × sum` (which cancels the weights' +128 offset).
use std::sync::Mutex;

use super::{Aligned, KernelError, QuantizedRows, QK, WIDE};

impl QuantizedRows {
    /// Quantises `m` rows of `k` values (row-major `x`) with one scale per `group` blocks
    /// (the weights' [`crate::PackedMatrix::group`]).
    pub fn quantize(x: &[f32], m: usize, k: usize, group: usize) -> Result<Self, KernelError> {
        let mut out = Self::zeroed(x, m, k, group)?;
        let (q, d, corr) = (&mut out.q, &mut out.d, &mut out.corr);
        quantize_rows(x, k, group.max(1), q, d, corr);
        Ok(out)
    }

    /// [`Self::quantize`] with the rows split between the pool's threads (the same values):
    /// for a matmul whose threads then split the columns, so that neither waits while the
    /// other quantises alone.
    pub(crate) fn quantize_parallel(
        x: &[f32],
        m: usize,
        k: usize,
        group: usize,
    ) -> Result<Self, KernelError> {
        let pool = candle_core::utils::barrier_pool();
        let threads = pool.n_workers() + 1;
        if threads == 1 || m < 2 * threads {
            return Self::quantize(x, m, k, group);
        }
        let mut out = Self::zeroed(x, m, k, group)?;
        let group = group.max(1);
        let ng = k.div_ceil(QK * group);
        let nb = ng * group;
        let per = m.div_ceil(threads);
        let parts: Vec<Mutex<RowsPart>> = x
            .chunks(per * k)
            .zip(out.q.chunks_mut(per * nb * QK))
            .zip(out.d.chunks_mut(per * ng))
            .zip(out.corr.chunks_mut(per * ng))
            .map(|(((x, q), d), corr)| Mutex::new((x, q, d, corr)))
            .collect();
        pool.execute(|tid| {
            if let Some(Ok(mut part)) = parts.get(tid).map(|p| p.lock()) {
                let (x, ref mut q, ref mut d, ref mut corr) = *part;
                quantize_rows(x, k, group, q, d, corr);
            }
        });
        drop(parts);
        Ok(out)
    }

    /// Zeroed room for `m` rows of `k` (checked against `x`).
    fn zeroed(x: &[f32], m: usize, k: usize, group: usize) -> Result<Self, KernelError> {
        if x.len() != m * k {
            return Err(KernelError::Shape(format!(
                "{} activation values for {m} rows of {k}",
                x.len()
            )));
        }
        let ng = k.div_ceil(QK * group.max(1));
        let nb = ng * group.max(1);
        Ok(Self {
            q: Aligned::filled(m * nb * QK, 0),
            d: vec![0.0; m * ng],
            corr: vec![0; m * ng],
        })
    }
}

/// One thread's rows: its activations, and its share of `q`, `d` and `corr`.
type RowsPart<'a> = (&'a [f32], &'a mut [i8], &'a mut [f32], &'a mut [i32]);

/// The rows of `x` (`k` values each) into `q`, `d` and `corr` (as many rows), compiled for the
/// selected kernel's instruction set (the same operations, so the same values, on every path).
fn quantize_rows(x: &[f32], k: usize, group: usize, q: &mut [i8], d: &mut [f32], corr: &mut [i32]) {
    match crate::Kernel::selected() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the selected kernel is one the CPU has; these two are offered only where it
        // reports AVX-512 F and BW.
        crate::Kernel::Avx512Vnni | crate::Kernel::Amx => unsafe {
            quantize_rows_avx512(x, k, group, q, d, corr)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above; the AVX2 kernel is offered only where the CPU reports AVX2.
        crate::Kernel::Avx2 => unsafe { quantize_rows_avx2(x, k, group, q, d, corr) },
        _ => quantize_rows_plain(x, k, group, q, d, corr),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn quantize_rows_avx512(
    x: &[f32],
    k: usize,
    group: usize,
    q: &mut [i8],
    d: &mut [f32],
    corr: &mut [i32],
) {
    quantize_rows_plain(x, k, group, q, d, corr)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn quantize_rows_avx2(
    x: &[f32],
    k: usize,
    group: usize,
    q: &mut [i8],
    d: &mut [f32],
    corr: &mut [i32],
) {
    quantize_rows_plain(x, k, group, q, d, corr)
}

#[inline(always)]
fn quantize_rows_plain(
    x: &[f32],
    k: usize,
    group: usize,
    q: &mut [i8],
    d: &mut [f32],
    corr: &mut [i32],
) {
    let span = QK * group;
    let ng = k.div_ceil(span);
    let nb = ng * group;
    let mut padded = vec![0f32; span];
    for (r, row) in x.chunks_exact(k.max(1)).enumerate() {
        for s in 0..ng {
            let src = &row[s * span..((s + 1) * span).min(k)];
            let block = if src.len() == span {
                src
            } else {
                padded[..src.len()].copy_from_slice(src);
                padded[src.len()..].iter_mut().for_each(|v| *v = 0.0);
                &padded[..]
            };
            let at = (r * nb + s * group) * QK;
            let Some(dst) = q.get_mut(at..at + span) else {
                return;
            };
            let (scale, sum) = match group {
                1 => quantize_fixed::<QK>(block, dst),
                WIDE => quantize_fixed::<{ QK * WIDE }>(block, dst),
                _ => quantize_block(block, dst),
            };
            d[r * ng + s] = scale;
            corr[r * ng + s] = -128 * sum;
        }
    }
}

/// [`quantize_block`] on `N` values, a length the compiler knows (it vectorises).
#[inline(always)]
fn quantize_fixed<const N: usize>(x: &[f32], q: &mut [i8]) -> (f32, i32) {
    match (<&[f32; N]>::try_from(x), <&mut [i8; N]>::try_from(q)) {
        (Ok(x), Ok(q)) => quantize_block(x, q),
        (_, q) => match q {
            Ok(q) => quantize_block(x, q),
            Err(_) => (0.0, 0),
        },
    }
}

/// Quantises one block (or scale group) to int8 with scale `max|x| / 127`; returns the scale
/// and the sum of the quantised values.
#[inline(always)]
pub(crate) fn quantize_block(x: &[f32], q: &mut [i8]) -> (f32, i32) {
    // max |x| on the bit patterns (non-negative floats order like integers): vectorises.
    let amax_bits = x
        .iter()
        .map(|v| v.to_bits() & 0x7fff_ffff)
        .max()
        .unwrap_or(0);
    let amax = f32::from_bits(amax_bits);
    if amax.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !amax.is_finite() {
        // All zero (or not finite: the output is garbage either way, keep it finite).
        q.iter_mut().for_each(|v| *v = 0);
        return (0.0, 0);
    }
    let d = amax / 127.0;
    let id = 127.0 / amax;
    let mut sum = 0i32;
    for (qi, &v) in q.iter_mut().zip(x) {
        // Clamping before rounding is the same (the bounds are whole): the value is finite
        // here (a NaN or infinity in the block zeroed it above).
        let r = rounded_bits((v * id).clamp(-127.0, 127.0));
        *qi = r as i8;
        sum += r;
    }
    (d, sum)
}

/// `v` (|v| < 2^22, finite) rounded to the nearest integer, ties to even, as
/// [`round_small`] rounds it, read from the float's bits: a float-to-int conversion checks for
/// NaN and saturates value by value and kept the loop from vectorising (5% of a 1.5B
/// prefill).
#[inline(always)]
fn rounded_bits(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 × 2^23: the sum's low mantissa bits are the integer
    (v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round_small;

    #[test]
    fn rounding_from_the_bits_is_the_float_rounding() {
        let mut v = -130.0f32;
        while v <= 130.0 {
            let want = round_small(v).clamp(-127.0, 127.0) as i32;
            assert_eq!(rounded_bits(v.clamp(-127.0, 127.0)), want, "{v}");
            v += 0.03125 / 4.0;
        }
        for v in [-0.5f32, 0.5, 1.5, 2.5, -1.5, -2.5, 126.5, -126.5, 0.0, -0.0] {
            assert_eq!(rounded_bits(v), round_small(v) as i32, "{v}");
        }
    }
}
