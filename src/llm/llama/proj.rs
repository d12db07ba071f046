//! Linear layers on our int8 kernels: weights repacked at load, same-shaped matrices fused
//! into one (Q/K/V, gate/up).
use std::borrow::Cow;

use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Result};

use crate::llm::kernels::{self, PackedMatrix};

/// A linear layer: weights repacked for our kernels ([`kernels`]). (Candle's dense f32 gemm
/// for prompts was measured slower on every host: docs/benchmarks/2026-12-07-avx2-host.md.)
pub(super) struct Proj {
    packed: PackedMatrix,
}

/// Repacks a GGUF weight matrix for [`kernels::matmul`]: Q8_0 (int8), Q5_0 (five-bit), Q4_0
/// and Q4_1 (nibbles) exactly; Q4_K as nibbles with each block of 32's scale and minimum in
/// f16 ([`PackedMatrix::from_q4_k`]: a decode step reads 0.625 bytes a weight, and prompts
/// widen them to wide int8 as they go); other types (Q6_K, and Q4_K rows that are not a whole
/// number of 256) requantised to int8 with one scale per 256 k, their own super-block
/// ([`PackedMatrix::from_f32_wide`]; per block of 32 when a row is not a whole number of
/// 256). One scale per 256 lets the kernels sum 256 products in int32 before scaling, as
/// llama.cpp's K-quant dot products do with their Q8_K activations.
pub(crate) fn pack(w: &QTensor) -> Result<PackedMatrix> {
    let (n, k) = w.shape().dims2()?;
    let packed = match w.dtype() {
        GgmlDType::Q4K if k.is_multiple_of(256) => PackedMatrix::from_q4_k(&w.data()?, n, k),
        GgmlDType::Q8_0 => PackedMatrix::from_q8_0(&w.data()?, n, k),
        GgmlDType::Q5_0 => PackedMatrix::from_q5_0(&w.data()?, n, k),
        GgmlDType::Q4_0 => PackedMatrix::from_q4_0(&w.data()?, n, k),
        GgmlDType::Q4_1 => PackedMatrix::from_q4_1(&w.data()?, n, k),
        // Dequantised a few thousand rows at a time: the output head (150k rows) in f32 at
        // once would add 0.9 GB to the load's peak memory.
        dtype => {
            let bytes = w.data()?;
            let row_bytes = k / dtype.block_size() * dtype.type_size();
            if bytes.len() != n * row_bytes {
                candle_core::bail!("{} bytes for {n} × {k} {dtype:?} weights", bytes.len())
            }
            PackedMatrix::from_f32_wide_chunks(n, k, PACK_ROWS, |c0, count| {
                let part = &bytes[c0 * row_bytes..(c0 + count) * row_bytes];
                dequantize_rows(part, dtype, count, k)
                    .map_err(|e| kernels::KernelError::Unsupported(e.to_string()))
            })
        }
    };
    packed.map_err(|e| candle_core::Error::Msg(format!("packing weights: {e}")))
}

/// Rows dequantised at once while packing a K-quant matrix.
const PACK_ROWS: usize = 4096;

/// `rows × k` weights of type `dtype` (GGUF blocks, `bytes`) as f32.
fn dequantize_rows(bytes: &[u8], dtype: GgmlDType, rows: usize, k: usize) -> Result<Vec<f32>> {
    let storage = QStorage::from_data(Cow::Borrowed(bytes), &Device::Cpu, dtype)?;
    QTensor::new(storage, (rows, k))?
        .dequantize(&Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()
}

impl Proj {
    pub(super) fn new(w: &QTensor) -> Result<Self> {
        Ok(Self { packed: pack(w)? })
    }

    /// A layer from matrices packed before (the cache beside the model).
    pub(super) fn from_packed(packed: PackedMatrix) -> Self {
        Self { packed }
    }

    pub(super) fn matrix(&self) -> &PackedMatrix {
        &self.packed
    }

    pub(super) fn n(&self) -> usize {
        self.packed.n()
    }

    /// `out (m × n) = x (m × k) · wᵀ`.
    pub(super) fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) -> Result<()> {
        kernels::matmul(x, m, &self.packed, out)
            .map_err(|e| candle_core::Error::Msg(format!("packed matmul: {e}")))
    }
}

/// Concatenates the rows of same-type quantized matrices with the same input width: the
/// blocks of each row are independent, so the bytes can simply be appended. With `every`, the
/// matrices (then of as many rows, a multiple of it) take turns, `every` rows at a time.
fn fuse_rows(ws: &[QTensor], every: Option<usize>) -> Result<Option<QTensor>> {
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
    let datas = ws.iter().map(|w| w.data()).collect::<Result<Vec<_>>>()?;
    match every {
        None => datas.iter().for_each(|d| bytes.extend_from_slice(d)),
        Some(every) => {
            let n = rows / ws.len();
            if every == 0 || !n.is_multiple_of(every) || ws.iter().any(|w| w.shape().dims()[0] != n)
            {
                return Ok(None);
            }
            let chunk = datas[0].len() / n * every;
            for c in 0..n / every {
                for d in &datas {
                    bytes.extend_from_slice(&d[c * chunk..(c + 1) * chunk]);
                }
            }
        }
    }
    let storage = QStorage::from_data(Cow::Owned(bytes), &Device::Cpu, dtype)?;
    Ok(Some(QTensor::new(storage, (rows, k))?))
}

pub(super) enum Projections {
    Fused(Proj),
    Separate(Vec<Proj>),
}

impl Projections {
    pub(super) fn new(ws: Vec<QTensor>) -> Result<Self> {
        Self::fused(ws, None)
    }

    /// One layer of the matrices' rows ([`fuse_rows`], `every` rows in turn if given), or the
    /// matrices side by side where they cannot be fused.
    fn fused(ws: Vec<QTensor>, every: Option<usize>) -> Result<Self> {
        if let [w] = ws.as_slice() {
            return Ok(Self::Fused(Proj::new(w)?));
        }
        match fuse_rows(&ws, every)? {
            Some(fused) => Ok(Self::Fused(Proj::new(&fused)?)),
            None => Ok(Self::Separate(
                ws.iter().map(Proj::new).collect::<Result<_>>()?,
            )),
        }
    }

    /// The gate and up projections, fused with their rows interleaved 16 at a time (one tile of
    /// gate columns, then the tile of up columns it pairs with) for [`Self::forward_swiglu`]; side
    /// by side where they cannot be fused.
    pub(super) fn gate_up(ws: Vec<QTensor>) -> Result<Self> {
        // One tile of output columns: what `kernels::matmul_swiglu` pairs.
        Self::fused(ws, Some(kernels::NR))
    }

    /// `act (m × ffn) = silu(gate) · up` for the layers [`Self::gate_up`] made (or read back
    /// from the cache): fused, SwiGLU is applied as the product is stored where the kernels
    /// split a prompt's columns, else the product goes to `scratch` first (as side by side).
    pub(super) fn forward_swiglu(
        &self,
        x: &[f32],
        m: usize,
        act: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        match self {
            Self::Fused(p) => kernels::matmul_swiglu(x, m, p.matrix(), act, scratch)
                .map_err(|e| candle_core::Error::Msg(format!("gate/up matmul: {e}"))),
            Self::Separate(_) => {
                let ffn = act.len() / m.max(1);
                scratch.resize(m * 2 * ffn, 0.0);
                self.forward(x, m, scratch)?;
                kernels::ops::swiglu(scratch, ffn, act);
                Ok(())
            }
        }
    }

    /// Layers from matrices packed before: one is fused, several are side by side.
    pub(super) fn from_packed(mut packed: Vec<PackedMatrix>) -> Self {
        if packed.len() == 1 {
            if let Some(m) = packed.pop() {
                return Self::Fused(Proj::from_packed(m));
            }
        }
        Self::Separate(packed.into_iter().map(Proj::from_packed).collect())
    }

    /// The one layer of a single matrix.
    pub(super) fn single(self) -> Result<Proj> {
        match self {
            Self::Fused(p) => Ok(p),
            Self::Separate(mut ps) if ps.len() == 1 => Ok(ps.remove(0)),
            Self::Separate(ps) => {
                candle_core::bail!("{} matrices where one was expected", ps.len())
            }
        }
    }

    pub(super) fn matrices(&self) -> Vec<&PackedMatrix> {
        match self {
            Self::Fused(p) => vec![p.matrix()],
            Self::Separate(ps) => ps.iter().map(Proj::matrix).collect(),
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
