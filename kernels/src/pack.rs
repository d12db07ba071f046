//! Weights repacked into tiles for the microkernels.
use super::{quantize_block, Aligned, KernelError, NR, QK, TILE_BYTES};

mod from_gguf;
mod groups;
mod parts;

pub(crate) use groups::int8_group_stride;

/// How a [`PackedMatrix`] stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Weight = `d · q`, `q` int8 (from Q8_0, or any type requantised).
    Int8,
    /// Weight = `d · q + m`, `q` a nibble 0..=15 (Q4_1 exactly; Q4_0 with `m = −8d`): decode
    /// reads 0.625 bytes per weight instead of 1.0625.
    Nib4,
    /// Weight = `d · (q − 16)`, `q` five bits 0..=31 (Q5_0 exactly): the [`Format::Nib4`]
    /// nibbles plus one plane of high bits, 0.6875 bytes per weight as in the file.
    Nib5,
}

/// An `n × k` weight matrix (one row per output column) repacked for the microkernels.
///
/// Tile `t` (columns `t·NR..`), block `b` (k `b·QK..`) is one stride of bytes at
/// `(t·nb + b)·stride`, so a matrix is one sequential stream:
/// - [`Format::Int8`]: for each group `g` of 4 consecutive k, `NR` columns × 4 bytes, each
///   value an int8 plus 128 (so `vpdpbusd` can take the weights as its unsigned operand),
///   then the `NR` scales as f16 (as in GGUF).
/// - [`Format::Nib4`]: four 64-byte vectors; byte `col·4 + j` of vector `v` holds k
///   `4v + j` in its low nibble and k `16 + 4v + j` in its high one (a mask and a shift give
///   the operands of two `vpdpbusd`); then `NR` f16 scales and `NR` f16 minimums.
/// - [`Format::Nib5`]: the same four vectors of nibbles; then eight little-endian u64 of
///   high bits, `2v` for the low nibbles of vector `v` and `2v + 1` for its high ones (bit
///   `i` belongs to byte `i`: an AVX-512 mask register as it is); then `NR` f16 scales. The
///   minimum is `−16d`.
///
/// [`Format::Int8`] may share one scale among [`WIDE`] consecutive blocks (256 k, see
/// [`PackedMatrix::from_f32_wide`]): a scale group is then its blocks' values one after the
/// other, then the `NR` scales, and `nb` is a whole number of groups.
///
/// Columns past `n` and k past `k` are zero.
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    n: usize,
    k: usize,
    nb: usize,
    /// Blocks per scale: 1, or [`WIDE`].
    group: usize,
    format: Format,
    data: Aligned<u8>,
}

/// Blocks of [`QK`] per scale in the wide int8 layout: 256 k, the super-block of GGUF's
/// K-quants (and of llama.cpp's Q8_K activations).
pub const WIDE: usize = 8;

impl Format {
    /// Bytes of one tile block (`NR` columns × `QK` k) in this format.
    #[inline(always)]
    const fn block_stride(self) -> usize {
        match self {
            Format::Int8 => BLOCK_STRIDE,
            Format::Nib4 => NIB_BLOCK_STRIDE,
            Format::Nib5 => NIB5_BLOCK_STRIDE,
        }
    }
}

/// How far ahead of the block a few-row kernel reads it prefetches
/// ([`PackedMatrix::prefetch_ahead`]): 4 kB, about 13 nibble blocks. A 1.5B decode step: 17.0–20.7
/// → 19.7–22.0 tok/s (docs/benchmarks/2026-12-07-decode-prefetch.md).
pub(crate) const PREFETCH_AHEAD: usize = 4096;
/// Bytes per int8 tile block: the values, then `NR` f16 scales.
pub(crate) const BLOCK_STRIDE: usize = TILE_BYTES + 2 * NR;
/// Bytes of the nibbles of one tile block.
pub(crate) const NIB_BYTES: usize = TILE_BYTES / 2;
/// Bytes per nibble tile block: the nibbles, `NR` f16 scales, `NR` f16 minimums.
pub(crate) const NIB_BLOCK_STRIDE: usize = NIB_BYTES + 4 * NR;
/// Bytes of the high bits of one five-bit tile block.
pub(crate) const HIGH_BYTES: usize = TILE_BYTES / 8;
/// Bytes per five-bit tile block: the nibbles, the high bits, `NR` f16 scales.
pub(crate) const NIB5_BLOCK_STRIDE: usize = NIB_BYTES + HIGH_BYTES + 2 * NR;

#[inline]
fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

impl PackedMatrix {
    /// An int8 matrix, all zero, with `group` blocks per scale.
    fn zeroed(n: usize, k: usize, group: usize) -> Self {
        let nb = k.div_ceil(QK * group) * group;
        let tiles = n.div_ceil(NR);
        Self {
            n,
            k,
            nb,
            group,
            format: Format::Int8,
            // 128 = int8 zero (the padding too, as `reshape_int8` fills it); zero bytes = f16
            // zero scales. Written in place: a matrix is never held twice.
            data: {
                let stride = int8_group_stride(group);
                let mut data = Aligned::filled(tiles * nb / group * stride, 128u8);
                for g in data.chunks_exact_mut(stride) {
                    g[group * TILE_BYTES..group * TILE_BYTES + 2 * NR].fill(0);
                }
                data
            },
        }
    }

    /// A matrix of a nibble format, all zero (zero nibbles, scales and minimums).
    fn zeroed_nibbles(n: usize, k: usize, format: Format) -> Self {
        let nb = k.div_ceil(QK);
        Self {
            n,
            k,
            nb,
            group: 1,
            format,
            data: Aligned::filled(n.div_ceil(NR) * nb * format.block_stride(), 0),
        }
    }

    /// Asks the CPU to bring into cache the bytes [`PREFETCH_AHEAD`] past the start of tile
    /// `t`, block `b` (as many as a block holds): a decode step reads each weight once, from
    /// memory, in short runs (a tile pair at a time, a few kB each), too short for the
    /// hardware's own prefetcher to get ahead.
    #[inline(always)]
    pub(crate) fn prefetch_ahead(&self, t: usize, b: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let bytes = if self.group == 1 {
                self.format.block_stride()
            } else {
                TILE_BYTES
            };
            let at = self
                .data
                .as_ptr()
                .wrapping_add(self.block_base(t, b) + PREFETCH_AHEAD);
            for line in (0..bytes).step_by(64) {
                // SAFETY: a prefetch is a hint: it reads nothing the program sees and does not
                // fault, whatever the address (past the end of the data included).
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        at.wrapping_add(line).cast(),
                    )
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (t, b);
    }

    /// Offset of tile `t`, block `b`.
    #[inline(always)]
    fn block_base(&self, t: usize, b: usize) -> usize {
        if self.group == 1 {
            (t * self.nb + b) * self.format.block_stride()
        } else {
            let (s, within) = (b / self.group, b % self.group);
            self.group_base(t, s) + within * TILE_BYTES
        }
    }

    /// Offset of tile `t`, scale group `s`.
    #[inline(always)]
    fn group_base(&self, t: usize, s: usize) -> usize {
        (t * (self.nb / self.group) + s) * int8_group_stride(self.group)
    }

    /// Stores the 32 nibbles of column `c`, block `b`, with their scale and minimum.
    fn set_nib_block(&mut self, c: usize, b: usize, q: &[u8; QK], d: f32, m: f32) {
        let (t, col) = (c / NR, c % NR);
        let base = self.block_base(t, b);
        for (i, &v) in q.iter().enumerate() {
            let (g, j) = (i / 4, i % 4);
            let at = base + (g % 4) * NR * 4 + col * 4 + j;
            let shift = if g < 4 { 0 } else { 4 };
            self.data[at] |= (v & 0x0f) << shift;
        }
        let at = base + NIB_BYTES + 2 * col;
        self.data[at..at + 2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
        let at = base + NIB_BYTES + 2 * NR + 2 * col;
        self.data[at..at + 2].copy_from_slice(&half::f16::from_f32(m).to_le_bytes());
    }

    /// Stores the 32 int8 values of column `c`, block `b`, and their scale.
    fn set_block(&mut self, c: usize, b: usize, q: &[i8; QK], d: f32) {
        let (t, col) = (c / NR, c % NR);
        let base = self.block_base(t, b);
        for (i, &v) in q.iter().enumerate() {
            let (g, j) = (i / 4, i % 4);
            self.data[base + g * NR * 4 + col * 4 + j] = (v as u8) ^ 0x80;
        }
        let at = self.scales_base(t, b / self.group) + 2 * col;
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
        let mut p = Self::zeroed(n, k, 1);
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

    /// From row-major f32 weights, quantised to int8 with one scale per [`WIDE`] blocks (256
    /// k) when `k` is a multiple of 256 (otherwise as [`Self::from_f32`]). The kernels then
    /// sum 256 products in int32 before a scale, instead of 32: the prompt's matmuls spend
    /// their time in `vpdpbusd`, not in rescaling. The scale is rounded to f16 before the
    /// values are, so the stored `d · q` is what was rounded.
    pub fn from_f32_wide(w: &[f32], n: usize, k: usize) -> Result<Self, KernelError> {
        if w.len() != n * k {
            return Err(KernelError::Shape(format!(
                "{} values for {n} × {k} weights",
                w.len()
            )));
        }
        let group = if k.is_multiple_of(QK * WIDE) { WIDE } else { 1 };
        let mut p = Self::zeroed(n, k, group);
        for c in 0..n {
            p.set_row(c, &w[c * k..(c + 1) * k]);
        }
        Ok(p)
    }

    /// [`Self::from_f32_wide`] from rows made `chunk` at a time by `rows(first, count)`, so
    /// a large matrix (an output head of 150k rows) is never whole in f32 at once.
    pub fn from_f32_wide_chunks<E: From<KernelError>>(
        n: usize,
        k: usize,
        chunk: usize,
        mut rows: impl FnMut(usize, usize) -> Result<Vec<f32>, E>,
    ) -> Result<Self, E> {
        let group = if k.is_multiple_of(QK * WIDE) { WIDE } else { 1 };
        let mut p = Self::zeroed(n, k, group);
        let mut c0 = 0;
        while c0 < n {
            let count = chunk.max(1).min(n - c0);
            let w = rows(c0, count)?;
            if w.len() != count * k {
                return Err(KernelError::Shape(format!(
                    "{} values for {count} rows of {k}",
                    w.len()
                ))
                .into());
            }
            for (i, row) in w.chunks_exact(k).enumerate() {
                p.set_row(c0 + i, row);
            }
            c0 += count;
        }
        Ok(p)
    }

    /// Quantises row `c` (`k` values) per scale group and stores it.
    fn set_row(&mut self, c: usize, row: &[f32]) {
        let span = QK * self.group;
        let mut values = vec![0f32; span];
        let mut q = vec![0i8; span];
        for s in 0..self.nb / self.group {
            let src = &row[(s * span).min(row.len())..((s + 1) * span).min(row.len())];
            values[..src.len()].copy_from_slice(src);
            values[src.len()..].iter_mut().for_each(|v| *v = 0.0);
            let d = if self.group == 1 {
                quantize_block(&values, &mut q).0
            } else {
                // The scale rounded to f16 first: the stored `d · q` is what was rounded.
                let amax = values.iter().fold(0f32, |m, v| m.max(v.abs()));
                let d = half::f16::from_f32(amax / 127.0).to_f32();
                let id = if d > 0.0 && d.is_finite() {
                    1.0 / d
                } else {
                    0.0
                };
                for (qi, &v) in q.iter_mut().zip(&values) {
                    *qi = super::round_small(v * id).clamp(-127.0, 127.0) as i8;
                }
                d
            };
            for (j, block) in q.chunks_exact(QK).enumerate() {
                let block: &[i8; QK] = block.try_into().unwrap_or(&[0; QK]);
                self.set_block(c, s * self.group + j, block, d);
            }
        }
    }

    /// How the values are stored.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input width.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Blocks of `QK` per column (a whole number of scale groups).
    pub(crate) fn nb(&self) -> usize {
        self.nb
    }

    /// Blocks per scale: 1, or [`WIDE`].
    pub fn group(&self) -> usize {
        self.group
    }

    pub(crate) fn n_tiles(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// The `TILE_BYTES` of tile `t`, block `b` ([`Format::Int8`]).
    #[inline(always)]
    pub(crate) fn tile_block(&self, t: usize, b: usize) -> &[u8; TILE_BYTES] {
        let base = self.block_base(t, b);
        self.data
            .get(base..base + TILE_BYTES)
            .and_then(|s| s.try_into().ok())
            .unwrap_or(&[128; TILE_BYTES])
    }

    /// The `NIB_BYTES` of tile `t`, block `b` ([`Format::Nib4`]).
    #[inline(always)]
    pub(crate) fn tile_nibbles(&self, t: usize, b: usize) -> &[u8; NIB_BYTES] {
        let base = self.block_base(t, b);
        self.data
            .get(base..base + NIB_BYTES)
            .and_then(|s| s.try_into().ok())
            .unwrap_or(&[0; NIB_BYTES])
    }

    /// The `HIGH_BYTES` of high bits of tile `t`, block `b` ([`Format::Nib5`]).
    #[inline(always)]
    pub(crate) fn tile_high_bits(&self, t: usize, b: usize) -> &[u8; HIGH_BYTES] {
        let base = self.block_base(t, b) + NIB_BYTES;
        self.data
            .get(base..base + HIGH_BYTES)
            .and_then(|s| s.try_into().ok())
            .unwrap_or(&[0; HIGH_BYTES])
    }

    /// Offset of the scales of tile `t`, scale group `s`.
    #[inline(always)]
    fn scales_base(&self, t: usize, s: usize) -> usize {
        match self.format {
            Format::Int8 => self.group_base(t, s) + self.group * TILE_BYTES,
            Format::Nib4 => self.block_base(t, s) + NIB_BYTES,
            Format::Nib5 => self.block_base(t, s) + NIB_BYTES + HIGH_BYTES,
        }
    }

    /// The `NR` scales (f16, little-endian) of tile `t`, scale group `s` (the block `s` when
    /// every block has its own).
    #[inline(always)]
    pub(crate) fn tile_scales_f16(&self, t: usize, s: usize) -> &[u8; 2 * NR] {
        let base = self.scales_base(t, s);
        self.data
            .get(base..base + 2 * NR)
            .and_then(|s| s.try_into().ok())
            .unwrap_or(&[0; 2 * NR])
    }

    /// The `NR` minimums (f16, little-endian) of tile `t`, block `b` ([`Format::Nib4`]).
    #[inline(always)]
    pub(crate) fn tile_mins_f16(&self, t: usize, b: usize) -> &[u8; 2 * NR] {
        let base = self.block_base(t, b) + NIB_BYTES + 2 * NR;
        self.data
            .get(base..base + 2 * NR)
            .and_then(|s| s.try_into().ok())
            .unwrap_or(&[0; 2 * NR])
    }

    /// The `NR` scales of tile `t`, scale group `s`, as f32.
    #[inline(always)]
    pub(crate) fn tile_scales(&self, t: usize, s: usize) -> [f32; NR] {
        let raw = self.tile_scales_f16(t, s);
        std::array::from_fn(|c| f16_at(raw, 2 * c))
    }

    /// The `NR` minimums of tile `t`, block `b`, as f32 (zero for [`Format::Int8`]).
    #[inline(always)]
    pub(crate) fn tile_mins(&self, t: usize, b: usize) -> [f32; NR] {
        match self.format {
            Format::Int8 => [0.0; NR],
            Format::Nib4 => {
                let raw = self.tile_mins_f16(t, b);
                std::array::from_fn(|c| f16_at(raw, 2 * c))
            }
            Format::Nib5 => self.tile_scales(t, b).map(|d| -16.0 * d),
        }
    }

    /// Column `c` at `kk`: the stored integer `q`, its block's scale `d` and minimum `m`
    /// (the weight is `d · q + m`; for tests and the portable kernel).
    #[inline(always)]
    pub fn value(&self, c: usize, kk: usize) -> (i32, f32, f32) {
        let (t, col, b, i) = (c / NR, c % NR, kk / QK, kk % QK);
        let s = b / self.group;
        let (d, m) = (self.tile_scales(t, s)[col], self.tile_mins(t, s)[col]);
        (self.q(t, b, col, i), d, m)
    }

    /// The stored integer of tile `t`, block `b`, column `col`, k `i` within the block.
    #[inline(always)]
    pub(crate) fn q(&self, t: usize, b: usize, col: usize, i: usize) -> i32 {
        let (g, j) = (i / 4, i % 4);
        match self.format {
            Format::Int8 => (self.tile_block(t, b)[g * NR * 4 + col * 4 + j] ^ 0x80) as i8 as i32,
            Format::Nib4 => {
                let byte = self.tile_nibbles(t, b)[(g % 4) * NR * 4 + col * 4 + j];
                (if g < 4 { byte & 0x0f } else { byte >> 4 }) as i32
            }
            Format::Nib5 => {
                let in_vector = col * 4 + j;
                let byte = self.tile_nibbles(t, b)[(g % 4) * NR * 4 + in_vector];
                let low = if g < 4 { byte & 0x0f } else { byte >> 4 };
                let word = ((g % 4) * 2 + g / 4) * 8;
                let high = (self.tile_high_bits(t, b)[word + in_vector / 8] >> (in_vector % 8)) & 1;
                (low | (high << 4)) as i32
            }
        }
    }

    /// Bytes held.
    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }
}
