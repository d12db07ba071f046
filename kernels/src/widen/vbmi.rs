//! The widening's per-value half with AVX-512 VBMI: a block's 16 possible values per column are
//! computed once (a 256-byte table, nibble-major), then every nibble is looked up, 64 at a
//! time (`vpermi2b` on the table's halves). The same operations and rounding as the other
//! paths, on 16 values per column instead of 32.
use std::arch::x86_64::*;
use std::sync::OnceLock;

use crate::pack::NIB_BYTES;
use crate::{NR, TILE_BYTES};

/// Whether this CPU has AVX-512 VBMI (with F and BW).
pub(super) fn available() -> bool {
    static VBMI: OnceLock<bool> = OnceLock::new();
    *VBMI.get_or_init(|| {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
    })
}

/// One block's int8 (+128) values into `out` (its `TILE_BYTES`): `round((q · d + m) · id)`
/// clamped to ±127, with `d`, `m` and `id` per column (lane).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(super) fn widen_block(nib: &[u8; NIB_BYTES], d: __m512, m: __m512, id: __m512, out: &mut [u8]) {
    if out.len() < TILE_BYTES {
        return;
    }
    let (lowest, flip) = (_mm512_set1_epi32(-127), _mm_set1_epi8(-128));
    // Row q of the table: the 16 columns' values for nibble q.
    let mut table = [0u8; 16 * NR];
    for q in 0..16 {
        let v = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(q as f32), d), m);
        let r = _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, id)), lowest);
        let row = _mm_xor_si128(_mm512_cvtsepi32_epi8(r), flip);
        // SAFETY: 16 bytes at 16q < 256.
        unsafe { _mm_storeu_si128(table.as_mut_ptr().add(16 * q).cast(), row) };
    }
    // SAFETY: four 64-byte loads within the 256-byte table.
    let t: [__m512i; 4] =
        std::array::from_fn(|i| unsafe { _mm512_loadu_si512(table.as_ptr().add(64 * i).cast()) });
    // Byte p of a vector is column p / 4: the table index is nibble · 16 + column.
    let columns: [u8; 64] = std::array::from_fn(|p| (p / 4) as u8);
    // SAFETY: 64 bytes.
    let col = unsafe { _mm512_loadu_si512(columns.as_ptr().cast()) };
    let top = _mm512_set1_epi8(0xf0u8 as i8);
    for v in 0..NIB_BYTES / 64 {
        // SAFETY: `nib` holds NIB_BYTES bytes.
        let x = unsafe { _mm512_loadu_si512(nib.as_ptr().add(64 * v).cast()) };
        // (a & 0xf0) | column: the low nibbles shifted up, and the high ones as they are.
        let low = _mm512_ternarylogic_epi32::<0xEA>(_mm512_slli_epi16(x, 4), top, col);
        let high = _mm512_ternarylogic_epi32::<0xEA>(x, top, col);
        // Low nibbles are k 4v.. (int8 group v), high ones the group 4 + v.
        for (g, idx) in [(v, low), (4 + v, high)] {
            let first = _mm512_permutex2var_epi8(t[0], idx, t[1]);
            let second = _mm512_permutex2var_epi8(t[2], idx, t[3]);
            let r = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), first, second);
            // SAFETY: 64 bytes at 64g ≤ TILE_BYTES − 64 (checked above).
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(64 * g).cast(), r) };
        }
    }
}
