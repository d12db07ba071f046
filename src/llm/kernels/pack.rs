//! Weights repacked into tiles for the microkernels.
use super::{quantize_block, KernelError, NR, QK, TILE_BYTES};

/// An `n × k` weight matrix (one row per output column) repacked for the microkernels.
///
/// Tile `t` (columns `t·NR..`), block `b` (k `b·QK..`) is `BLOCK_STRIDE` bytes at
/// `(t·nb + b)·BLOCK_STRIDE`: for each group `g` of 4 consecutive k, `NR` columns × 4 bytes,
/// each value an int8 plus 128 (so `vpdpbusd` can take the weights as its unsigned operand),
/// then the `NR` scales as f16 (as in GGUF): a matrix is one sequential stream (decode reads
/// 1.0625 bytes per weight, like Q8_0). Columns past `n` and k past `k` are zero.
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    n: usize,
    k: usize,
    nb: usize,
    data: Vec<u8>,
}

/// Bytes per tile block: the int8 values, then `NR` f16 scales.
pub(crate) const BLOCK_STRIDE: usize = TILE_BYTES + 2 * NR;

/// GGUF block layouts we unpack directly.
const Q8_0_BYTES: usize = 34;
const Q4_0_BYTES: usize = 18;

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

impl PackedMatrix {
    fn zeroed(n: usize, k: usize) -> Self {
        let nb = k.div_ceil(QK);
        let tiles = n.div_ceil(NR);
        Self {
            n,
            k,
            nb,
            // 128 = int8 zero; zero bytes = f16 zero scales.
            data: [[128u8; TILE_BYTES].as_slice(), &[0u8; 2 * NR]]
                .concat()
                .repeat(tiles * nb),
        }
    }

    /// Stores the 32 int8 values of column `c`, block `b`, and their scale.
    fn set_block(&mut self, c: usize, b: usize, q: &[i8; QK], d: f32) {
        let (t, col) = (c / NR, c % NR);
        let base = (t * self.nb + b) * BLOCK_STRIDE;
        for (i, &v) in q.iter().enumerate() {
            let (g, j) = (i / 4, i % 4);
            self.data[base + g * NR * 4 + col * 4 + j] = (v as u8) ^ 0x80;
        }
        let at = base + TILE_BYTES + 2 * col;
        self.data[at..at + 2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
    }

    fn check(n: usize, k: usize, len: usize, per_block: usize) -> Result<(), KernelError> {
        if !k.is_multiple_of(QK) {
            return Err(KernelError::Shape(format!(
                "k = {k} is not a multiple of {QK}"
            )));
        }
        if len != n * (k / QK) * per_block {
            return Err(KernelError::Shape(format!(
                "{len} bytes for {n} × {k} weights"
            )));
        }
        Ok(())
    }

    /// From row-major f32 weights (`n` rows of `k`), quantised to int8 per block of 32 as
    /// Q8_0 would. `k` needs not be a multiple of 32.
    pub fn from_f32(w: &[f32], n: usize, k: usize) -> Result<Self, KernelError> {
        if w.len() != n * k {
            return Err(KernelError::Shape(format!(
                "{} values for {n} × {k} weights",
                w.len()
            )));
        }
        let mut p = Self::zeroed(n, k);
        for c in 0..n {
            let row = &w[c * k..(c + 1) * k];
            for b in 0..p.nb {
                let src = &row[b * QK..((b + 1) * QK).min(k)];
                let mut block = [0f32; QK];
                block[..src.len()].copy_from_slice(src);
                let mut q = [0i8; QK];
                let (d, _) = quantize_block(&block, &mut q);
                p.set_block(c, b, &q, d);
            }
        }
        Ok(p)
    }

    /// From GGUF Q8_0 blocks (f16 scale, 32 int8), exactly.
    pub fn from_q8_0(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q8_0_BYTES)?;
        let mut p = Self::zeroed(n, k);
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

    /// From GGUF Q4_0 blocks (f16 scale, 16 bytes of nibbles, value = nibble − 8), exactly.
    pub fn from_q4_0(bytes: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        Self::check(n, k, bytes.len(), Q4_0_BYTES)?;
        let mut p = Self::zeroed(n, k);
        for (i, blk) in bytes.chunks_exact(Q4_0_BYTES).enumerate() {
            let (c, b) = (i / p.nb, i % p.nb);
            let mut q = [0i8; QK];
            for (j, &byte) in blk[2..].iter().enumerate() {
                q[j] = (byte & 0x0f) as i8 - 8;
                q[j + QK / 2] = (byte >> 4) as i8 - 8;
            }
            p.set_block(c, b, &q, f16_at(blk, 0));
        }
        Ok(p)
    }

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input width.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Blocks of `QK` per column.
    pub(crate) fn nb(&self) -> usize {
        self.nb
    }

    pub(crate) fn n_tiles(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// The `TILE_BYTES` of tile `t`, block `b`.
    #[inline(always)]
    pub(crate) fn tile_block(&self, t: usize, b: usize) -> &[u8; TILE_BYTES] {
        let base = (t * self.nb + b) * BLOCK_STRIDE;
        self.data[base..base + TILE_BYTES]
            .try_into()
            .unwrap_or(&[128; TILE_BYTES])
    }

    /// The `NR` scales (f16, little-endian) of tile `t`, block `b`.
    #[inline(always)]
    pub(crate) fn tile_scales_f16(&self, t: usize, b: usize) -> &[u8; 2 * NR] {
        let base = (t * self.nb + b) * BLOCK_STRIDE + TILE_BYTES;
        self.data[base..base + 2 * NR]
            .try_into()
            .unwrap_or(&[0; 2 * NR])
    }

    /// The `NR` scales of tile `t`, block `b`, as f32.
    #[inline(always)]
    pub(crate) fn tile_scales(&self, t: usize, b: usize) -> [f32; NR] {
        let raw = self.tile_scales_f16(t, b);
        std::array::from_fn(|c| f16_at(raw, 2 * c))
    }

    /// The int8 value of column `c` at `kk` and its block's scale (for tests).
    pub fn value(&self, c: usize, kk: usize) -> (i8, f32) {
        let (t, col, b, i) = (c / NR, c % NR, kk / QK, kk % QK);
        let q = (self.tile_block(t, b)[(i / 4) * NR * 4 + col * 4 + i % 4] ^ 0x80) as i8;
        (q, self.tile_scales(t, b)[col])
    }

    /// Bytes held.
    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }
}
