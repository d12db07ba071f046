//! Five-bit weights ([`Format::Nib5`], Q5_0 exactly) widened to int8 for a prompt's matmul on
//! AVX2, where the five-bit kernel runs at half the int8 kernel's speed (its high bits are
//! spread to bytes in every product). The values are exact: `q − 16` fits int8, and each block
//! keeps its own scale, so a widened block is the bytes [`PackedMatrix::from_q5_0_as_int8`]
//! makes (int8 plus 128: the stored five bits plus 112).
//!
//! [`Format::Nib5`]: crate::Format::Nib5
use crate::pack::NIB_BYTES;
use crate::{Kernel, PackedMatrix, NR, QK, TILE_BYTES};

/// Stored five-bit value (`q + 16`) to int8 plus 128 (`q + 128`).
const OFFSET: u8 = 112;

/// Tile `t`, block `b` of the five-bit `w` as int8: `out` is the block's values, then its
/// `NR` f16 scales (the file's).
pub(super) fn widen_block(kernel: Kernel, w: &PackedMatrix, t: usize, b: usize, out: &mut [u8]) {
    if out.len() < TILE_BYTES + 2 * NR {
        return;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the AVX2 kernel is offered only where the CPU has AVX2 (`Kernel::available`),
        // and `matmul_with` checks that the kernel asked for is available.
        Kernel::Avx2 => unsafe { widen_block_avx2(w, t, b, out) },
        _ => {
            for i in 0..QK {
                let (g, j) = (i / 4, i % 4);
                for col in 0..NR {
                    out[g * NR * 4 + col * 4 + j] = (w.q(t, b, col, i) as u8).wrapping_add(OFFSET);
                }
            }
        }
    }
    out[TILE_BYTES..TILE_BYTES + 2 * NR].copy_from_slice(w.tile_scales_f16(t, b));
}

/// [`widen_block`]'s values with AVX2: the low nibbles of vector `v` are the int8 group `v`
/// (k `4v..`), its high nibbles the group `4 + v`, at the same byte positions; each takes its
/// high bit from its plane (`2v`, `2v + 1`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn widen_block_avx2(w: &PackedMatrix, t: usize, b: usize, out: &mut [u8]) {
    use std::arch::x86_64::*;
    let (nib, high) = (w.tile_nibbles(t, b), w.tile_high_bits(t, b));
    let offset = _mm256_set1_epi8(OFFSET as i8);
    for v in 0..NIB_BYTES / 64 {
        for h in 0..2 {
            // SAFETY: `nib` holds NIB_BYTES bytes; `64v + 32h + 32 ≤ NIB_BYTES`.
            let raw = unsafe { _mm256_loadu_si256(nib.as_ptr().add(64 * v + 32 * h).cast()) };
            let [lo, hi] = crate::avx2::five_bit_values(raw, high, v, h);
            for (g, q) in [(v, lo), (4 + v, hi)] {
                let at = g * NR * 4 + 32 * h;
                // SAFETY: `at + 32 ≤ TILE_BYTES ≤ out.len()` (checked by the caller).
                unsafe {
                    _mm256_storeu_si256(out.as_mut_ptr().add(at).cast(), _mm256_add_epi8(q, offset))
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::GgmlDType;

    use crate::tests::{candle_blocks, random};
    use crate::{Kernel, PackedMatrix};

    /// Every kernel's widening gives, byte for byte, the int8 matrix made from the same Q5_0
    /// blocks.
    #[test]
    fn widened_five_bit_blocks_are_the_int8_ones() {
        let (n, k) = (40, 96);
        let (bytes, _) = candle_blocks(&random(n * k, 31), n, k, GgmlDType::Q5_0);
        let five = PackedMatrix::from_q5_0(&bytes, n, k).unwrap();
        let int8 = PackedMatrix::from_q5_0_as_int8(&bytes, n, k).unwrap();
        for &kernel in Kernel::available() {
            let mut dst = PackedMatrix::wide_scratch();
            super::super::widen_tiles(kernel, &five, 0..five.n_tiles(), &mut dst);
            assert_eq!(dst.group(), 1);
            assert_eq!((dst.n(), dst.k()), (n, k));
            for c in 0..n {
                for i in 0..k {
                    assert_eq!(dst.value(c, i), int8.value(c, i), "{kernel:?} at {c}, {i}");
                }
            }
        }
    }
}
