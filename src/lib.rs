//! Ask me anything: a local question-answering chatbot over articles.
//!
//! Data flows one way through the modules:
//! `corpus` (read articles, split passages) → `index` (tantivy) → `llm` (GGUF model,
//! tokenizer, sampler, worker) → `answer` → `server`. No module reaches back up the chain.

pub mod answer;
pub mod bench;
pub mod corpus;
pub mod index;
pub mod llm;
pub mod progress;
pub mod server;

/// Milliseconds of a duration, as the timings report them.
pub fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
