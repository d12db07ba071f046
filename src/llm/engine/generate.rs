//! The generation loop: the prompt fitted to the context and prefilled past the cached
//! prefix, tokens sampled until a stop token, a stop string or the limit, and text deltas
//! streamed, holding back what may yet become a stop string.
use std::collections::VecDeque;
use std::time::Instant;

use super::{lookup, Engine};
use crate::llm::sampler::{self, Sampler};
use crate::llm::tokenizer::IncrementalDecoder;
use crate::llm::{FinishReason, GenSummary, GenerateParams, LlmError};

impl Engine {
    pub(super) fn generate_inner(
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
        let likely_reply = self.likely_reply_start(params, &sampler);
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
        // Greedy decoding checks drafts looked up in the prompt (`lookup`): each drafted token
        // already fed to the model, with the logits after it.
        let drafting = sampler.is_greedy() && self.model.checks_drafts();
        let mut fed: VecDeque<(u32, Vec<f32>)> = VecDeque::new();
        let mut passes = 0;
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
                let mut token = sampler.sample(&mut logits, &generated);
                if let Some((start, min)) = likely_reply.filter(|_| generated.is_empty()) {
                    if token != start && sampler::probability(&logits, start) >= min {
                        token = start;
                    }
                }
                if fed.front().is_some_and(|(drafted, _)| *drafted != token) {
                    // The model chose otherwise: the cache forgets the drafted tokens.
                    let keep = self.model.cached_len().saturating_sub(fed.len());
                    self.model.truncate_cache(keep);
                    fed.clear();
                }
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
                if let Some((_, next)) = fed.pop_front() {
                    // The drafted token was this one: its logits are computed.
                    logits = next;
                    continue;
                }
                let room = ctx.saturating_sub(self.model.cached_len() + 2);
                let left = params.max_tokens.saturating_sub(generated.len() + 1);
                let draft = if drafting {
                    lookup::draft(&prompt, &generated, lookup::MAX_DRAFT.min(room).min(left))
                } else {
                    Vec::new()
                };
                passes += 1;
                // Each pass is one of the model's turns on the cores (`llm::turns`).
                let _turn = crate::llm::turns::model_turn();
                if draft.is_empty() {
                    logits = self.model.forward(&[token])?;
                    continue;
                }
                let input: Vec<u32> = std::iter::once(token)
                    .chain(draft.iter().copied())
                    .collect();
                let rows = self.model.forward_rows(&input, input.len())?;
                let mut rows = rows.chunks_exact(rows.len() / input.len());
                logits = rows.next().map(<[f32]>::to_vec).unwrap_or_default();
                fed.extend(draft.into_iter().zip(rows.map(<[f32]>::to_vec)));
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
            decode_passes: passes,
        })
    }

    /// The first token of the params' likely reply and the probability from which it is
    /// taken ([`crate::llm::LikelyReply`]), for a greedy reply.
    fn likely_reply_start(&self, params: &GenerateParams, sampler: &Sampler) -> Option<(u32, f32)> {
        let reply = params.likely_reply.as_ref()?;
        if !sampler.is_greedy() {
            return None;
        }
        let start = *self.tokenizer.encode(reply.text.trim()).ok()?.first()?;
        Some((start, reply.min_probability))
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
