//! A prompt's keys and values copied out of the cache, to be copied back when a later prompt
//! starts with the same tokens (the same passage read for another question): its prefill
//! then runs from where they part. Copied exactly (f32), so an answer does not depend on
//! what was asked before it.
use super::Llama;

/// The cache of the first `tokens.len()` positions of a prompt.
pub struct SavedPrefix {
    tokens: Vec<u32>,
    /// Per layer: the key tiles holding those positions, then their values.
    layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl SavedPrefix {
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|(k, v)| (k.len() + v.len()) * 4)
            .sum::<usize>()
            + self.tokens.len() * 4
    }
}

impl Llama {
    /// A copy of the cached positions.
    pub fn save_prefix(&self) -> SavedPrefix {
        let len = self.cached.len();
        let kv_dim = self.cfg.n_kv_head * self.cfg.head_dim;
        let key_floats = len.div_ceil(16) * 16 * kv_dim;
        SavedPrefix {
            tokens: self.cached.clone(),
            layers: self
                .layers
                .iter()
                .map(|l| {
                    (
                        l.k_cache[..key_floats.min(l.k_cache.len())].to_vec(),
                        l.v_cache[..len * kv_dim].to_vec(),
                    )
                })
                .collect(),
        }
    }

    /// Puts the first `len` positions of `saved` back in the cache (`len` at most its length)
    /// and forgets the positions after them.
    pub fn restore_prefix(&mut self, saved: &SavedPrefix, len: usize) {
        let len = len.min(saved.tokens.len());
        self.reserve(len.max(1));
        let kv_dim = self.cfg.n_kv_head * self.cfg.head_dim;
        // Whole key tiles: the positions of the last tile past `len` are forgotten anyway.
        let key_floats = len.div_ceil(16) * 16 * kv_dim;
        for (layer, (k, v)) in self.layers.iter_mut().zip(&saved.layers) {
            let key_floats = key_floats.min(k.len());
            layer.k_cache[..key_floats].copy_from_slice(&k[..key_floats]);
            layer.v_cache[..len * kv_dim].copy_from_slice(&v[..len * kv_dim]);
        }
        self.cached.clear();
        self.cached.extend_from_slice(&saved.tokens[..len]);
    }
}
