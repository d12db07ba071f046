//! The engine's subcommands end to end: `generate` (plain and streamed), `bench llm --json`,
//! and a clear failure for a bad `--model`.
use crate::common::llm_harness as harness;

use assert_cmd::Command;
use predicates::prelude::*;

fn ama() -> Command {
    let mut cmd = Command::cargo_bin("ama").expect("binary");
    // The default model lives in the crate's models/ folder.
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn generate_prints_the_answer_plain_and_streamed() {
    harness::smollm2();
    let _exclusive = harness::exclusive();
    for stream in [false, true] {
        let mut cmd = ama();
        cmd.args([
            "generate",
            "What is the capital of France? Answer in one sentence.",
            "--max-tokens",
            "12",
            // The small reader: the command line's output is under test, and it loads in a
            // tenth of the default reader's time (which the seed set tests).
            "--model",
            "smollm2",
        ]);
        if stream {
            cmd.arg("--stream");
        }
        cmd.assert()
            .success()
            .stdout(predicate::str::contains("Paris"));
    }
}

#[test]
fn bench_llm_json_has_the_figures() {
    harness::smollm2();
    let _exclusive = harness::exclusive();
    let out = ama()
        .args([
            "bench",
            "llm",
            "--json",
            "--runs",
            "1",
            "--prompt-tokens",
            "24",
            "--gen-tokens",
            "4",
            "--model",
            "smollm2",
        ])
        .output()
        .expect("run bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    for key in [
        "load_ms",
        "prefill_tok_s",
        "ttft_ms",
        "decode_tok_s",
        "peak_rss_mb",
    ] {
        let v = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {report}"));
        assert!(v > 0.0, "{key} = {v}");
    }
    assert_eq!(report["prompt_tokens"], 24);
}

#[test]
fn a_bad_model_path_is_a_clear_error() {
    ama()
        .args(["generate", "hi", "--model", "/nonexistent/model.gguf"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not found"));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"definitely not a gguf file, just some bytes").unwrap();
    ama()
        .args(["generate", "hi", "--model"])
        .arg(&junk)
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a readable GGUF"));
}
