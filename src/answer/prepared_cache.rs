//! Retrievals kept: the evidence and the decision of a question asked on its own before (the answer
//! cache's key: normalised words, article, conversation). The index is fixed for the life of
//! an [`super::Answerer`], so retrieval gives the same evidence every time; kept, a repeated
//! question whose answer is not cached (the model was busy the first time) or is still being
//! written gets its quoted evidence without waiting for a turn of retrieval, which under a
//! spike waits behind every other reader's ([`super::RetrievalBudget`]).
use super::cache::KeptByKey;
use super::retriever::Prepared;
use std::time::Instant;

pub struct PreparedCache {
    entries: KeptByKey<Prepared>,
}

impl PreparedCache {
    /// Up to `capacity` retrievals; 0 keeps none.
    pub fn new(capacity: usize) -> PreparedCache {
        PreparedCache {
            entries: KeptByKey::new(capacity),
        }
    }

    /// The retrieval kept for `key`, as if made now (its time taken: none).
    pub fn get(&self, key: &str) -> Option<Prepared> {
        let mut kept = self.entries.get(key)?;
        kept.retrieval_ms = 0.0;
        kept.started = Instant::now();
        Some(kept)
    }

    /// Whether a retrieval is kept for `key` (without touching its place).
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains(key)
    }

    pub fn put(&self, key: String, prepared: &Prepared) {
        self.entries.put(key, prepared);
    }
}
