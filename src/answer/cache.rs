//! A small in-memory cache of answers. The index is fixed for the life of an [`super::Answerer`],
//! so an identical question (same words, article and history) has the same answer.
use super::{AnswerRequest, AnswerResult};
use crate::text;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};

/// Values kept by key, the least recently used dropped past the capacity (0 keeps none): the
/// answers here, the retrievals in [`super::prepared_cache`].
pub struct KeptByKey<V> {
    entries: Option<Mutex<LruCache<String, V>>>,
}

impl<V: Clone> KeptByKey<V> {
    pub fn new(capacity: usize) -> Self {
        KeptByKey {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    fn entries(&self) -> Option<MutexGuard<'_, LruCache<String, V>>> {
        let entries = self.entries.as_ref()?;
        Some(entries.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A copy of the value kept for `key` (now the most recently used).
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries()?.get(key).cloned()
    }

    /// Whether a value is kept for `key` (without touching its place).
    pub fn contains(&self, key: &str) -> bool {
        self.entries().is_some_and(|e| e.contains(key))
    }

    pub fn put(&self, key: String, value: &V) {
        if let Some(mut entries) = self.entries() {
            entries.put(key, value.clone());
        }
    }
}

pub struct AnswerCache {
    entries: KeptByKey<AnswerResult>,
}

impl AnswerCache {
    /// A cache of `capacity` answers; 0 disables it.
    pub fn new(capacity: usize) -> Self {
        AnswerCache {
            entries: KeptByKey::new(capacity),
        }
    }

    /// The key: the normalised question, the article and the conversation so far.
    pub fn key(request: &AnswerRequest) -> String {
        let history: Vec<(&str, String)> = request
            .history
            .iter()
            .map(|m| (m.role.as_str(), text::normalise(&m.content)))
            .collect();
        serde_json::json!([text::normalise(&request.question), request.article, history])
            .to_string()
    }

    /// The cached answer, marked `cached`.
    pub fn get(&self, request: &AnswerRequest) -> Option<AnswerResult> {
        let mut hit = self.entries.get(&Self::key(request))?;
        hit.cached = true;
        Some(hit)
    }

    pub fn put(&self, request: &AnswerRequest, result: &AnswerResult) {
        self.entries.put(Self::key(request), result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;

    fn request(q: &str, history: Vec<ChatMessage>) -> AnswerRequest {
        AnswerRequest {
            question: q.into(),
            history,
            article: None,
        }
    }

    #[test]
    fn same_question_hits_other_context_misses() {
        let cache = AnswerCache::new(2);
        let a = request("Who replaced him?", vec![]);
        let result: AnswerResult = serde_json::from_value(serde_json::json!({
            "question": "Who replaced him?", "query": "", "answer": "X [1].", "evidence": [],
            "citations": [], "related": [], "declined": false, "decline_reason": null,
            "draft": "", "revised": false, "quoted_evidence": false,
            "timings": {"retrieval_ms": 0.0, "ttft_ms": 0.0, "total_ms": 0.0},
            "tokens": {"prompt": 0, "completion": 0}
        }))
        .unwrap();
        cache.put(&a, &result);
        // Case and spacing do not matter; history and article do.
        let hit = cache.get(&request("  who REPLACED him? ", vec![]));
        assert!(hit.is_some_and(|r| r.cached && r.answer == "X [1]."));
        assert!(cache
            .get(&request(
                "Who replaced him?",
                vec![ChatMessage::user("Who is Z?")]
            ))
            .is_none());
        let mut other_article = a.clone();
        other_article.article = Some("x".into());
        assert!(cache.get(&other_article).is_none());
        assert!(AnswerCache::new(0).get(&a).is_none());
    }
}
