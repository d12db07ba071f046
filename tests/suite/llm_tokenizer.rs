//! The tokenizer built from GGUF metadata against llama.cpp's ids (the reference GGUF
//! tokenizer), for SmolLM2 (byte-level BPE, "smollm" pre-tokenizer) and Gemma 3
//! (SentencePiece-style vocabulary).
use crate::common::llm_harness as harness;

use std::path::Path;

use ama::llm::tokenizer::GgufTokenizer;
use candle_core::quantized::gguf_file::Content;

fn tokenizer_of(path: &Path) -> GgufTokenizer {
    let mut f = std::io::BufReader::new(std::fs::File::open(path).expect("open model"));
    let ct = Content::read(&mut f).expect("read GGUF header");
    GgufTokenizer::from_gguf(&ct).expect("build tokenizer")
}

/// Compares every fixture string; returns the texts whose ids differ.
fn mismatches(tok: &GgufTokenizer, fixture: &str) -> (usize, Vec<String>) {
    let rows = harness::read_jsonl(&harness::fixture(fixture));
    assert!(rows.len() >= 60, "fixture {fixture} looks incomplete");
    let mut bad = Vec::new();
    for row in &rows {
        let text = row["text"].as_str().expect("text");
        let want: Vec<u32> = row["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_u64().expect("id") as u32)
            .collect();
        let got = tok.encode(text).expect("encode");
        if got != want {
            bad.push(format!("{text:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    (rows.len(), bad)
}

#[test]
fn smollm2_ids_match_llama_cpp_exactly() {
    let tok = tokenizer_of(&harness::smollm2());
    let (n, bad) = mismatches(&tok, "smollm2-135m-token-ids.jsonl");
    assert!(
        bad.is_empty(),
        "{} of {n} strings differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn smollm2_special_tokens_and_round_trip() {
    let tok = tokenizer_of(&harness::smollm2());
    assert_eq!(tok.encode("<|im_start|>").unwrap(), vec![1]);
    assert_eq!(tok.encode("<|im_end|>").unwrap(), vec![2]);
    assert_eq!(tok.bos_id, Some(1));
    assert_eq!(tok.eos_id, Some(2));
    assert!(!tok.add_bos, "SmolLM2's GGUF says not to prepend BOS");
    for row in harness::read_jsonl(&harness::fixture("smollm2-135m-token-ids.jsonl")) {
        let text = row["text"].as_str().unwrap();
        if text.contains("<|im_start|>") {
            continue; // control tokens are left out of decoded text by design
        }
        let ids = tok.encode(text).unwrap();
        let back = tok.decode(&ids).unwrap();
        // Bytes without a token vanish (see the engine notes); every other text round-trips.
        let representable: String = text
            .chars()
            .filter(|c| !matches!(*c as u32, 0x04 | 0x06 | 0x13 | 0x14 | 0x16 | 0x1d))
            .collect();
        assert_eq!(back, representable, "round trip of {text:?}");
    }
}

#[test]
fn gemma3_ids_match_llama_cpp() {
    let Some(path) = harness::gemma3_model() else {
        return;
    };
    let tok = tokenizer_of(&path);
    assert!(tok.add_bos);
    assert_eq!(tok.bos_id, Some(2));
    let (n, bad) = mismatches(&tok, "gemma3-270m-token-ids.jsonl");
    assert!(
        bad.is_empty(),
        "{} of {n} strings differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
    for row in harness::read_jsonl(&harness::fixture("gemma3-270m-token-ids.jsonl")) {
        let text = row["text"].as_str().unwrap();
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text, "round trip of {text:?}");
    }
}
