//! BERT's encoder (all-MiniLM-L6-v2: 6 layers, 384 wide, 12 heads) on the engine's own
//! kernels, in place of candle's f32 BERT.
//!
//! - The six linear maps of a layer (Q, K and V fused into one) are repacked at load into
//!   int8 tiles per block of 32 ([`PackedMatrix::from_f32`]) and run with
//!   [`ama_kernels::matmul`]: AVX-512 VNNI (or AMX, AVX2, portable), where candle's f32 gemm
//!   runs AVX2 FMA only on stable Rust. Activations are quantised to int8 per block, as for
//!   the language models.
//! - No padding: the texts of a batch are laid end to end, so every matmul runs over all
//!   their tokens at once, and attention (bidirectional, f32) runs within each text.
//! - Each token's computation depends only on its text (the kernels' rows are independent),
//!   so a text embeds to the same vector alone or in any batch.
//! - GELU is the exact erf form BERT uses, with an erf accurate to 1.5e-7.
//! - Attention, layer normalisation and GELU are [`ama_kernels::encoder`]'s, optimised in the
//!   tests' build too (here, at the test profile's level 1, a test indexing one article spent
//!   21 s instead of 4).
use std::collections::HashMap;
use std::path::Path;

use ama_kernels::PackedMatrix;
use candle_core::{Device, Tensor};

/// What the encoder needs from the model's `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub layer_norm_eps: f64,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "gelu")]
    pub hidden_act: String,
}

fn gelu() -> String {
    "gelu".to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum BertError {
    #[error("reading the weights: {0}")]
    Weights(#[from] candle_core::Error),
    #[error("weight {0} is missing")]
    Missing(String),
    #[error("weight {name} has {got} values, expected {want}")]
    Shape {
        name: String,
        got: usize,
        want: usize,
    },
    #[error("unsupported configuration: {0}")]
    Config(String),
    #[error("kernel: {0}")]
    Kernel(#[from] ama_kernels::KernelError),
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    /// Layer normalisation of every row of `x` (rows of `weight.len()` values), in place.
    fn apply(&self, x: &mut [f32]) {
        ama_kernels::encoder::layer_norm(x, &self.weight, &self.bias, self.eps);
    }
}

struct Linear {
    weight: PackedMatrix,
    bias: Vec<f32>,
}

impl Linear {
    /// `x (m × k) · wᵀ + b`.
    fn forward(&self, x: &[f32], m: usize) -> Result<Vec<f32>, BertError> {
        let n = self.weight.n();
        let mut out = vec![0f32; m * n];
        ama_kernels::matmul(x, m, &self.weight, &mut out)?;
        for row in out.chunks_exact_mut(n) {
            for (v, b) in row.iter_mut().zip(&self.bias) {
                *v += b;
            }
        }
        Ok(out)
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    up: Linear,
    down: Linear,
    out_norm: Norm,
}

/// The loaded encoder.
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    max_positions: usize,
    vocab: usize,
}

/// The tensors of a safetensors file, by name.
struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn take(&mut self, name: &str, want: usize) -> Result<Vec<f32>, BertError> {
        let t = self
            .0
            .remove(name)
            .ok_or_else(|| BertError::Missing(name.to_string()))?;
        let v = t
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        if v.len() != want {
            return Err(BertError::Shape {
                name: name.to_string(),
                got: v.len(),
                want,
            });
        }
        Ok(v)
    }

    fn norm(&mut self, prefix: &str, h: usize, eps: f32) -> Result<Norm, BertError> {
        Ok(Norm {
            weight: self.take(&format!("{prefix}.weight"), h)?,
            bias: self.take(&format!("{prefix}.bias"), h)?,
            eps,
        })
    }

    /// The linear maps `prefixes` (each `n_i × k`), stacked into one matrix.
    fn linear(&mut self, prefixes: &[&str], n: &[usize], k: usize) -> Result<Linear, BertError> {
        let (mut w, mut b) = (Vec::new(), Vec::new());
        for (p, &n) in prefixes.iter().zip(n) {
            w.extend(self.take(&format!("{p}.weight"), n * k)?);
            b.extend(self.take(&format!("{p}.bias"), n)?);
        }
        Ok(Linear {
            weight: PackedMatrix::from_f32(&w, b.len(), k)?,
            bias: b,
        })
    }
}

impl Bert {
    /// Loads the weights of a BERT safetensors file (Hugging Face names, with or without a
    /// `bert.` prefix).
    pub fn load(path: &Path, cfg: &BertConfig) -> Result<Self, BertError> {
        if cfg.hidden_act != "gelu" {
            return Err(BertError::Config(format!(
                "activation {} (only gelu)",
                cfg.hidden_act
            )));
        }
        if cfg.vocab_size == 0 || cfg.max_position_embeddings == 0 {
            return Err(BertError::Config(
                "an empty vocabulary or no positions".to_string(),
            ));
        }
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(BertError::Config(format!(
                "{} heads for width {}",
                cfg.num_attention_heads, cfg.hidden_size
            )));
        }
        let raw = candle_core::safetensors::load(path, &Device::Cpu)?;
        let raw = raw
            .into_iter()
            .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
            .collect();
        let mut w = Weights(raw);
        let (h, ff) = (cfg.hidden_size, cfg.intermediate_size);
        let eps = cfg.layer_norm_eps as f32;
        let word = w.take("embeddings.word_embeddings.weight", cfg.vocab_size * h)?;
        let position = w.take(
            "embeddings.position_embeddings.weight",
            cfg.max_position_embeddings * h,
        )?;
        let types =
            w.0.get("embeddings.token_type_embeddings.weight")
                .map(|t| t.elem_count())
                .unwrap_or(h);
        if types < h || !types.is_multiple_of(h) {
            return Err(BertError::Shape {
                name: "embeddings.token_type_embeddings.weight".to_string(),
                got: types,
                want: h,
            });
        }
        let token_type = w.take("embeddings.token_type_embeddings.weight", types)?;
        let embed_norm = w.norm("embeddings.LayerNorm", h, eps)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                qkv: w.linear(
                    &[
                        &format!("{p}.attention.self.query"),
                        &format!("{p}.attention.self.key"),
                        &format!("{p}.attention.self.value"),
                    ],
                    &[h, h, h],
                    h,
                )?,
                attn_out: w.linear(&[&format!("{p}.attention.output.dense")], &[h], h)?,
                attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h, eps)?,
                up: w.linear(&[&format!("{p}.intermediate.dense")], &[ff], h)?,
                down: w.linear(&[&format!("{p}.output.dense")], &[h], ff)?,
                out_norm: w.norm(&format!("{p}.output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Self {
            word,
            position,
            token_type: token_type[..h].to_vec(),
            embed_norm,
            layers,
            hidden: h,
            heads: cfg.num_attention_heads,
            max_positions: cfg.max_position_embeddings,
            vocab: cfg.vocab_size,
        })
    }

    /// The mean-pooled, unit-length embedding of each text (its token ids, already truncated
    /// to the model's positions; longer ones are cut here too).
    pub fn embed(&self, texts: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, BertError> {
        let h = self.hidden;
        let spans: Vec<(usize, usize)> = texts
            .iter()
            .scan(0, |start, ids| {
                let len = ids.len().min(self.max_positions);
                let span = (*start, len);
                *start += len;
                Some(span)
            })
            .collect();
        let rows: usize = spans.iter().map(|s| s.1).sum();
        let mut x = vec![0f32; rows * h];
        for (ids, &(start, len)) in texts.iter().zip(&spans) {
            for (i, &id) in ids.iter().take(len).enumerate() {
                let id = (id as usize).min(self.vocab.saturating_sub(1));
                let dst = &mut x[(start + i) * h..(start + i + 1) * h];
                let word = &self.word[id * h..(id + 1) * h];
                let pos = &self.position[i * h..(i + 1) * h];
                for (((d, w), p), t) in dst.iter_mut().zip(word).zip(pos).zip(&self.token_type) {
                    *d = w + p + t;
                }
            }
        }
        self.embed_norm.apply(&mut x);
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, rows)?;
            let ctx = ama_kernels::encoder::bidirectional_attention(&qkv, &spans, h, self.heads);
            let mut a = layer.attn_out.forward(&ctx, rows)?;
            a.iter_mut().zip(&x).for_each(|(v, r)| *v += r);
            layer.attn_norm.apply(&mut a);
            let mut u = layer.up.forward(&a, rows)?;
            ama_kernels::encoder::gelu(&mut u);
            let mut d = layer.down.forward(&u, rows)?;
            d.iter_mut().zip(&a).for_each(|(v, r)| *v += r);
            layer.out_norm.apply(&mut d);
            x = d;
        }
        Ok(spans
            .iter()
            .map(|&(start, len)| {
                let mut mean = vec![0f32; h];
                for row in x[start * h..(start + len) * h].chunks_exact(h) {
                    mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
                }
                let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                mean.iter_mut().for_each(|m| *m /= norm);
                mean
            })
            .collect())
    }
}
