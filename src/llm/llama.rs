//! Our forward pass for `general.architecture` = llama (SmolLM2 and kin).
//!
//! It follows candle-transformers' `quantized_llama` (same GGUF tensor names, interleaved RoPE,
//! RMSNorm, SwiGLU, tied output head) and adds what the engine needs there:
//! - a KV cache in preallocated buffers that can be truncated, so a prompt sharing a prefix
//!   with the previous one (system prompt, earlier turns) reuses its keys and values;
//! - fused Q/K/V and gate/up projections (one matmul dispatch instead of three or two);
//! - every projection on our int8 kernels ([`super::kernels`]): weights repacked at load,
//!   activations quantised once per matmul (optional dense f32/f16 copies for multi-row
//!   matmuls remain for comparison: candle's f32 gemm is slower than the VNNI kernel);
//! - grouped-query attention without copying K/V per query head;
//! - the output head on the last position only.
use std::borrow::Cow;
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor, D};

use super::kernels::{self, PackedMatrix};

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

#[derive(Debug, Clone)]
pub struct LlamaConfig {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub rope_dim: usize,
    pub rope_base: f32,
    pub eps: f32,
    pub context_length: usize,
}

fn md_usize(ct: &Content, key: &str) -> Result<usize> {
    match ct.metadata.get(key) {
        Some(v) => Ok(v.to_u32()? as usize),
        None => candle_core::bail!("missing metadata {key}"),
    }
}

impl LlamaConfig {
    pub fn from_gguf(ct: &Content) -> Result<Self> {
        let n_head = md_usize(ct, "llama.attention.head_count")?;
        let n_kv_head = md_usize(ct, "llama.attention.head_count_kv").unwrap_or(n_head);
        let hidden = md_usize(ct, "llama.embedding_length")?;
        if n_head == 0 || n_kv_head == 0 || hidden % n_head != 0 || n_head % n_kv_head != 0 {
            candle_core::bail!(
                "inconsistent head counts: {n_head} heads, {n_kv_head} kv heads, hidden {hidden}"
            )
        }
        let head_dim = hidden / n_head;
        let rope_dim = md_usize(ct, "llama.rope.dimension_count").unwrap_or(head_dim);
        if rope_dim != head_dim {
            candle_core::bail!("partial rotary embeddings (rope dim {rope_dim} != head dim {head_dim}) are not supported")
        }
        let eps = ct
            .metadata
            .get("llama.attention.layer_norm_rms_epsilon")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(1e-5);
        let rope_base = ct
            .metadata
            .get("llama.rope.freq_base")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(10_000.0);
        Ok(Self {
            n_layer: md_usize(ct, "llama.block_count")?,
            n_head,
            n_kv_head,
            head_dim,
            hidden,
            rope_dim,
            rope_base,
            eps,
            context_length: md_usize(ct, "llama.context_length").unwrap_or(4096),
        })
    }
}

/// A linear layer: weights repacked for our kernels ([`kernels`]), plus an optional dense copy
/// for multi-row inputs (candle's f32 gemm; slower than the int8 kernels on AVX2/AVX-512).
struct Proj {
    packed: PackedMatrix,
    dense: Option<QMatMul>,
}

/// Rows at or above which a dense copy, when loaded, is used.
const DENSE_MIN_ROWS: usize = 12;

/// Repacks a GGUF weight matrix for [`kernels::matmul`]: Q8_0 and Q4_0 exactly, other types
/// requantised to int8 per block of 32.
pub(crate) fn pack(w: &QTensor) -> Result<PackedMatrix> {
    let (n, k) = w.shape().dims2()?;
    let packed = match w.dtype() {
        GgmlDType::Q8_0 => PackedMatrix::from_q8_0(&w.data()?, n, k),
        GgmlDType::Q4_0 => PackedMatrix::from_q4_0(&w.data()?, n, k),
        _ => {
            let dense = w
                .dequantize(&Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            PackedMatrix::from_f32(&dense, n, k)
        }
    };
    packed.map_err(|e| candle_core::Error::Msg(format!("packing weights: {e}")))
}

/// `x · wᵀ` over the last dimension of a contiguous f32 tensor, on our kernels.
struct PackedOp<'a>(&'a PackedMatrix);

impl candle_core::CustomOp1 for PackedOp<'_> {
    fn name(&self) -> &'static str {
        "ama-packed-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let candle_core::CpuStorage::F32(data) = storage else {
            candle_core::bail!("packed matmul: f32 input expected")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("packed matmul: contiguous input expected")
        };
        let x = &data[start..end];
        let mut dims = layout.shape().dims().to_vec();
        let k = dims.last().copied().unwrap_or(0);
        if k != self.0.k() {
            candle_core::bail!("packed matmul: input width {k}, weights {}", self.0.k())
        }
        let m = x.len() / k.max(1);
        let n = self.0.n();
        let mut out = vec![0f32; m * n];
        kernels::matmul(x, m, self.0, &mut out)
            .map_err(|e| candle_core::Error::Msg(format!("packed matmul: {e}")))?;
        if let Some(last) = dims.last_mut() {
            *last = n;
        }
        Ok((candle_core::CpuStorage::F32(out), dims.into()))
    }
}

impl Proj {
    fn new(w: QTensor, dense: DensePrefill) -> Result<Self> {
        let dense = match dense {
            DensePrefill::Off => None,
            DensePrefill::F32 => Some(QMatMul::Tensor(w.dequantize(&Device::Cpu)?)),
            DensePrefill::F16 => Some(QMatMul::TensorF16(w.dequantize_f16(&Device::Cpu)?)),
        };
        Ok(Self {
            packed: pack(&w)?,
            dense,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dims().iter().rev().skip(1).product::<usize>();
        match &self.dense {
            Some(dense) if rows >= DENSE_MIN_ROWS => dense.forward(x),
            _ => x.contiguous()?.apply_op1_no_bwd(&PackedOp(&self.packed)),
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

enum Projections {
    Fused(Proj),
    Separate(Vec<Proj>),
}

impl Projections {
    fn new(ws: Vec<QTensor>, dense: DensePrefill) -> Result<Self> {
        match fuse_rows(&ws)? {
            Some(fused) => Ok(Self::Fused(Proj::new(fused, dense)?)),
            None => Ok(Self::Separate(
                ws.into_iter()
                    .map(|w| Proj::new(w, dense))
                    .collect::<Result<_>>()?,
            )),
        }
    }

    /// Outputs of each projection, in order; `sizes` are their output widths.
    fn forward(&self, x: &Tensor, sizes: &[usize]) -> Result<Vec<Tensor>> {
        match self {
            Self::Fused(p) => {
                let y = p.forward(x)?;
                let mut out = Vec::with_capacity(sizes.len());
                let mut start = 0;
                for &n in sizes {
                    out.push(y.narrow(D::Minus1, start, n)?);
                    start += n;
                }
                Ok(out)
            }
            Self::Separate(ps) => ps.iter().map(|p| p.forward(x)).collect(),
        }
    }
}

struct Layer {
    attn_norm: Tensor,
    qkv: Projections,
    wo: Proj,
    ffn_norm: Tensor,
    gate_up: Projections,
    down: Proj,
    ffn: usize,
    /// (1, n_kv_head, capacity, head_dim) each; the first `Llama::cached.len()` positions hold
    /// keys and values.
    k_cache: Option<Tensor>,
    v_cache: Option<Tensor>,
}

pub struct Llama {
    cfg: LlamaConfig,
    embed: Arc<QTensor>,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Proj,
    cos: Tensor,
    sin: Tensor,
    /// Tokens whose keys and values are in the cache, in order.
    cached: Vec<u32>,
    capacity: usize,
}

fn get(ct: &Content, r: &mut (impl std::io::Read + std::io::Seek), name: &str) -> Result<QTensor> {
    ct.tensor(r, name, &Device::Cpu)
}

impl Llama {
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: &Content,
        r: &mut R,
        dense: DensePrefill,
        max_context: usize,
    ) -> Result<Self> {
        let mut cfg = LlamaConfig::from_gguf(ct)?;
        cfg.context_length = cfg.context_length.min(max_context).max(1);
        let embed = get(ct, r, "token_embd.weight")?;
        let output = match get(ct, r, "output.weight") {
            Ok(w) => Proj::new(w, DensePrefill::Off)?,
            // Tied embeddings (SmolLM2): the head is the embedding matrix.
            Err(_) => Proj::new(get(ct, r, "token_embd.weight")?, DensePrefill::Off)?,
        };
        let norm = get(ct, r, "output_norm.weight")?.dequantize(&Device::Cpu)?;
        let kv_dim = cfg.n_kv_head * cfg.head_dim;
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let p = format!("blk.{i}");
            let wq = get(ct, r, &format!("{p}.attn_q.weight"))?;
            let wk = get(ct, r, &format!("{p}.attn_k.weight"))?;
            let wv = get(ct, r, &format!("{p}.attn_v.weight"))?;
            let (nq, _) = wq.shape().dims2()?;
            let (nk, _) = wk.shape().dims2()?;
            let (nv, _) = wv.shape().dims2()?;
            if nq != cfg.hidden || nk != kv_dim || nv != kv_dim {
                candle_core::bail!("{p}: unexpected attention shapes {nq}/{nk}/{nv}")
            }
            let gate = get(ct, r, &format!("{p}.ffn_gate.weight"))?;
            let up = get(ct, r, &format!("{p}.ffn_up.weight"))?;
            let (ffn, _) = gate.shape().dims2()?;
            layers.push(Layer {
                attn_norm: get(ct, r, &format!("{p}.attn_norm.weight"))?
                    .dequantize(&Device::Cpu)?,
                qkv: Projections::new(vec![wq, wk, wv], dense)?,
                wo: Proj::new(get(ct, r, &format!("{p}.attn_output.weight"))?, dense)?,
                ffn_norm: get(ct, r, &format!("{p}.ffn_norm.weight"))?.dequantize(&Device::Cpu)?,
                gate_up: Projections::new(vec![gate, up], dense)?,
                down: Proj::new(get(ct, r, &format!("{p}.ffn_down.weight"))?, dense)?,
                ffn,
                k_cache: None,
                v_cache: None,
            });
        }
        let (cos, sin) = rope_tables(&cfg)?;
        Ok(Self {
            cfg,
            embed: Arc::new(embed),
            layers,
            norm,
            output,
            cos,
            sin,
            cached: Vec::new(),
            capacity: 0,
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// Tokens whose state is cached (a later prompt starting with them skips their prefill).
    pub fn cached_tokens(&self) -> &[u32] {
        &self.cached
    }

    /// Forgets cached positions from `len` on.
    pub fn truncate_cache(&mut self, len: usize) {
        self.cached.truncate(len);
    }

    /// Makes room for `needed` positions, growing the buffers geometrically.
    fn reserve(&mut self, needed: usize) -> Result<()> {
        if needed <= self.capacity {
            return Ok(());
        }
        let cap = needed
            .max(self.capacity * 2)
            .max(256)
            .min(self.cfg.context_length.max(needed));
        let keep = self.cached.len();
        let shape = (1, self.cfg.n_kv_head, cap, self.cfg.head_dim);
        for layer in &mut self.layers {
            for cache in [&mut layer.k_cache, &mut layer.v_cache] {
                let fresh = Tensor::zeros(shape, DType::F32, &Device::Cpu)?;
                if let Some(old) = cache.as_ref() {
                    if keep > 0 {
                        fresh.slice_set(&old.narrow(2, 0, keep)?.contiguous()?, 2, 0)?;
                    }
                }
                *cache = Some(fresh);
            }
        }
        self.capacity = cap;
        Ok(())
    }

    /// Runs `tokens` at positions `cached_tokens().len()..`, appends them to the cache and
    /// returns the logits of the last one, shape `(vocab,)`.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let pos = self.cached.len();
        let s = tokens.len();
        if s == 0 {
            candle_core::bail!("no tokens to run")
        }
        if pos + s > self.cfg.context_length {
            candle_core::bail!(
                "{} positions exceed the context length {}",
                pos + s,
                self.cfg.context_length
            )
        }
        self.reserve(pos + s)?;
        let cfg = &self.cfg;
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = self.embed.embedding(&ids)?.unsqueeze(0)?; // (1, s, hidden)
        let cos = self.cos.narrow(0, pos, s)?;
        let sin = self.sin.narrow(0, pos, s)?;
        let mask = if s > 1 {
            Some(causal_mask(s, pos)?)
        } else {
            None
        };
        let kv_dim = cfg.n_kv_head * cfg.head_dim;
        let groups = cfg.n_head / cfg.n_kv_head;
        let scale = 1.0 / (cfg.head_dim as f64).sqrt();
        for layer in &mut self.layers {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, cfg.eps)?;
            let qkv = layer.qkv.forward(&h, &[cfg.hidden, kv_dim, kv_dim])?;
            let q = qkv[0]
                .reshape((1, s, cfg.n_head, cfg.head_dim))?
                .transpose(1, 2)?
                .contiguous()?;
            let k = qkv[1]
                .reshape((1, s, cfg.n_kv_head, cfg.head_dim))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = qkv[2]
                .reshape((1, s, cfg.n_kv_head, cfg.head_dim))?
                .transpose(1, 2)?
                .contiguous()?;
            let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
            let (Some(k_cache), Some(v_cache)) = (&layer.k_cache, &layer.v_cache) else {
                candle_core::bail!("kv cache not allocated")
            };
            k_cache.slice_set(&k, 2, pos)?;
            v_cache.slice_set(&v, 2, pos)?;
            let k_all = k_cache.narrow(2, 0, pos + s)?;
            let v_all = v_cache.narrow(2, 0, pos + s)?;
            // Query heads sharing a KV head are adjacent: view them as more rows of that
            // KV head instead of repeating K and V.
            let q = q.reshape((1, cfg.n_kv_head, groups * s, cfg.head_dim))?;
            let att = (q.matmul(&k_all.t()?)? * scale)?;
            let att = match &mask {
                Some(mask) => att
                    .reshape((1, cfg.n_kv_head, groups, s, pos + s))?
                    .broadcast_add(mask)?
                    .reshape((1, cfg.n_kv_head, groups * s, pos + s))?,
                None => att,
            };
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let y = att.matmul(&v_all)?; // (1, n_kv, groups*s, hd)
            let y = y
                .reshape((1, cfg.n_head, s, cfg.head_dim))?
                .transpose(1, 2)?
                .reshape((1, s, cfg.hidden))?;
            let x1 = (layer.wo.forward(&y)? + &x)?;
            let h = candle_nn::ops::rms_norm(&x1, &layer.ffn_norm, cfg.eps)?;
            let gu = layer.gate_up.forward(&h, &[layer.ffn, layer.ffn])?;
            let act = (candle_nn::ops::silu(&gu[0])? * &gu[1])?;
            x = (layer.down.forward(&act)? + x1)?;
        }
        self.cached.extend_from_slice(tokens);
        // Only the last position's logits are needed: norm and head on one row.
        let last = x.narrow(1, s - 1, 1)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, cfg.eps)?;
        self.output.forward(&last)?.flatten_all()
    }
}

fn rope_tables(cfg: &LlamaConfig) -> Result<(Tensor, Tensor)> {
    let half = cfg.rope_dim / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / cfg.rope_base.powf(2.0 * i as f32 / cfg.rope_dim as f32))
        .collect();
    let n = cfg.context_length;
    let mut cos = Vec::with_capacity(n * half);
    let mut sin = Vec::with_capacity(n * half);
    for p in 0..n {
        for f in &inv {
            let a = p as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    Ok((
        Tensor::from_vec(cos, (n, half), &Device::Cpu)?,
        Tensor::from_vec(sin, (n, half), &Device::Cpu)?,
    ))
}

/// Additive mask `(s, pos + s)`: query `i` (at position `pos + i`) sees keys `0..=pos + i`.
fn causal_mask(s: usize, pos: usize) -> Result<Tensor> {
    let l = pos + s;
    let mut m = vec![0f32; s * l];
    for i in 0..s {
        for j in (pos + i + 1)..l {
            m[i * l + j] = f32::NEG_INFINITY;
        }
    }
    Tensor::from_vec(m, (s, l), &Device::Cpu)
}

/// Whether a quantized type runs slowly in candle's CPU kernels and is worth requantising.
pub fn is_slow_dtype(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}
