//! Int8 scale groups: their stride (wide groups padded to whole cache lines), a group's bytes,
//! and the scratch matrix a prompt's matmul widens nibble tiles into.
use super::{Aligned, Format, PackedMatrix, NR, QK, TILE_BYTES, WIDE};
use crate::pack::BLOCK_STRIDE;

/// Bytes per int8 tile and scale group: the `group` blocks' values, then `NR` f16 scales; a
/// wide group is padded to whole cache lines, so every group's values start on one (the AMX
/// kernel loads them as 64-byte tile rows, several times slower across two lines).
pub(crate) const fn int8_group_stride(group: usize) -> usize {
    if group == 1 {
        BLOCK_STRIDE
    } else {
        (group * TILE_BYTES + 2 * NR).next_multiple_of(64)
    }
}

impl PackedMatrix {
    /// An empty int8 matrix, for [`Self::reshape_int8`] to size: the tiles a prompt matmul
    /// widens from nibbles (`widen`), a few at a time.
    pub(crate) fn wide_scratch() -> Self {
        Self {
            n: 0,
            k: 0,
            nb: 0,
            group: WIDE,
            format: Format::Int8,
            data: Aligned::filled(0, 0),
        }
    }

    /// Makes this an int8 `n × k` matrix with `group` blocks per scale (1, or [`WIDE`] when
    /// `k` is a multiple of 256) whose bytes are left to the caller to write, every one of
    /// them; the buffer is reused.
    pub(crate) fn reshape_int8(&mut self, n: usize, k: usize, group: usize) {
        self.n = n;
        self.k = k;
        self.nb = k.div_ceil(QK * group) * group;
        self.group = group;
        self.format = Format::Int8;
        let bytes = n.div_ceil(NR) * (self.nb / group) * int8_group_stride(group);
        self.data.resize(bytes, 128);
    }

    /// The values of tile `t`, scale group `s` of an int8 matrix (its `group` blocks, in order,
    /// `group · TILE_BYTES` bytes); empty past the end.
    #[inline(always)]
    pub(crate) fn int8_group(&self, t: usize, s: usize) -> &[u8] {
        let base = self.group_base(t, s);
        self.data
            .get(base..base + self.group * TILE_BYTES)
            .unwrap_or(&[])
    }

    /// The bytes of tile `t`, scale group `s` of an int8 matrix: the values of its `group`
    /// blocks, then the `NR` f16 scales.
    pub(crate) fn int8_group_mut(&mut self, t: usize, s: usize) -> &mut [u8] {
        let base = self.group_base(t, s);
        let end = (base + self.group * TILE_BYTES + 2 * NR).min(self.data.len());
        &mut self.data[base.min(end)..end]
    }
}
