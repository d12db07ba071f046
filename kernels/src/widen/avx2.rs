//! [`super::widen_group`] with AVX2: the same values, operations and rounding, eight columns
//! at a time (each 64-byte nibble vector holds columns 0..8 in its first 32 bytes).
use std::arch::x86_64::*;

use crate::pack::NIB_BYTES;
use crate::{PackedMatrix, NR, TILE_BYTES, WIDE};

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn widen_group(w: &PackedMatrix, t: usize, s: usize, out: &mut [u8]) {
    if out.len() < WIDE * TILE_BYTES + 2 * NR {
        return;
    }
    let low = _mm256_set1_epi8(0x0f);
    let byte = _mm256_set1_epi32(0xff);
    let sign = _mm256_set1_ps(-0.0);
    let blocks = s * WIDE..(s + 1) * WIDE;
    // Per block and half (columns 8h..8h + 8): scales and minimums, lane = column.
    let mut d = [[_mm256_setzero_ps(); 2]; WIDE];
    let mut m = [[_mm256_setzero_ps(); 2]; WIDE];
    let mut amax = [_mm256_setzero_ps(); 2];
    for (j, b) in blocks.clone().enumerate() {
        let (sc, mn) = (w.tile_scales_f16(t, b), w.tile_mins_f16(t, b));
        let nib = w.tile_nibbles(t, b);
        for h in 0..2 {
            // SAFETY: `sc` and `mn` hold 16 f16 (32 bytes); 16 bytes from 16h.
            d[j][h] = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(sc.as_ptr().add(16 * h).cast()) });
            m[j][h] = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(mn.as_ptr().add(16 * h).cast()) });
            let (mut lo, mut hi) = (_mm256_set1_epi8(-1), _mm256_setzero_si256());
            for v in 0..NIB_BYTES / 64 {
                // SAFETY: `nib` holds NIB_BYTES bytes.
                let x = unsafe { _mm256_loadu_si256(nib.as_ptr().add(64 * v + 32 * h).cast()) };
                let a = _mm256_and_si256(x, low);
                let u = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
                lo = _mm256_min_epu8(lo, _mm256_min_epu8(a, u));
                hi = _mm256_max_epu8(hi, _mm256_max_epu8(a, u));
            }
            lo = _mm256_min_epu8(lo, _mm256_srli_epi32(lo, 8));
            lo = _mm256_min_epu8(lo, _mm256_srli_epi32(lo, 16));
            hi = _mm256_max_epu8(hi, _mm256_srli_epi32(hi, 8));
            hi = _mm256_max_epu8(hi, _mm256_srli_epi32(hi, 16));
            let qlo = _mm256_cvtepi32_ps(_mm256_and_si256(lo, byte));
            let qhi = _mm256_cvtepi32_ps(_mm256_and_si256(hi, byte));
            let vlo = _mm256_add_ps(_mm256_mul_ps(qlo, d[j][h]), m[j][h]);
            let vhi = _mm256_add_ps(_mm256_mul_ps(qhi, d[j][h]), m[j][h]);
            let big = _mm256_max_ps(_mm256_andnot_ps(sign, vlo), _mm256_andnot_ps(sign, vhi));
            amax[h] = _mm256_max_ps(amax[h], big);
        }
    }
    // The scales rounded to f16 first, and their inverses (0 where 0 or not finite).
    let mut halves = [_mm_setzero_si128(); 2];
    let mut id = [_mm256_setzero_ps(); 2];
    for h in 0..2 {
        let scale = _mm256_div_ps(amax[h], _mm256_set1_ps(127.0));
        halves[h] = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(scale);
        let df = _mm256_cvtph_ps(halves[h]);
        let usable = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GT_OQ>(df, _mm256_setzero_ps()),
            _mm256_cmp_ps::<_CMP_LT_OQ>(df, _mm256_set1_ps(f32::INFINITY)),
        );
        id[h] = _mm256_and_ps(usable, _mm256_div_ps(_mm256_set1_ps(1.0), df));
    }
    // Lane i of 8 bytes `c` (of 32) belongs to column 2c + i/4 of the half.
    let spread: [__m256i; 4] = [
        _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1),
        _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3),
        _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5),
        _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7),
    ];
    let lowest = _mm256_set1_epi32(-127);
    let flip = _mm_set1_epi8(-128);
    // After the two saturating packs, dwords 0 and 4 hold the first 8 values, 1 and 5 the next.
    let join = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for j in 0..WIDE {
        let nib = w.tile_nibbles(t, blocks.start + j);
        for h in 0..2 {
            let mut ds = [_mm256_setzero_ps(); 4];
            let mut ms = [_mm256_setzero_ps(); 4];
            let mut ids = [_mm256_setzero_ps(); 4];
            for c in 0..4 {
                ds[c] = _mm256_permutevar8x32_ps(d[j][h], spread[c]);
                ms[c] = _mm256_permutevar8x32_ps(m[j][h], spread[c]);
                ids[c] = _mm256_permutevar8x32_ps(id[h], spread[c]);
            }
            for v in 0..NIB_BYTES / 64 {
                // SAFETY: `nib` holds NIB_BYTES bytes.
                let x = unsafe { _mm256_loadu_si256(nib.as_ptr().add(64 * v + 32 * h).cast()) };
                let nibbles = [
                    _mm256_and_si256(x, low),
                    _mm256_and_si256(_mm256_srli_epi16(x, 4), low),
                ];
                for (g, q) in nibbles.into_iter().enumerate() {
                    // Low nibbles are k 4v.. (int8 group v), high ones the group 4 + v.
                    let at = j * TILE_BYTES + (4 * g + v) * NR * 4 + 32 * h;
                    let parts = [_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q)];
                    for (p, bytes) in parts.into_iter().enumerate() {
                        let mut r = [_mm256_setzero_si256(); 2];
                        for (e, r) in r.iter_mut().enumerate() {
                            let c = 2 * p + e;
                            let eight = if e == 0 {
                                bytes
                            } else {
                                _mm_srli_si128::<8>(bytes)
                            };
                            let qf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(eight));
                            let value = _mm256_add_ps(_mm256_mul_ps(qf, ds[c]), ms[c]);
                            let rounded = _mm256_cvtps_epi32(_mm256_mul_ps(value, ids[c]));
                            *r = _mm256_max_epi32(rounded, lowest);
                        }
                        let words = _mm256_packs_epi32(r[0], r[1]);
                        let bytes16 = _mm256_packs_epi16(words, words);
                        let joined = _mm256_permutevar8x32_epi32(bytes16, join);
                        let packed = _mm_xor_si128(_mm256_castsi256_si128(joined), flip);
                        // SAFETY: `at + 16p + 16 ≤ WIDE · TILE_BYTES ≤ out.len()` (checked).
                        unsafe {
                            _mm_storeu_si128(out.as_mut_ptr().add(at + 16 * p).cast(), packed)
                        };
                    }
                }
            }
        }
    }
    let at = WIDE * TILE_BYTES;
    for (h, half) in halves.into_iter().enumerate() {
        // SAFETY: `at + 32 ≤ out.len()` (checked above).
        unsafe { _mm_storeu_si128(out.as_mut_ptr().add(at + 16 * h).cast(), half) };
    }
}
