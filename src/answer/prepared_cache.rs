//! Retrievals kept: the evidence and the decision of a question asked on its own before (the answer
//! cache's key: normalised words, article, conversation). The index is fixed for the life of
//! an [`super::Answerer`], so retrieval gives the same evidence every time; kept, a repeated
//! question whose answer is not cached (the model was busy the first time) or is still being
//! written gets its quoted evidence without waiting for a turn of retrieval, which under a
//! spike waits behind every other reader's ([`super::RetrievalBudget`]).
use super::retriever::Prepared;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

pub struct PreparedCache {
    entries: Option<Mutex<LruCache<String, Prepared>>>,
}

impl PreparedCache {
    /// Up to `capacity` retrievals; 0 keeps none.
    pub fn new(capacity: usize) -> PreparedCache {
        PreparedCache {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    fn entries(&self) -> Option<MutexGuard<'_, LruCache<String, Prepared>>> {
        let entries = self.entries.as_ref()?;
        Some(entries.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The retrieval kept for `key`, as if made now (its time taken: none).
    pub fn get(&self, key: &str) -> Option<Prepared> {
        let mut kept = self.entries()?.get(key).cloned()?;
        kept.retrieval_ms = 0.0;
        kept.started = Instant::now();
        Some(kept)
    }

    /// Whether a retrieval is kept for `key` (without touching its place).
    pub fn contains(&self, key: &str) -> bool {
        self.entries().is_some_and(|e| e.contains(key))
    }

    pub fn put(&self, key: String, prepared: &Prepared) {
        if let Some(mut entries) = self.entries() {
            entries.put(key, prepared.clone());
        }
    }
}
