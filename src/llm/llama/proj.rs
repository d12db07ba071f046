//! Linear layers on our int8 kernels: weights repacked at load, same-shaped matrices fused
//! into one (Q/K/V, gate/up), and optional dense copies for multi-row inputs.
use std::borrow::Cow;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Module, Result, Tensor};

use crate::llm::kernels::{self, PackedMatrix};

/// Which dense copy of the weights (if any) serves multi-row matmuls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DensePrefill {
    /// Quantized weights for every matmul (least memory).
    Off,
    /// f32 copies (fastest prefill, ~4 bytes per weight).
    F32,
    /// f16 copies (half the memory of f32, slower).
    F16,
}

/// A linear layer: weights repacked for our kernels ([`kernels`]), plus an optional dense copy
/// for multi-row inputs (candle's f32 gemm; slower than the int8 kernels on AVX2/AVX-512).
pub(super) struct Proj {
    packed: PackedMatrix,
    dense: Option<QMatMul>,
}

/// Rows at or above which a dense copy, when loaded, is used.
const DENSE_MIN_ROWS: usize = 12;

/// Repacks a GGUF weight matrix for [`kernels::matmul`]: Q8_0 (int8), Q5_0 (five-bit), Q4_0
/// and Q4_1 (nibbles) exactly, other types (the K-quants) requantised to int8 with one scale
/// per 256 k, their own super-block ([`PackedMatrix::from_f32_wide`]; per block of 32 when a
/// row is not a whole number of 256). One scale per 256 lets the kernels sum 256 products in
/// int32 before scaling, as llama.cpp's K-quant dot products do with their Q8_K activations.
/// (Q4_K as nibbles would need each block's `d · sc` rounded to f16, and that changed the
/// greedy text of one of the eight llama.cpp prompts of the Qwen tests.)
pub(crate) fn pack(w: &QTensor) -> Result<PackedMatrix> {
    let (n, k) = w.shape().dims2()?;
    let packed = match w.dtype() {
        GgmlDType::Q8_0 => PackedMatrix::from_q8_0(&w.data()?, n, k),
        GgmlDType::Q5_0 => PackedMatrix::from_q5_0(&w.data()?, n, k),
        GgmlDType::Q4_0 => PackedMatrix::from_q4_0(&w.data()?, n, k),
        GgmlDType::Q4_1 => PackedMatrix::from_q4_1(&w.data()?, n, k),
        _ => {
            let dense = w
                .dequantize(&Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            PackedMatrix::from_f32_wide(&dense, n, k)
        }
    };
    packed.map_err(|e| candle_core::Error::Msg(format!("packing weights: {e}")))
}

impl Proj {
    pub(super) fn new(w: &QTensor, dense: DensePrefill) -> Result<Self> {
        let dense = match dense {
            DensePrefill::Off => None,
            DensePrefill::F32 => Some(QMatMul::Tensor(w.dequantize(&Device::Cpu)?)),
            DensePrefill::F16 => Some(QMatMul::TensorF16(w.dequantize_f16(&Device::Cpu)?)),
        };
        Ok(Self {
            packed: pack(w)?,
            dense,
        })
    }

    pub(super) fn n(&self) -> usize {
        self.packed.n()
    }

    /// `out (m × n) = x (m × k) · wᵀ`.
    pub(super) fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) -> Result<()> {
        match &self.dense {
            Some(dense) if m >= DENSE_MIN_ROWS => {
                let xt = Tensor::from_slice(x, (m, self.packed.k()), &Device::Cpu)?;
                let y = dense.forward(&xt)?.flatten_all()?.to_vec1::<f32>()?;
                if y.len() != out.len() {
                    candle_core::bail!("dense matmul: {} outputs for {}", y.len(), out.len())
                }
                out.copy_from_slice(&y);
                Ok(())
            }
            _ => kernels::matmul(x, m, &self.packed, out)
                .map_err(|e| candle_core::Error::Msg(format!("packed matmul: {e}"))),
        }
    }
}

/// Concatenates the rows of same-type quantized matrices with the same input width: the
/// blocks of each row are independent, so the bytes can simply be appended.
fn fuse_rows(ws: &[QTensor]) -> Result<Option<QTensor>> {
    let Some(first) = ws.first() else {
        return Ok(None);
    };
    let (_, k) = first.shape().dims2()?;
    let dtype = first.dtype();
    let mut rows = 0;
    for w in ws {
        let (n, wk) = w.shape().dims2()?;
        if wk != k || w.dtype() != dtype {
            return Ok(None);
        }
        rows += n;
    }
    let mut bytes = Vec::new();
    for w in ws {
        bytes.extend_from_slice(&w.data()?);
    }
    let storage = QStorage::from_data(Cow::Owned(bytes), &Device::Cpu, dtype)?;
    Ok(Some(QTensor::new(storage, (rows, k))?))
}

pub(super) enum Projections {
    Fused(Proj),
    Separate(Vec<Proj>),
}

impl Projections {
    pub(super) fn new(ws: Vec<QTensor>, dense: DensePrefill) -> Result<Self> {
        match fuse_rows(&ws)? {
            Some(fused) => Ok(Self::Fused(Proj::new(&fused, dense)?)),
            None => Ok(Self::Separate(
                ws.iter()
                    .map(|w| Proj::new(w, dense))
                    .collect::<Result<_>>()?,
            )),
        }
    }

    /// All outputs side by side: `out` is `m × Σ n`.
    pub(super) fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) -> Result<()> {
        match self {
            Self::Fused(p) => p.forward(x, m, out),
            Self::Separate(ps) => {
                let total: usize = ps.iter().map(Proj::n).sum();
                let mut c0 = 0;
                for p in ps {
                    let n = p.n();
                    let mut part = vec![0f32; m * n];
                    p.forward(x, m, &mut part)?;
                    for r in 0..m {
                        out[r * total + c0..r * total + c0 + n]
                            .copy_from_slice(&part[r * n..(r + 1) * n]);
                    }
                    c0 += n;
                }
                Ok(())
            }
        }
    }
}
