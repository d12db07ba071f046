//! One loaded network, whatever its architecture: ours for llama and qwen2,
//! candle-transformers' quantized models for gemma3 and phi3.
use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_phi3};

use super::gguf::GgufFile;
use super::llama::Llama;
use super::LlmError;

pub enum Network {
    /// llama and qwen2.
    Llama(Box<Llama>),
    Gemma3(Box<quantized_gemma3::ModelWeights>),
    Phi3(Box<quantized_phi3::ModelWeights>),
}

/// A network plus the bookkeeping of what its KV cache holds.
pub struct Model {
    net: Network,
    context_length: usize,
    /// For candle's models: number of positions in their cache (they can only reset).
    other_pos: usize,
}

fn ctx_len(ct: &Content, arch: &str) -> Option<usize> {
    ct.metadata
        .get(&format!("{arch}.context_length"))
        .and_then(|v| v.to_u32().ok())
        .map(|v| v as usize)
}

impl Model {
    /// Loads the weights of an opened GGUF. `max_context` caps the context length (memory of
    /// the KV cache grows with it).
    pub fn load(file: GgufFile, max_context: usize) -> Result<Self, LlmError> {
        let arch = file.architecture();
        let GgufFile {
            path,
            content,
            mut reader,
        } = file;
        let err = |e: candle_core::Error| LlmError::ModelFile {
            path: path.display().to_string(),
            message: format!("loading {arch} weights: {e}"),
        };
        let model_ctx = ctx_len(&content, &arch).unwrap_or(4096);
        let context_length = model_ctx.min(max_context).max(1);
        let dev = Device::Cpu;
        let net = match arch.as_str() {
            "llama" | "qwen2" => Network::Llama(Box::new(
                Llama::from_gguf(&content, &mut reader, max_context, Some(&path)).map_err(err)?,
            )),
            "gemma3" => Network::Gemma3(Box::new(
                quantized_gemma3::ModelWeights::from_gguf(content, &mut reader, &dev)
                    .map_err(err)?,
            )),
            "phi3" => Network::Phi3(Box::new(
                quantized_phi3::ModelWeights::from_gguf(false, content, &mut reader, &dev)
                    .map_err(err)?,
            )),
            other => return Err(LlmError::UnsupportedArchitecture(other.to_string())),
        };
        let context_length = match &net {
            // candle's llama RoPE tables stop at 4096; ours follow the file.
            Network::Llama(l) => l.config().context_length,
            _ => context_length,
        };
        Ok(Self {
            net,
            context_length,
            other_pos: 0,
        })
    }

    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// How many leading tokens of `prompt` already have their state cached and can be reused.
    /// At least one prompt token is always left to run, to get its logits.
    pub fn reusable_prefix(&self, prompt: &[u32]) -> usize {
        match &self.net {
            Network::Llama(l) => {
                let common = l
                    .cached_tokens()
                    .iter()
                    .zip(prompt)
                    .take_while(|(a, b)| a == b)
                    .count();
                common.min(prompt.len().saturating_sub(1))
            }
            _ => 0,
        }
    }

    /// Keeps the first `len` cached positions and forgets the rest.
    pub fn truncate_cache(&mut self, len: usize) {
        match &mut self.net {
            Network::Llama(l) => l.truncate_cache(len),
            _ => self.other_pos = self.other_pos.min(len),
        }
    }

    /// Positions currently in the cache.
    pub fn cached_len(&self) -> usize {
        match &self.net {
            Network::Llama(l) => l.cached_tokens().len(),
            _ => self.other_pos,
        }
    }

    /// Runs `tokens` after the cached positions; returns the last position's logits as f32.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError> {
        let pos = self.other_pos;
        let input =
            || -> candle_core::Result<Tensor> { Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0) };
        // For candle's models index_pos 0 drops their cache and starts afresh.
        let logits = match &mut self.net {
            Network::Llama(l) => return Ok(l.forward(tokens)?),
            Network::Gemma3(m) => m.forward(&input()?, pos)?,
            Network::Phi3(m) => m.forward(&input()?, pos)?,
        };
        if !matches!(self.net, Network::Llama(_)) {
            self.other_pos = pos + tokens.len();
        }
        Ok(logits
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?)
    }

    /// Whether [`Self::forward_rows`] can check a drafted continuation in one pass (ours).
    pub fn checks_drafts(&self) -> bool {
        matches!(self.net, Network::Llama(_))
    }

    /// Runs `tokens` after the cached positions; returns the logits of the last `rows` of
    /// them (`rows × vocab`). Our llama/qwen2 pass only ([`Self::checks_drafts`]).
    pub fn forward_rows(&mut self, tokens: &[u32], rows: usize) -> Result<Vec<f32>, LlmError> {
        match &mut self.net {
            Network::Llama(l) => Ok(l.forward_rows(tokens, rows)?),
            _ => Err(LlmError::Inference(
                "this model checks one token at a time".to_string(),
            )),
        }
    }

    /// Where forward passes spent their time since the last call (our llama/qwen2 pass only).
    pub fn take_time_split(&mut self) -> Option<super::llama::TimeSplit> {
        match &mut self.net {
            Network::Llama(l) => Some(l.take_time_split()),
            _ => None,
        }
    }

    /// Whether a prompt may be run in several chunks (ours handles any offset; candle's gemma3
    /// mask assumes a prompt starts at 0).
    pub fn supports_chunked_prefill(&self) -> bool {
        matches!(self.net, Network::Llama(_))
    }
}
