//! Packing GGUF's block types as they are in the file: Q8_0 as int8, Q4_0 and Q4_1 as
//! nibbles, Q5_0 as five-bit tiles, and Q4_K as nibbles with each 32-value block's scale
//! and minimum.
use super::{f16_at, Format, PackedMatrix, HIGH_BYTES, NIB5_BLOCK_STRIDE, NIB_BYTES};
use crate::{KernelError, NR, QK};

/// GGUF block layouts we unpack directly.
const Q8_0_BYTES: usize = 34;
const Q4_0_BYTES: usize = 18;
const Q4_1_BYTES: usize = 20;
const Q5_0_BYTES: usize = 22;
/// A GGUF Q4_K super-block: f16 `d`, f16 `dmin`, 12 bytes of 6-bit scales and minimums, 128
/// bytes of nibbles, for 256 values.
const Q4_K_BYTES: usize = 144;
/// Values per Q4_K super-block.
const QK_K: usize = 256;

impl PackedMatrix {
    /// From GGUF Q8_0 blocks (f16 scale, 32 int8), exactly.
    pub fn from_q8_0(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q8_0_BYTES)?;
        let mut p = Self::zeroed(n, k, 1);
        for (i, blk) in bytes.chunks_exact(Q8_0_BYTES).enumerate() {
            let (c, b) = (i / p.nb, i % p.nb);
            let mut q = [0i8; QK];
            for (dst, &src) in q.iter_mut().zip(&blk[2..]) {
                *dst = src as i8;
            }
            p.set_block(c, b, &q, f16_at(blk, 0));
        }
        Ok(p)
    }

    /// From GGUF Q4_0 blocks (f16 scale, 16 bytes of nibbles, value = d · (nibble − 8)),
    /// exactly: nibbles as they are, minimum `−8d`.
    pub fn from_q4_0(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q4_0_BYTES)?;
        let mut p = Self::zeroed_nibbles(n, k, Format::Nib4);
        for (i, blk) in bytes.chunks_exact(Q4_0_BYTES).enumerate() {
            let d = f16_at(blk, 0);
            p.set_nib_block(i / p.nb, i % p.nb, &nibbles(&blk[2..]), d, -8.0 * d);
        }
        Ok(p)
    }

    /// From GGUF Q5_0 blocks (f16 scale d, 32 high bits, 16 bytes of low nibbles, value =
    /// d · (5-bit value − 16)), exactly, as [`Format::Nib5`] (decode reads 0.6875 bytes per
    /// weight instead of int8's 1.0625).
    pub fn from_q5_0(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q5_0_BYTES)?;
        let mut p = Self::zeroed_nibbles(n, k, Format::Nib5);
        for (i, blk) in bytes.chunks_exact(Q5_0_BYTES).enumerate() {
            p.copy_q5_0_block(i / p.nb, i % p.nb, blk);
        }
        Ok(p)
    }

    /// Column `c`, block `b` from one GGUF Q5_0 block, by whole bytes: exactly (the loader's
    /// hot loop: whole bytes, not value by value). In the tile layout, k `i` and `i + 16` share byte `(i / 4) · 64 + c · 4 +
    /// i % 4` (low and high nibble), which is GGUF's byte `qs[i]` as it is; the high bits of k
    /// `4v..4v + 4` (and `+ 16`) are 4 consecutive bits of mask `2v` (and `2v + 1`) from bit
    /// `c · 4`.
    fn copy_q5_0_block(&mut self, c: usize, b: usize, blk: &[u8]) {
        let (t, col) = (c / NR, c % NR);
        let base = self.block_base(t, b);
        let Some(dst) = self.data.get_mut(base..base + NIB5_BLOCK_STRIDE) else {
            return;
        };
        let (Some(d), Some(qh), Some(qs)) = (blk.get(0..2), blk.get(2..6), blk.get(6..22)) else {
            return;
        };
        let qh = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
        for v in 0..4 {
            let at = v * NR * 4 + col * 4;
            dst[at..at + 4].copy_from_slice(&qs[4 * v..4 * v + 4]);
            let shift = (col % 2) * 4;
            let low = ((qh >> (4 * v)) & 0xf) as u8;
            let high = ((qh >> (16 + 4 * v)) & 0xf) as u8;
            dst[NIB_BYTES + 2 * v * 8 + col / 2] |= low << shift;
            dst[NIB_BYTES + (2 * v + 1) * 8 + col / 2] |= high << shift;
        }
        let at = NIB_BYTES + HIGH_BYTES + 2 * col;
        dst[at..at + 2].copy_from_slice(d);
    }

    /// From GGUF Q5_0 blocks as [`Format::Int8`], exactly: the values −16…15 fit int8 with
    /// the same scale (the layout `bench kernels` compares [`Self::from_q5_0`] against).
    pub fn from_q5_0_as_int8(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q5_0_BYTES)?;
        let mut p = Self::zeroed(n, k, 1);
        for (i, blk) in bytes.chunks_exact(Q5_0_BYTES).enumerate() {
            let q: [i8; QK] = q5_values(blk).map(|v| v as i8 - 16);
            p.set_block(i / p.nb, i % p.nb, &q, f16_at(blk, 0));
        }
        Ok(p)
    }

    /// From GGUF Q4_K super-blocks, as [`Format::Nib4`]: the nibbles as they are, and for
    /// each block of 32 the scale `d · sc` and minimum `−dmin · m` rounded to f16 (a relative
    /// error of at most 2⁻¹², where the file's 6-bit scales are exact). Decode reads 0.625
    /// bytes per weight instead of wide int8's 1.008; prompt matmuls widen the nibbles to
    /// wide int8 a tile pair at a time (`widen`). `k` must be a multiple of 256.
    pub fn from_q4_k(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        if !k.is_multiple_of(QK_K) {
            return Err(KernelError::Shape(format!(
                "k = {k} is not a multiple of {QK_K} (Q4_K)"
            )));
        }
        if bytes.len() != n * (k / QK_K) * Q4_K_BYTES {
            return Err(KernelError::Shape(format!(
                "{} bytes for {n} × {k} Q4_K weights",
                bytes.len()
            )));
        }
        let mut p = Self::zeroed_nibbles(n, k, Format::Nib4);
        let per_row = k / QK_K;
        for (i, blk) in bytes.chunks_exact(Q4_K_BYTES).enumerate() {
            let (c, first) = (i / per_row, (i % per_row) * (QK_K / QK));
            let (d, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
            let scales = &blk[4..16];
            let qs = &blk[16..];
            for j in 0..QK_K / 64 {
                let chunk = &qs[32 * j..32 * j + 32];
                for half in 0..2 {
                    let (sc, m) = q4_k_scale_min(2 * j + half, scales);
                    let q: [u8; QK] = std::array::from_fn(|l| {
                        if half == 0 {
                            chunk[l] & 0x0f
                        } else {
                            chunk[l] >> 4
                        }
                    });
                    let b = first + 2 * j + half;
                    p.set_nib_block(c, b, &q, d * sc as f32, -(dmin * m as f32));
                }
            }
        }
        Ok(p)
    }

    /// From GGUF Q4_1 blocks (f16 scale d, f16 minimum m, 16 bytes of nibbles, value =
    /// d · nibble + m), exactly.
    pub fn from_q4_1(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q4_1_BYTES)?;
        let mut p = Self::zeroed_nibbles(n, k, Format::Nib4);
        for (i, blk) in bytes.chunks_exact(Q4_1_BYTES).enumerate() {
            let (d, m) = (f16_at(blk, 0), f16_at(blk, 2));
            p.set_nib_block(i / p.nb, i % p.nb, &nibbles(&blk[4..]), d, m);
        }
        Ok(p)
    }
}

/// The 32 five-bit values (0..=31) of a GGUF Q5_0 block: k `j` takes the low nibble of byte
/// `j` and bit `j` of the high bits, k `j + 16` the high nibble and bit `j + 16`.
fn q5_values(blk: &[u8]) -> [u8; QK] {
    let qh = u32::from_le_bytes([blk[2], blk[3], blk[4], blk[5]]);
    let qs = &blk[6..];
    let mut q = [0u8; QK];
    for j in 0..QK / 2 {
        q[j] = (qs[j] & 0x0f) | ((((qh >> j) & 1) as u8) << 4);
        q[j + QK / 2] = (qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
    }
    q
}

/// The 32 nibbles of a GGUF Q4 block's 16 bytes: low nibbles are k 0..16, high ones 16..32.
fn nibbles(qs: &[u8]) -> [u8; QK] {
    let mut q = [0u8; QK];
    for (j, &byte) in qs.iter().take(QK / 2).enumerate() {
        q[j] = byte & 0x0f;
        q[j + QK / 2] = byte >> 4;
    }
    q
}

/// Scale and minimum (6 bits each) of block `j` (0..8) of a Q4_K super-block, from its 12
/// bytes of packed scales (ggml's `get_scale_min_k4`).
fn q4_k_scale_min(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}
