//! Model files the engine cannot load, each refused with an error that says why.
use std::path::Path;

use ama::llm::{Engine, EngineOptions, LlmError};

use super::fixture::{tiny, write_tiny_gguf};

fn load_err(path: &Path) -> String {
    match Engine::load(path, &EngineOptions::default()) {
        Ok(_) => panic!("{} should not load", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_model_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = load_err(&dir.path().join("nope.gguf"));
    assert!(
        missing.contains("not found") && missing.contains("fetch-model"),
        "{missing}"
    );

    let good = tiny(dir.path(), false);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let msg = load_err(&truncated);
    assert!(msg.contains("truncated"), "{msg}");
    // Cut inside the header (metadata) too.
    std::fs::write(&truncated, &bytes[..200]).unwrap();
    let msg = load_err(&truncated);
    assert!(msg.contains("not a readable GGUF"), "{msg}");

    let corrupt = dir.path().join("corrupt.gguf");
    let mut junk = bytes.clone();
    junk[..4].copy_from_slice(b"JUNK");
    std::fs::write(&corrupt, &junk).unwrap();
    let msg = load_err(&corrupt);
    assert!(msg.contains("not a readable GGUF"), "{msg}");
    // Garbage lengths inside the header must not allocate wildly or panic.
    let mut junk = bytes.clone();
    for b in &mut junk[8..64] {
        *b = 0xff;
    }
    std::fs::write(&corrupt, &junk).unwrap();
    let msg = load_err(&corrupt);
    assert!(msg.contains("corrupt.gguf"), "{msg}");

    let other = dir.path().join("mamba.gguf");
    write_tiny_gguf(&other, "mamba", false);
    match Engine::load(&other, &EngineOptions::default()) {
        Err(LlmError::UnsupportedArchitecture(a)) => assert_eq!(a, "mamba"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("mamba should be refused"),
    }
    let msg = LlmError::UnsupportedArchitecture("mamba".into()).to_string();
    assert!(msg.contains("mamba") && msg.contains("llama"), "{msg}");
}
