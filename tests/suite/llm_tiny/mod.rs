//! Fast engine tests on a tiny random-weights llama GGUF written by the test itself: loading,
//! requantisation cache, streaming, context limits, and clear errors for bad
//! model files. No download needed.
//!
//! - `fixture`: the tiny GGUF and the engine options;
//! - `engine`: the engine's numbers, streaming and limits;
//! - `bad_files`: model files refused with clear errors;
//! - `worker`: the worker thread, from sync and async code.
mod bad_files;
mod engine;
mod fixture;
mod worker;
