//! The engine's subcommands end to end: `generate` (plain and streamed), `bench llm --json`,
//! `ask --json`, and a clear failure for a bad `--model`.
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

/// `ask` on the seed article with the small reader and no suggestions prepared: a cited
/// answer, and no related questions.
#[test]
fn ask_without_suggestions_answers_at_once_with_its_citation() {
    harness::smollm2();
    let _exclusive = harness::exclusive();
    let data = tempfile::tempdir().unwrap();
    let out = ama()
        .args([
            "ask",
            "Who replaced General Zaluzhny?",
            "--json",
            "--related-articles",
            "0",
            "--model",
            "smollm2",
            "--data",
        ])
        .arg(data.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let result: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(result["declined"], false, "{result}");
    assert!(
        result["answer"].as_str().unwrap().contains("Syrsky"),
        "{result}"
    );
    let citations = result["citations"].as_array().unwrap();
    assert!(
        citations
            .iter()
            .any(|c| c["quote"].as_str().unwrap().contains("Syrsky")),
        "{result}"
    );
    assert_eq!(result["related"], serde_json::json!([]), "{result}");
    // Nothing was prepared for the suggestions' cache.
    let related = data.path().join("related");
    assert!(
        !related.exists() || std::fs::read_dir(&related).unwrap().next().is_none(),
        "{}",
        related.display()
    );
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

/// `eval --json` on the seed article with the faster Qwen reader (the default 1.5B reads the
/// same way, slower): the keys, the own-words figures and the conversations'
/// follow-ups, each asked with the flow's own earlier answers as history.
#[test]
fn eval_json_reports_own_words_and_conversations() {
    harness::fast_reader();
    let _exclusive = harness::exclusive();
    let scratch = tempfile::tempdir().unwrap();
    let out = ama()
        .args([
            "eval",
            "--corpus",
            "seeds",
            "--questions",
            "tests/seed_questions.jsonl",
            "--limit",
            "2",
            "--related-articles",
            "0",
            "--model",
            "qwen2.5-coder-0.5b",
            "--own-words",
            "tests/own_words_questions.jsonl",
            "--conversations",
            "tests/conversations.jsonl",
            "--json",
            "--out",
        ])
        .arg(scratch.path().join("outcomes.jsonl"))
        .output()
        .expect("run eval");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    for key in [
        "answer_contains",
        "evidence_contains",
        "token_f1",
        "recall_at_3",
        "offtopic_declined",
        "answerable_declined",
        "unanswerable_declined",
        "latency_p50_ms",
        "latency_p90_ms",
    ] {
        assert!(r[key].is_number(), "{key} missing: {r}");
    }
    assert!(r["own_words"]["questions"].as_u64() >= Some(10), "{r}");
    let c = &r["conversations"];
    // Only the conversations about the seed article are held: eight, with ten follow-ups.
    assert_eq!(c["conversations"], 8, "{r}");
    assert!(c["follow_ups"].as_u64() >= Some(8), "{r}");
    // Measured: 9 of the 10 follow-ups contain their gold answer (one is declined).
    let right = c["follow_up_evidence_contains"].as_f64().unwrap_or(0.0);
    assert!(right >= 0.7, "{r}");
    // Each follow-up's outcome says how the reader read it.
    let lines = std::fs::read_to_string(scratch.path().join("outcomes.jsonl")).unwrap();
    assert!(
        lines.contains("\"read_as\":\"Who replaced General Zaluzhny?\""),
        "{lines}"
    );
}
