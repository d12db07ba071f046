//! The integration tests, one binary (one link of the whole crate instead of one per file):
//! the real binary, model, HTTP server, `openai` client and browser. Tests that run a model
//! or a server hold [`common::heavy`], so that two of them never fight over the two cores.
mod common;

mod answer_seed;
mod browser;
mod embed;
mod fuzzing;
mod http;
mod llm_cli;
mod llm_fetch;
mod llm_gemma3;
mod llm_generation;
mod llm_qwen;
mod llm_tiny;
mod llm_tokenizer;
mod postgres;
mod remote;
mod replicas;
mod retrieval;
