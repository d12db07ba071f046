//! A packed matrix as parts to store and read back (the cache of packed weights beside a
//! model): a header of five numbers and the bytes, checked for consistency when read.
use super::{int8_group_stride, Format, PackedMatrix, NR, QK, WIDE};
use crate::{Aligned, KernelError};

impl PackedMatrix {
    /// What [`Self::from_parts`] needs besides the bytes: `[format, group, n, k, nb]`.
    pub fn header(&self) -> [u64; 5] {
        let format = match self.format {
            Format::Int8 => 0,
            Format::Nib4 => 1,
            Format::Nib5 => 2,
        };
        [
            format,
            self.group as u64,
            self.n as u64,
            self.k as u64,
            self.nb as u64,
        ]
    }

    /// The packed bytes, as [`Self::from_parts`] takes them back.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// A matrix from its [`Self::header`] and [`Self::bytes`] (a cache of packed weights),
    /// checked for consistency.
    pub fn from_parts(header: [u64; 5], data: Aligned<u8>) -> Result<Self, KernelError> {
        let [format, group, n, k, nb] = header.map(|v| v as usize);
        let format = match format {
            0 => Format::Int8,
            1 => Format::Nib4,
            2 => Format::Nib5,
            other => return Err(KernelError::Unsupported(format!("packed format {other}"))),
        };
        let group_ok = group == 1 || (group == WIDE && format == Format::Int8);
        let stride = match format {
            Format::Int8 => int8_group_stride(group),
            _ => format.block_stride(),
        };
        if !group_ok || nb != k.div_ceil(QK * group) * group {
            return Err(KernelError::Shape(format!(
                "packed header: {n} × {k}, {nb} blocks in groups of {group}"
            )));
        }
        if data.len() != n.div_ceil(NR) * (nb / group) * stride {
            return Err(KernelError::Shape(format!(
                "{} packed bytes for {n} × {k}",
                data.len()
            )));
        }
        Ok(Self {
            n,
            k,
            nb,
            group,
            format,
            data,
        })
    }
}
