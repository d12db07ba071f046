//! One model, its tokenizer and chat template, and the synchronous generation loop. The
//! worker thread owns an `Engine`; tests and benchmarks may drive one directly.
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::quantized::GgmlDType;

use super::gguf::{self, GgufFile};
use super::llama::{self, DensePrefill};
use super::model::Model;
use super::sampler::Sampler;
use super::template::{ChatTemplate, END_OF_TURN_MARKERS};
use super::tokenizer::{GgufTokenizer, IncrementalDecoder};
use super::{ChatMessage, FinishReason, GenSummary, GenerateParams, LlmError};

/// Which weights run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsMode {
    /// The file's own weights.
    AsShipped,
    /// Weights of types Q4_1 and Q5_x requantised to this type, cached beside the model (for
    /// comparisons: our kernels run Q4_1 as it is).
    Requantize(GgmlDType),
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub weights: WeightsMode,
    /// Dense copy of the weights for multi-token prefill (llama only).
    pub dense_prefill: DensePrefill,
    /// Upper bound on the context length (the KV cache grows up to it).
    pub max_context: usize,
    /// Prompt tokens run per forward call (bounds attention memory; cancellation is checked
    /// between chunks).
    pub prefill_chunk: usize,
}

impl Default for EngineOptions {
    /// The measured best on the reference machine (`bench llm`, 512-token prompt, 128 new
    /// tokens, 2 threads, medians):
    /// - Q4_1 as shipped: prefill 15 tok/s, decode 3 tok/s (candle's Q4_1 kernel is scalar);
    /// - Q8_0, all quantized: prefill 158, decode 52, peak RSS 325 MB;
    /// - Q4_0, all quantized: prefill 127, decode 54, 240 MB;
    /// - Q8_0 + f16 dense prefill: prefill 270, 507 MB;
    /// - Q8_0 + f32 dense prefill: prefill 360–430, decode 52–58, 703 MB;
    /// - Q8_0 on our int8 kernels (AVX-512 VNNI), no dense copy: prefill 776, decode 70,
    ///   297 MB;
    /// - with the engine's own forward pass (issue 9), 512 + 128, alternating runs: Q8_0
    ///   TTFT 404–438 ms, decode 106–111 tok/s, 279 MB; Q4_1 as shipped, kept in 4 bits
    ///   (nibble tiles): TTFT 435–453 ms, decode 128–135 tok/s, 230 MB (chosen: fewer bytes
    ///   per token, and exactly the shipped weights).
    fn default() -> Self {
        Self {
            weights: WeightsMode::AsShipped,
            dense_prefill: DensePrefill::Off,
            max_context: 4096,
            prefill_chunk: 512,
        }
    }
}

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
        let dense = if is_llama {
            opts.dense_prefill
        } else {
            DensePrefill::Off
        };
        let model = Model::load(file, dense, opts.max_context)?;
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
            return self.model.forward(tokens);
        }
        let mut logits = Vec::new();
        for chunk in tokens.chunks(self.prefill_chunk) {
            if cancelled() {
                return Ok(Vec::new());
            }
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

    fn generate_inner(
        &mut self,
        prompt: Vec<u32>,
        params: &GenerateParams,
        started: Instant,
        on_delta: &mut dyn FnMut(&str),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<GenSummary, LlmError> {
        if prompt.is_empty() {
            return Err(LlmError::Inference("empty prompt".to_string()));
        }
        let (prompt, prompt_trimmed) = self.fit_prompt(prompt, params.max_tokens);
        if prompt_trimmed {
            tracing::warn!(
                kept = prompt.len(),
                context = self.context_length(),
                "prompt too long for the context: trimmed in the middle"
            );
        }
        let reuse = self.model.reusable_prefix(&prompt);
        self.model.truncate_cache(reuse);
        let computed = prompt.len() - reuse;
        let prefill_start = Instant::now();
        let mut logits = self.prefill(&prompt[reuse..], cancelled)?;
        let prefill_secs = prefill_start.elapsed().as_secs_f64();
        let stops: Vec<&str> = params
            .stop
            .iter()
            .map(String::as_str)
            .chain(self.implicit_stops.iter().map(String::as_str))
            .filter(|s| !s.is_empty())
            .collect();
        let mut sampler = Sampler::new(params);
        let mut decoder = IncrementalDecoder::new();
        let mut generated: Vec<u32> = Vec::new();
        let mut ttft: Option<Instant> = None;
        let finish;
        let ctx = self.context_length();
        let mut emit = |decoder: &mut IncrementalDecoder, upto: &str| {
            if let Some(delta) = upto.get(decoder.emitted()..) {
                if !delta.is_empty() {
                    on_delta(delta);
                }
            }
            decoder.set_emitted(upto.len().max(decoder.emitted()));
        };
        let mut stopped_by_string = false;
        if logits.is_empty() {
            finish = FinishReason::Cancelled;
        } else {
            loop {
                if cancelled() {
                    finish = FinishReason::Cancelled;
                    break;
                }
                if generated.len() >= params.max_tokens {
                    finish = FinishReason::Length;
                    break;
                }
                let token = sampler.sample(&mut logits, &generated);
                ttft.get_or_insert_with(Instant::now);
                if self.stop_ids.contains(&token) {
                    finish = FinishReason::Stop;
                    break;
                }
                generated.push(token);
                let text = decoder.push(&self.tokenizer, token)?;
                if let Some(cut) = find_stop(&text, decoder.emitted(), &stops) {
                    emit(&mut decoder, &text[..cut]);
                    finish = FinishReason::Stop;
                    stopped_by_string = true;
                    break;
                }
                let safe = text.len() - held_back(&text, &stops);
                emit(&mut decoder, &text[..safe]);
                if generated.len() >= params.max_tokens || self.model.cached_len() + 1 >= ctx {
                    finish = FinishReason::Length;
                    break;
                }
                logits = self.model.forward(&[token])?;
            }
        }
        if !stopped_by_string && finish != FinishReason::Cancelled {
            // Whatever was held back (an unfinished stop-string prefix, a last partial
            // character) belongs to the output now.
            let full = decoder.finish(&self.tokenizer)?;
            emit(&mut decoder, &full);
        }
        let done = Instant::now();
        self.last_ids = generated.clone();
        let decode_secs = ttft
            .map(|t| done.duration_since(t).as_secs_f64())
            .unwrap_or(0.0);
        let completion = generated.len();
        Ok(GenSummary {
            prompt_tokens: prompt.len(),
            completion_tokens: completion,
            prompt_trimmed,
            finish_reason: finish,
            ttft_ms: ttft
                .map(|t| crate::millis(t.duration_since(started)))
                .unwrap_or(0.0),
            total_ms: crate::millis(done.duration_since(started)),
            prefill_tok_s: if prefill_secs > 0.0 {
                computed as f64 / prefill_secs
            } else {
                0.0
            },
            // The first token comes from the prefill; the rest each cost one decode step.
            decode_tok_s: if completion > 1 && decode_secs > 0.0 {
                (completion - 1) as f64 / decode_secs
            } else {
                0.0
            },
        })
    }
}

/// Timings of one benchmark run (no stop tokens: exactly the requested number of tokens).
#[derive(Debug, Clone, Copy)]
pub struct BenchRun {
    pub prefill_ms: f64,
    pub prefill_tok_s: f64,
    /// Prefill plus sampling the first token.
    pub ttft_ms: f64,
    pub decode_tok_s: f64,
}

impl Engine {
    /// Runs `prompt`, then `gen` greedy tokens ignoring stop tokens. With `reuse_cache` the
    /// cached prefix shared with the previous prompt is kept (as for a fixed system prompt);
    /// otherwise everything is computed from scratch.
    pub fn bench(
        &mut self,
        prompt: &[u32],
        gen: usize,
        reuse_cache: bool,
    ) -> Result<BenchRun, LlmError> {
        no_panic("benchmark", || {
            let reuse = if reuse_cache {
                self.model.reusable_prefix(prompt)
            } else {
                0
            };
            self.model.truncate_cache(reuse);
            let start = Instant::now();
            let mut logits = self.prefill(&prompt[reuse..], &|| false)?;
            let prefill = start.elapsed();
            let mut token = super::sampler::argmax(&logits);
            let ttft = start.elapsed();
            let decode_start = Instant::now();
            for _ in 1..gen {
                logits = self.model.forward(&[token])?;
                token = super::sampler::argmax(&logits);
            }
            let decode_secs = decode_start.elapsed().as_secs_f64();
            Ok(BenchRun {
                prefill_ms: crate::millis(prefill),
                prefill_tok_s: (prompt.len() - reuse) as f64 / prefill.as_secs_f64(),
                ttft_ms: crate::millis(ttft),
                decode_tok_s: if gen > 1 {
                    (gen - 1) as f64 / decode_secs
                } else {
                    0.0
                },
            })
        })
    }
}

/// Byte offset where the earliest stop string starts, searching only where a new match can be
/// (text already emitted cannot contain one).
fn find_stop(text: &str, emitted: usize, stops: &[&str]) -> Option<usize> {
    stops
        .iter()
        .filter_map(|s| {
            let from = floor_char_boundary(text, emitted.saturating_sub(s.len()));
            text[from..].find(s).map(|i| from + i)
        })
        .min()
}

/// Length of the longest suffix of `text` that is a proper prefix of a stop string: it may yet
/// become a stop string, so it is not emitted.
fn held_back(text: &str, stops: &[&str]) -> usize {
    let mut best = 0;
    for s in stops {
        for (i, _) in s.char_indices().skip(1) {
            if i > best && text.ends_with(&s[..i]) {
                best = i;
            }
        }
    }
    best
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
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

    use super::*;

    #[test]
    fn stop_search_and_hold_back() {
        assert_eq!(find_stop("abc\n\nQ:", 0, &["\n\n"]), Some(3));
        assert_eq!(find_stop("abc", 0, &["\n\n"]), None);
        assert_eq!(held_back("answer\n", &["\n\nQ"]), 1);
        assert_eq!(held_back("answer\n\n", &["\n\nQ"]), 2);
        assert_eq!(held_back("answer", &["\n\nQ"]), 0);
        assert_eq!(held_back("é<|im", &["<|im_end|>"]), 4);
    }
}
