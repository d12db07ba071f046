#![no_main]
//! See `checks.rs`: `tokenizer`. The tokenizer is SmolLM2's, read once from the GGUF named by
//! `AMA_FUZZ_GGUF` (`fuzz/run.sh` fetches the model and sets it).
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[path = "../checks.rs"]
mod checks;

fn tokenizer() -> &'static checks::Tokenizer {
    static TOKENIZER: OnceLock<checks::Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let path = std::env::var("AMA_FUZZ_GGUF").expect("AMA_FUZZ_GGUF names the model file");
        checks::Tokenizer::load(std::path::Path::new(&path)).expect("the model's tokenizer")
    })
}

fuzz_target!(|data: &[u8]| checks::tokenizer(tokenizer(), data));
