//! `bench llm`: timed runs of a prompt and a fixed number of greedy tokens.
use std::time::Instant;

use super::{no_panic, Engine};
use crate::llm::llama::TimeSplit;
use crate::llm::LlmError;

/// Timings of one benchmark run (no stop tokens: exactly the requested number of tokens).
#[derive(Debug, Clone, Copy)]
pub struct BenchRun {
    pub prefill_ms: f64,
    pub prefill_tok_s: f64,
    /// Prefill plus sampling the first token.
    pub ttft_ms: f64,
    pub decode_tok_s: f64,
    /// Where the prefill spent its time (our llama/qwen2 pass only).
    pub prefill_split: Option<TimeSplit>,
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
            self.model.take_time_split();
            let start = Instant::now();
            let mut logits = self.prefill(&prompt[reuse..], &|| false)?;
            let prefill = start.elapsed();
            let prefill_split = self.model.take_time_split();
            let mut token = crate::llm::sampler::argmax(&logits);
            let ttft = start.elapsed();
            let decode_start = Instant::now();
            for _ in 1..gen {
                logits = self.model.forward(&[token])?;
                token = crate::llm::sampler::argmax(&logits);
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
                prefill_split,
            })
        })
    }
}
