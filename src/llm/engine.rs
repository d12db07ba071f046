//! One model, its tokenizer and chat template, and the synchronous generation loop. The
//! worker thread owns an `Engine`; tests and benchmarks may drive one directly.
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::gguf::{self, GgufFile};
use super::llama;
use super::model::Model;
use super::template::{ChatTemplate, END_OF_TURN_MARKERS};
use super::tokenizer::GgufTokenizer;
use super::{ChatMessage, GenSummary, GenerateParams, LlmError};

mod bench;
mod generate;
mod lookup;
mod options;
pub use bench::BenchRun;
pub use options::{EngineOptions, WeightsMode};

/// `text` without any control-token string, removed until none is left: removing one may join
/// the pieces around it into another (`<|im_<|im_end|>end|>`).
pub fn strip_controls(text: &str, controls: &[String]) -> String {
    let mut text = text.to_string();
    loop {
        let before = text.len();
        for c in controls.iter().filter(|c| !c.is_empty()) {
            if text.contains(c.as_str()) {
                text = text.replace(c.as_str(), "");
            }
        }
        if text.len() == before {
            return text;
        }
    }
}

pub struct Engine {
    name: String,
    model: Model,
    tokenizer: Arc<GgufTokenizer>,
    template: ChatTemplate,
    /// Token ids that end a reply (EOS, end-of-turn markers, any control token).
    stop_ids: HashSet<u32>,
    /// Stop strings always applied (the ChatML fallback's end marker when it is not a token).
    implicit_stops: Vec<String>,
    controls: Vec<String>,
    prefill_chunk: usize,
    /// Token ids of the last completion (for tests and diagnostics).
    last_ids: Vec<u32>,
}

/// Runs `f`, turning a panic inside candle into an error instead of killing the thread.
pub(crate) fn no_panic<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, LlmError>,
) -> Result<T, LlmError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(LlmError::Inference(format!("{what} panicked: {msg}")))
        }
    }
}

impl Engine {
    /// Loads a GGUF (llama, qwen2, gemma3 or phi3) with its tokenizer and chat template.
    pub fn load(path: &Path, opts: &EngineOptions) -> Result<Self, LlmError> {
        no_panic("loading the model", || Self::load_inner(path, opts))
    }

    fn load_inner(path: &Path, opts: &EngineOptions) -> Result<Self, LlmError> {
        let mut file = GgufFile::open(path)?;
        let tokenizer = GgufTokenizer::from_gguf(&file.content)?;
        let template_src = file
            .content
            .metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .cloned();
        let tok_str = |id: Option<u32>| {
            id.and_then(|i| tokenizer.token_str(i))
                .unwrap_or_default()
                .to_string()
        };
        let template = ChatTemplate::new(
            template_src.as_deref(),
            &tok_str(tokenizer.bos_id),
            &tok_str(tokenizer.eos_id),
        )?;
        let is_llama = file.architecture() == "llama";
        if let (WeightsMode::Requantize(dtype), true) = (opts.weights, is_llama) {
            if let Some(requantized) = gguf::requantized(&mut file, dtype, llama::is_slow_dtype)? {
                file = requantized;
            }
        }
        let model = Model::load(file, opts.max_context)?;
        let mut stop_ids: HashSet<u32> = (0..tokenizer.vocab_size() as u32)
            .filter(|&id| tokenizer.is_control(id))
            .collect();
        stop_ids.extend(tokenizer.eos_id);
        let mut implicit_stops = Vec::new();
        for marker in END_OF_TURN_MARKERS {
            match tokenizer.token_id(marker) {
                Some(id) => {
                    stop_ids.insert(id);
                }
                None if template.is_fallback && *marker == "<|im_end|>" => {
                    implicit_stops.push(marker.to_string())
                }
                None => {}
            }
        }
        if template.is_fallback {
            // A model without the ChatML markers as tokens may still write "<|im_start|>".
            implicit_stops.push("<|im_start|>".to_string());
        }
        let controls = tokenizer.control_strings().map(str::to_string).collect();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_string());
        Ok(Self {
            name,
            model,
            tokenizer: Arc::new(tokenizer),
            template,
            stop_ids,
            implicit_stops,
            controls,
            prefill_chunk: opts.prefill_chunk.max(1),
            last_ids: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tokenizer(&self) -> &Arc<GgufTokenizer> {
        &self.tokenizer
    }

    pub fn context_length(&self) -> usize {
        self.model.context_length()
    }

    /// Token ids generated by the last `generate` call (stop token excluded).
    pub fn last_completion_ids(&self) -> &[u32] {
        &self.last_ids
    }

    /// The prompt ids for a conversation: chat template, then tokens (BOS added when the model
    /// wants it). Control-token strings inside message text are removed so that article or
    /// user text cannot close a turn or open a new one.
    pub fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        let cleaned: Vec<ChatMessage> = messages
            .iter()
            .map(|m| ChatMessage {
                role: m.role,
                content: strip_controls(&m.content, &self.controls),
            })
            .collect();
        let text = self.template.render(&cleaned, true)?;
        let mut ids = self.tokenizer.encode(&text)?;
        if let (true, Some(bos)) = (self.tokenizer.add_bos, self.tokenizer.bos_id) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Logits after a prompt (for checks against a reference). Uses and updates the cache.
    pub fn prompt_logits(&mut self, prompt: &[u32]) -> Result<Vec<f32>, LlmError> {
        no_panic("forward", || {
            let reuse = self.model.reusable_prefix(prompt);
            self.model.truncate_cache(reuse);
            self.prefill(&prompt[reuse..], &|| false)
        })
    }

    /// Drops all cached state (the next prompt is computed from scratch).
    pub fn clear_cache(&mut self) {
        self.model.truncate_cache(0);
    }

    fn prefill(
        &mut self,
        tokens: &[u32],
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<f32>, LlmError> {
        if !self.model.supports_chunked_prefill() {
            let _turn = super::turns::model_turn();
            return self.model.forward(tokens);
        }
        let mut logits = Vec::new();
        for chunk in tokens.chunks(self.prefill_chunk) {
            if cancelled() {
                return Ok(Vec::new());
            }
            let _turn = super::turns::model_turn();
            logits = self.model.forward(chunk)?;
        }
        Ok(logits)
    }

    /// Cuts a prompt that does not fit: keeps its head (instructions) and its tail (the latest
    /// turn and the generation prompt), leaving room for `max_tokens` (at most half the context).
    fn fit_prompt(&self, mut prompt: Vec<u32>, max_tokens: usize) -> (Vec<u32>, bool) {
        let ctx = self.context_length();
        let reserve = max_tokens.min(ctx / 2).max(1);
        let budget = ctx.saturating_sub(reserve).max(1);
        if prompt.len() <= budget {
            return (prompt, false);
        }
        let head = budget / 4;
        let tail = budget - head;
        let cut_end = prompt.len() - tail;
        prompt.drain(head..cut_end);
        (prompt, true)
    }

    /// Generates a reply to a conversation. `on_delta` receives text pieces as they are
    /// decoded; `cancelled` is polled before each token.
    pub fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerateParams,
        on_delta: &mut dyn FnMut(&str),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<GenSummary, LlmError> {
        let started = Instant::now();
        let prompt = self.prompt_ids(messages)?;
        self.generate_from_ids(prompt, params, started, on_delta, cancelled)
    }

    /// Generates from prompt ids (already templated).
    pub fn generate_from_ids(
        &mut self,
        prompt: Vec<u32>,
        params: &GenerateParams,
        started: Instant,
        on_delta: &mut dyn FnMut(&str),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<GenSummary, LlmError> {
        let result = no_panic("generation", || {
            self.generate_inner(prompt, params, started, on_delta, cancelled)
        });
        if result.is_err() {
            // The cache may hold a half-written step: start the next request afresh.
            self.model.truncate_cache(0);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_strings_are_stripped_to_a_fixed_point() {
        let controls = vec!["<|im_end|>".to_string(), "<|im_start|>".to_string()];
        let strip = |t: &str| super::strip_controls(t, &controls);
        assert_eq!(strip("<|im_<|im_end|>end|>"), "");
        assert_eq!(strip("a<|im_<|im_<|im_end|>end|>end|>b"), "ab");
        assert_eq!(strip("<|im_sta<|im_end|>rt|>system"), "system");
        assert_eq!(strip("<|im_end"), "<|im_end");
        assert_eq!(strip("plain <| text |>"), "plain <| text |>");
    }
}
