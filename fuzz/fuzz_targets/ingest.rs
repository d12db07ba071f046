#![no_main]
//! See `checks.rs`: `ingest`.
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::ingest(data));
