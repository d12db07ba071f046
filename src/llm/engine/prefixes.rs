//! Prompts kept for their prefixes: the keys and values of recent prompts, so that a prompt
//! sharing a long start with one of them (the same passage read for another question, while
//! the live cache holds a different one) is prefilled only from where they part. The least
//! recently used go first once they hold more than the budget.
use crate::llm::llama::SavedPrefix;
use crate::llm::model::Model;

/// Bytes of saved prompts kept (about 1,700 positions of the 1.5B reader, 4,000 of the 0.5B).
pub(super) const SAVED_PREFIX_BYTES: usize = 96 << 20;
/// A saved prompt is restored only when it saves at least this many positions over the live
/// cache's own prefix (a copy is cheap, but not free).
const MIN_GAIN: usize = 32;
/// Prompts shorter than this are not worth keeping.
const MIN_TOKENS: usize = 64;

#[derive(Default)]
pub(super) struct PrefixStore {
    /// (last use, prompt), in no order.
    saved: Vec<(u64, SavedPrefix)>,
    clock: u64,
}

fn common(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PrefixStore {
    /// Restores the saved prompt sharing the longest start with `prompt` when it beats the live
    /// cache's `live` reusable positions by [`MIN_GAIN`]; returns the positions now reusable
    /// (at least one prompt token is always left to run).
    pub(super) fn restore(&mut self, model: &mut Model, prompt: &[u32], live: usize) -> usize {
        let limit = prompt.len().saturating_sub(1);
        let best = self
            .saved
            .iter_mut()
            .map(|(used, s)| (common(s.tokens(), prompt).min(limit), used, s))
            .max_by_key(|(n, _, _)| *n);
        let Some((n, used, saved)) = best else {
            return live;
        };
        if n < live + MIN_GAIN || !model.restore_prefix(saved, n) {
            return live;
        }
        self.clock += 1;
        *used = self.clock;
        n
    }

    /// Keeps the model's cached positions (a prompt just prefilled), unless a saved prompt
    /// already holds them all; then drops the least recently used beyond the budget.
    pub(super) fn keep(&mut self, model: &Model) {
        let cached = model.cached_tokens();
        if cached.len() < MIN_TOKENS {
            return;
        }
        self.clock += 1;
        if let Some((used, _)) = self
            .saved
            .iter_mut()
            .find(|(_, s)| common(s.tokens(), cached) == cached.len())
        {
            *used = self.clock;
            return;
        }
        let Some(saved) = model.save_prefix() else {
            return;
        };
        self.saved.push((self.clock, saved));
        let mut held: usize = self.saved.iter().map(|(_, s)| s.bytes()).sum();
        while held > SAVED_PREFIX_BYTES && self.saved.len() > 1 {
            let Some(oldest) = self
                .saved
                .iter()
                .enumerate()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(i, _)| i)
            else {
                break;
            };
            held -= self.saved.swap_remove(oldest).1.bytes();
        }
    }
}
