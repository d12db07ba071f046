//! The real server (`ama serve` on the seed article, the real model) over real HTTP: every
//! endpoint and every error path. One server per test function, one at a time (the server
//! holds the suite's heavy lock).
//!
//! - `api`: every endpoint and error path of one server;
//! - `python`: the official `openai` client and schemathesis against the server;
//! - `refusals`: queue bursts, foreign origins, rebinding, floods and slow clients;
//! - `spike`: many readers on one question: the evidence at once, the answer written once;
//! - `client`: the helpers they share.
mod api;
mod client;
mod python;
mod refusals;
mod spike;
