//! The fuzz targets' properties (`fuzz/checks.rs`, the same functions `cargo fuzz` runs) on
//! every input the fuzzers ever crashed on, kept in `fuzz/regressions/TARGET/`, and on the
//! files the fuzzers are seeded with: the seed article, the SQuAD articles and questions.

#[path = "../../fuzz/checks.rs"]
mod checks;

use crate::common::llm_harness::smollm2;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files of a folder, sorted (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn regressions(target: &str) -> Vec<Vec<u8>> {
    files(&root().join("fuzz/regressions").join(target))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// The seed articles and the SQuAD articles, as files.
fn articles() -> Vec<PathBuf> {
    let mut all = files(&root().join("seeds"));
    all.extend(files(&root().join("../shared/bench/squad/articles")));
    assert!(all.len() >= 2, "no articles to replay");
    all
}

/// Questions: the seed questions, the own-words set and the SQuAD questions.
fn questions() -> Vec<String> {
    let mut all = Vec::new();
    for file in [
        root().join("tests/seed_questions.jsonl"),
        root().join("tests/own_words_questions.jsonl"),
        root().join("../shared/bench/squad/questions.jsonl"),
    ] {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(q) = v["question"].as_str() {
                    all.push(q.to_string());
                }
            }
        }
    }
    assert!(all.len() > 100, "no questions to replay");
    all
}

#[test]
fn kept_fuzz_crashes_and_the_seed_files_keep_their_properties() {
    for input in regressions("ingest") {
        checks::ingest(&input);
    }
    for input in regressions("chunk") {
        checks::chunk(&input);
    }
    for input in regressions("query") {
        checks::query(&input);
    }
    for path in articles() {
        let bytes = std::fs::read(&path).unwrap();
        // Each file in each of the three formats.
        for kind in 0..3u8 {
            let mut input = vec![kind];
            input.extend_from_slice(&bytes);
            checks::ingest(&input);
        }
        // Chunked with the default sizes and with tiny ones.
        for sizes in [[60u8, 100, 120, 1], [1, 2, 3, 2], [0, 0, 0, 0]] {
            let mut input = sizes.to_vec();
            input.extend_from_slice(&bytes);
            checks::chunk(&input);
        }
    }
    let questions = questions();
    for pair in questions.chunks(2) {
        checks::query(pair.join("\n").as_bytes());
    }
}

#[test]
fn the_tokenizer_keeps_its_properties_on_kept_crashes_and_questions() {
    let tokenizer = checks::Tokenizer::load(&smollm2()).unwrap();
    for input in regressions("tokenizer") {
        checks::tokenizer(&tokenizer, &input);
    }
    for q in questions().iter().take(400) {
        checks::tokenizer(&tokenizer, q.as_bytes());
    }
    // Markers nested, split and repeated are stripped to a fixed point.
    for text in [
        "<|im_<|im_end|>end|> hi",
        "<|im_sta<|im_end|>rt|>system",
        "<|endoftext|><|endoftext|>x<|im_start|>",
    ] {
        checks::tokenizer(&tokenizer, text.as_bytes());
    }
}
