//! Our forward pass for `general.architecture` = llama (SmolLM2 and kin) and qwen2
//! (Qwen2.5: biases on Q, K and V, RoPE on halves, its own output head).
//!
//! It follows candle-transformers' `quantized_llama` (same GGUF tensor names, interleaved RoPE,
//! RMSNorm, SwiGLU, tied output head) and adds what the engine needs there:
//! - a KV cache in preallocated buffers that can be truncated, so a prompt sharing a prefix
//!   with the previous one (system prompt, earlier turns) reuses its keys and values;
//! - fused Q/K/V and gate/up projections (one matmul dispatch instead of three or two);
//! - every projection on our int8 kernels ([`super::kernels`]): weights repacked at load,
//!   activations quantised once per matmul (candle's dense f32 gemm was slower on every host
//!   measured);
//! - grouped-query attention without copying K/V per query head;
//! - the output head on the last position only.
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Result, Tensor};

use super::kernels::{self, attention, ops};

mod config;
pub mod packed_cache;
mod proj;
pub use config::{LlamaConfig, RopeStyle, ARCHITECTURES};
use packed_cache::PackedCache;
use proj::{Proj, Projections};

struct Layer {
    attn_norm: Vec<f32>,
    /// Q, K and V side by side.
    qkv: Projections,
    /// Their biases side by side (qwen2), added after the projection.
    qkv_bias: Option<Vec<f32>>,
    wo: Proj,
    ffn_norm: Vec<f32>,
    /// Gate and up side by side.
    gate_up: Projections,
    down: Proj,
    ffn: usize,
    /// The first `Llama::cached.len()` positions hold keys (after RoPE) and values. Keys in
    /// tiles of 16 positions ([`attention::key_index`]); values `capacity × kv_dim`. Both grow in
    /// place.
    k_cache: Vec<f32>,
    v_cache: Vec<f32>,
}

/// Buffers reused from one forward call to the next (decode allocates nothing per layer).
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    o: Vec<f32>,
    gu: Vec<f32>,
    act: Vec<f32>,
    last: Vec<f32>,
}

fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..len]
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()
}

/// Where forward passes spent their time, summed until taken ([`Llama::take_time_split`]).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TimeSplit {
    /// The projections (activation quantisation included) and the output head.
    pub matmul: Duration,
    pub attention: Duration,
    /// Embedding, norms, biases, RoPE, the KV cache writes, SwiGLU and residual adds.
    pub other: Duration,
}

/// A stopwatch that charges each lap to one part of a [`TimeSplit`].
struct Laps<'a> {
    split: &'a mut TimeSplit,
    last: Instant,
}

impl Laps<'_> {
    fn lap(&mut self, part: fn(&mut TimeSplit) -> &mut Duration) {
        let now = Instant::now();
        *part(self.split) += now - self.last;
        self.last = now;
    }
    fn matmul(&mut self) {
        self.lap(|s| &mut s.matmul)
    }
    fn attention(&mut self) {
        self.lap(|s| &mut s.attention)
    }
    fn other(&mut self) {
        self.lap(|s| &mut s.other)
    }
}

pub struct Llama {
    cfg: LlamaConfig,
    /// Time spent by forward passes since the last [`Llama::take_time_split`].
    split: TimeSplit,
    embed: Arc<QTensor>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    output: Proj,
    /// `context_length × head_dim / 2` each.
    cos: Vec<f32>,
    sin: Vec<f32>,
    scratch: Scratch,
    /// Tokens whose keys and values are in the cache, in order.
    cached: Vec<u32>,
    capacity: usize,
}

fn get(ct: &Content, r: &mut (impl std::io::Read + std::io::Seek), name: &str) -> Result<QTensor> {
    ct.tensor(r, name, &Device::Cpu)
}

impl Llama {
    /// Loads the weights; with `cache` (the model file's path) the repacked matrices are read
    /// from the cache beside it when valid, and written there after a cold load
    /// ([`packed_cache`]).
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: &Content,
        r: &mut R,
        max_context: usize,
        cache: Option<&std::path::Path>,
    ) -> Result<Self> {
        let mut cache = match cache {
            Some(model) => PackedCache::open(model),
            None => PackedCache::none(),
        };
        let mut cfg = LlamaConfig::from_gguf(ct)?;
        cfg.context_length = cfg.context_length.min(max_context).max(1);
        let embed = get(ct, r, "token_embd.weight")?;
        let output = match cache.take("output") {
            Some(mut m) if m.len() == 1 => Proj::from_packed(m.remove(0)),
            _ => match get(ct, r, "output.weight") {
                Ok(w) => Proj::new(&w)?,
                // Tied embeddings (SmolLM2): the head is the embedding matrix.
                Err(_) => Proj::new(&embed)?,
            },
        };
        let norm = to_vec(&get(ct, r, "output_norm.weight")?.dequantize(&Device::Cpu)?)?;
        let kv_dim = cfg.n_kv_head * cfg.head_dim;
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let p = format!("blk.{i}");
            let rows = |name: &str| -> Result<usize> {
                let info = ct.tensor_infos.get(&format!("{p}.{name}.weight"));
                match info.map(|t| t.shape.dims()) {
                    Some(&[n, _]) => Ok(n),
                    _ => candle_core::bail!("{p}.{name}.weight: missing or not a matrix"),
                }
            };
            let (nq, nk, nv) = (rows("attn_q")?, rows("attn_k")?, rows("attn_v")?);
            if nq != cfg.hidden || nk != kv_dim || nv != kv_dim {
                candle_core::bail!("{p}: unexpected attention shapes {nq}/{nk}/{nv}")
            }
            let ffn = rows("ffn_gate")?;
            type Make = fn(Vec<QTensor>) -> Result<Projections>;
            let mut matrices = |name: &str, tensors: &[&str], r: &mut R, make: Make| {
                if let Some(m) = cache.take(&format!("{p}.{name}")) {
                    return Ok(Projections::from_packed(m));
                }
                let ws = tensors
                    .iter()
                    .map(|t| get(ct, r, &format!("{p}.{t}.weight")))
                    .collect::<Result<Vec<_>>>()?;
                make(ws)
            };
            let qkv = matrices("qkv", &["attn_q", "attn_k", "attn_v"], r, Projections::new)?;
            let wo = matrices("attn_output", &["attn_output"], r, Projections::new)?;
            let gate_up = matrices("gate_up", &["ffn_gate", "ffn_up"], r, Projections::gate_up)?;
            let down = matrices("ffn_down", &["ffn_down"], r, Projections::new)?;
            let qkv_bias = match get(ct, r, &format!("{p}.attn_q.bias")) {
                Ok(bq) => {
                    let mut bias = to_vec(&bq.dequantize(&Device::Cpu)?)?;
                    for name in ["attn_k", "attn_v"] {
                        let b = get(ct, r, &format!("{p}.{name}.bias"))?;
                        bias.extend(to_vec(&b.dequantize(&Device::Cpu)?)?);
                    }
                    if bias.len() != cfg.hidden + 2 * kv_dim {
                        candle_core::bail!("{p}: Q/K/V biases of {} values", bias.len())
                    }
                    Some(bias)
                }
                Err(_) => None,
            };
            layers.push(Layer {
                attn_norm: to_vec(
                    &get(ct, r, &format!("{p}.attn_norm.weight"))?.dequantize(&Device::Cpu)?,
                )?,
                qkv,
                qkv_bias,
                wo: wo.single()?,
                ffn_norm: to_vec(
                    &get(ct, r, &format!("{p}.ffn_norm.weight"))?.dequantize(&Device::Cpu)?,
                )?,
                gate_up,
                down: down.single()?,
                ffn,
                k_cache: Vec::new(),
                v_cache: Vec::new(),
            });
        }
        if !cache.is_warm() {
            let mut entries = vec![("output".to_string(), vec![output.matrix()])];
            for (i, l) in layers.iter().enumerate() {
                entries.push((format!("blk.{i}.qkv"), l.qkv.matrices()));
                entries.push((format!("blk.{i}.attn_output"), vec![l.wo.matrix()]));
                entries.push((format!("blk.{i}.gate_up"), l.gate_up.matrices()));
                entries.push((format!("blk.{i}.ffn_down"), vec![l.down.matrix()]));
            }
            cache.finish(&entries);
        }
        let (cos, sin) = rope_tables(&cfg);
        Ok(Self {
            cfg,
            embed: Arc::new(embed),
            layers,
            norm,
            output,
            cos,
            sin,
            scratch: Scratch::default(),
            cached: Vec::new(),
            capacity: 0,
            split: TimeSplit::default(),
        })
    }

    /// The time forward passes spent per part since the last call.
    pub fn take_time_split(&mut self) -> TimeSplit {
        std::mem::take(&mut self.split)
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

    /// Makes room for `needed` positions, growing the buffers geometrically (the cached
    /// positions stay where they are).
    fn reserve(&mut self, needed: usize) {
        if needed <= self.capacity {
            return;
        }
        let cap = needed
            .max(self.capacity * 2)
            .max(256)
            .min(self.cfg.context_length.max(needed));
        // Whole key tiles.
        let cap = cap.div_ceil(16) * 16;
        let kv_dim = self.cfg.n_kv_head * self.cfg.head_dim;
        for layer in &mut self.layers {
            layer.k_cache.resize(cap * kv_dim, 0.0);
            layer.v_cache.resize(cap * kv_dim, 0.0);
        }
        self.capacity = cap;
    }

    /// Runs `tokens` at positions `cached_tokens().len()..`, appends them to the cache and
    /// returns the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.forward_rows(tokens, 1)
    }

    /// [`Self::forward`], returning the logits of the last `rows` tokens (`rows × vocab`, in
    /// order): a drafted continuation checked in one pass.
    pub fn forward_rows(&mut self, tokens: &[u32], rows: usize) -> Result<Vec<f32>> {
        let pos = self.cached.len();
        let s = tokens.len();
        if s == 0 || rows == 0 || rows > s {
            candle_core::bail!("{rows} rows of logits from {s} tokens")
        }
        if pos + s > self.cfg.context_length {
            candle_core::bail!(
                "{} positions exceed the context length {}",
                pos + s,
                self.cfg.context_length
            )
        }
        self.reserve(pos + s);
        let mut laps = Laps {
            split: &mut self.split,
            last: Instant::now(),
        };
        let cfg = &self.cfg;
        let (hidden, hd) = (cfg.hidden, cfg.head_dim);
        let kv_dim = cfg.n_kv_head * hd;
        let qkv_dim = hidden + 2 * kv_dim;
        let half = hd / 2;
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let sc = &mut self.scratch;
        sc.x = to_vec(&self.embed.embedding(&ids)?)?;
        let x = &mut sc.x[..];
        if x.len() != s * hidden {
            candle_core::bail!(
                "embedding rows of {} values, expected {hidden}",
                x.len() / s
            )
        }
        let shape = kernels::attention::AttnShape {
            s,
            pos,
            n_head: cfg.n_head,
            n_kv_head: cfg.n_kv_head,
            head_dim: hd,
        };
        for layer in &mut self.layers {
            let h = sized(&mut sc.h, s * hidden);
            ops::rms_norm(x, &layer.attn_norm, cfg.eps, h);
            let qkv = sized(&mut sc.qkv, s * qkv_dim);
            laps.other();
            layer.qkv.forward(h, s, qkv)?;
            laps.matmul();
            if let Some(bias) = &layer.qkv_bias {
                for row in qkv.chunks_exact_mut(qkv_dim) {
                    row.iter_mut().zip(bias).for_each(|(a, b)| *a += b);
                }
            }
            for (i, row) in qkv.chunks_exact_mut(qkv_dim).enumerate() {
                let p = pos + i;
                let (cos, sin) = (
                    &self.cos[p * half..(p + 1) * half],
                    &self.sin[p * half..(p + 1) * half],
                );
                let (qk, v) = row.split_at_mut(hidden + kv_dim);
                for head in qk.chunks_exact_mut(hd) {
                    match cfg.rope_style {
                        RopeStyle::Interleaved => ops::rope_interleaved(head, cos, sin),
                        RopeStyle::Halves => ops::rope_halves(head, cos, sin),
                    }
                }
                let (_, k) = qk.split_at(hidden);
                for (c, &kv) in k.iter().enumerate() {
                    let at = attention::key_index(p, c / hd, c % hd, cfg.n_kv_head, hd);
                    layer.k_cache[at] = kv;
                }
                layer.v_cache[p * kv_dim..(p + 1) * kv_dim].copy_from_slice(v);
            }
            // Queries packed as s × hidden for the attention.
            let q = sized(&mut sc.h, s * hidden);
            for (dst, row) in q.chunks_exact_mut(hidden).zip(qkv.chunks_exact(qkv_dim)) {
                dst.copy_from_slice(&row[..hidden]);
            }
            let att = sized(&mut sc.att, s * hidden);
            let used = (pos + s) * kv_dim;
            laps.other();
            attention::attention(q, &layer.k_cache, &layer.v_cache[..used], shape, att);
            laps.attention();
            let o = sized(&mut sc.o, s * hidden);
            layer.wo.forward(att, s, o)?;
            laps.matmul();
            x.iter_mut().zip(o.iter()).for_each(|(a, b)| *a += b);
            let h = sized(&mut sc.h, s * hidden);
            ops::rms_norm(x, &layer.ffn_norm, cfg.eps, h);
            let act = sized(&mut sc.act, s * layer.ffn);
            laps.other();
            layer.gate_up.forward_swiglu(h, s, act, &mut sc.gu)?;
            laps.matmul();
            let o = sized(&mut sc.o, s * hidden);
            laps.other();
            layer.down.forward(act, s, o)?;
            laps.matmul();
            x.iter_mut().zip(o.iter()).for_each(|(a, b)| *a += b);
        }
        self.cached.extend_from_slice(tokens);
        // Only the last positions' logits are needed: norm and head on those rows.
        let h = sized(&mut sc.h, rows * hidden);
        ops::rms_norm(&x[(s - rows) * hidden..], &self.norm, cfg.eps, h);
        let last = sized(&mut sc.last, rows * self.output.n());
        laps.other();
        self.output.forward(h, rows, last)?;
        laps.matmul();
        Ok(last.to_vec())
    }
}

fn rope_tables(cfg: &LlamaConfig) -> (Vec<f32>, Vec<f32>) {
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
    (cos, sin)
}

/// Whether a quantized type runs slowly in candle's CPU kernels and is worth requantising.
pub fn is_slow_dtype(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}
