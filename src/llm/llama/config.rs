//! The hyperparameters of a llama or qwen2 model, read from its GGUF metadata.
use candle_core::quantized::gguf_file::Content;
use candle_core::Result;

/// How RoPE pairs the values of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent values (llama's GGUF, whose Q and K rows the converter permuted for it).
    Interleaved,
    /// Value `i` with value `i + head_dim / 2` (qwen2, "NeoX" style).
    Halves,
}

#[derive(Debug, Clone)]
pub struct LlamaConfig {
    /// `general.architecture`: llama or qwen2.
    pub architecture: String,
    pub rope_style: RopeStyle,
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

/// The architectures this forward pass runs.
pub const ARCHITECTURES: &[&str] = &["llama", "qwen2"];

impl LlamaConfig {
    pub fn from_gguf(ct: &Content) -> Result<Self> {
        let arch = match ct.metadata.get("general.architecture") {
            Some(v) => v.to_string()?.clone(),
            None => "llama".to_string(),
        };
        let rope_style = match arch.as_str() {
            "llama" => RopeStyle::Interleaved,
            "qwen2" => RopeStyle::Halves,
            other => candle_core::bail!("architecture {other:?} is not run by this forward pass"),
        };
        let key = |k: &str| format!("{arch}.{k}");
        let n_head = md_usize(ct, &key("attention.head_count"))?;
        let n_kv_head = md_usize(ct, &key("attention.head_count_kv")).unwrap_or(n_head);
        let hidden = md_usize(ct, &key("embedding_length"))?;
        if n_head == 0 || n_kv_head == 0 || hidden % n_head != 0 || n_head % n_kv_head != 0 {
            candle_core::bail!(
                "inconsistent head counts: {n_head} heads, {n_kv_head} kv heads, hidden {hidden}"
            )
        }
        let head_dim = hidden / n_head;
        let rope_dim = md_usize(ct, &key("rope.dimension_count")).unwrap_or(head_dim);
        if rope_dim != head_dim {
            candle_core::bail!("partial rotary embeddings (rope dim {rope_dim} != head dim {head_dim}) are not supported")
        }
        let eps = ct
            .metadata
            .get(&key("attention.layer_norm_rms_epsilon"))
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(1e-5);
        let rope_base = ct
            .metadata
            .get(&key("rope.freq_base"))
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(10_000.0);
        Ok(Self {
            n_layer: md_usize(ct, &key("block_count"))?,
            n_head,
            n_kv_head,
            head_dim,
            hidden,
            rope_dim,
            rope_base,
            eps,
            context_length: md_usize(ct, &key("context_length")).unwrap_or(4096),
            architecture: arch,
            rope_style,
        })
    }
}
