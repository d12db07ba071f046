//! What the tests share: the real server, the model files and fixtures, and one lock.
pub mod llm_harness;
pub mod server;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Held by every test that runs a model or a server: one at a time in this binary, since on
/// two cores concurrent inference only oversubscribes the CPU (the thread pools spin against
/// each other: preparing the suggested questions took 113 s side by side, about 9 s alone).
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    // A test that panicked while holding the lock leaves nothing inconsistent behind.
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The suggestions cache shared by every test of a run (under `target/`): the product keys
/// its entries by article text and model, so the seed article's suggestions are made once
/// per run (and per change), not once per server.
pub fn suggestions_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("suggestions")
}
