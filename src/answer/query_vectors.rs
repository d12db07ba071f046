//! The sentence vectors of queries searched lately. Under a spike on one article many readers
//! ask the same questions (the headline's, the suggested ones, a conversation's first), and the
//! question's embedding is most of what retrieval costs: kept, the same query is embedded once.
use crate::embed::{EmbedError, Embedder};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// Queries whose vectors are kept.
const KEPT: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

pub struct QueryVectors {
    kept: Mutex<LruCache<String, Arc<Vec<f32>>>>,
}

impl Default for QueryVectors {
    fn default() -> Self {
        QueryVectors {
            kept: Mutex::new(LruCache::new(KEPT)),
        }
    }
}

impl QueryVectors {
    /// `query`'s embedding, kept or made now (and kept).
    pub fn embed(&self, embedder: &Embedder, query: &str) -> Result<Arc<Vec<f32>>, EmbedError> {
        let kept = self.lock().get(query).cloned();
        if let Some(v) = kept {
            return Ok(v);
        }
        let v = Arc::new(embedder.embed_one(query)?);
        self.lock().put(query.to_string(), v.clone());
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Vec<f32>>>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}
