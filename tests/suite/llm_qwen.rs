//! Qwen2.5-Coder-0.5B-Instruct and -1.5B-Instruct (qwen2: Q/K/V biases, RoPE on halves, its
//! own output head, 2 kv heads; Q5_0, Q8_0, Q4_K and Q6_K weights) on the engine's own forward
//! pass, against llama.cpp's token ids, first-position logits and greedy text.
use crate::common::llm_harness as harness;

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use ama::llm::tokenizer::GgufTokenizer;
use ama::llm::{Engine, EngineOptions, GenerateParams};
use candle_core::quantized::gguf_file::Content;

const IM_END: u32 = 151_645;

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("an array of ids")
        .iter()
        .map(|x| x.as_u64().expect("an id") as u32)
        .collect()
}

#[test]
fn qwen_token_ids_match_llama_cpp_exactly() {
    let Some(path) = harness::qwen_model() else {
        return;
    };
    let mut f = std::io::BufReader::new(std::fs::File::open(&path).expect("open model"));
    let ct = Content::read(&mut f).expect("read GGUF header");
    let tok = GgufTokenizer::from_gguf(&ct).expect("build tokenizer");
    let rows = harness::read_jsonl(&harness::fixture("qwen2.5-coder-0.5b-token-ids.jsonl"));
    assert_eq!(rows.len(), 68);
    let mut bad = Vec::new();
    for row in &rows {
        let text = row["text"].as_str().expect("text");
        let got = tok.encode(text).expect("encode");
        let want = ids(&row["ids"]);
        if got != want {
            bad.push(format!("{text:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of 68 differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn engine() -> Option<std::sync::MutexGuard<'static, Engine>> {
    static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();
    let path = harness::qwen_model()?;
    let cell = ENGINE.get_or_init(|| {
        Mutex::new(
            Engine::load(&path, &EngineOptions::default())
                .unwrap_or_else(|e| panic!("loading {}: {e}", path.display())),
        )
    });
    Some(cell.lock().unwrap_or_else(|p| p.into_inner()))
}

/// llama.cpp keeps its KV cache in f16 and rounds in another order; the K-quant matrices run
/// here requantised to int8 per block of 32. Measured differences are listed in the output.
const RAW_TOL: f32 = 1.0;
const RELATIVE_TOL: f32 = 0.6;
/// Greedy tokens that must agree with llama.cpp's from the start.
const GREEDY_PREFIX: usize = 4;
/// llama.cpp's top two logits closer than this: the first token is not compared.
const TIE: f32 = 0.1;
/// Where the greedy texts part, llama.cpp's token is at most this far below our best.
const GREEDY_TIE: f32 = 0.5;

#[test]
fn qwen_follows_llama_cpp_logits_and_greedy_text() {
    let _heavy = harness::exclusive();
    let Some(mut engine) = engine() else {
        return;
    };
    follows_llama_cpp(&mut engine, "qwen2.5-coder-0.5b-greedy.jsonl", "qwen 0.5b");
}

/// The larger reader, Qwen2.5-Coder-1.5B-Instruct (same family; Q4_K and Q6_K weights, head
/// 128), against its own llama.cpp fixture. Its 1.1 GB are not fetched by the tests: the test
/// runs where `ama fetch-model --model qwen2.5-coder-1.5b` has put it in `models/`.
#[test]
fn qwen_1_5b_follows_llama_cpp_logits_and_greedy_text() {
    let _heavy = harness::exclusive();
    let Some(model) = ama::fetch::named("qwen2.5-coder-1.5b") else {
        panic!("the model table lost qwen2.5-coder-1.5b");
    };
    let path = harness::models_dir().join(model.file_name());
    if !path.exists() {
        eprintln!(
            "SKIPPED: {} is not in models/ (`ama fetch-model --model qwen2.5-coder-1.5b`)",
            model.file_name()
        );
        return;
    }
    let mut engine = Engine::load(&path, &EngineOptions::default())
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    follows_llama_cpp(&mut engine, "qwen2.5-coder-1.5b-greedy.jsonl", "qwen 1.5b");
}

/// The top-5 logits at the first position within [`RAW_TOL`] (and [`RELATIVE_TOL`] once
/// their common shift is taken out), the same first token unless llama.cpp's top two are
/// within [`TIE`], and the first [`GREEDY_PREFIX`] greedy tokens the same.
fn follows_llama_cpp(engine: &mut Engine, fixture: &str, label: &str) {
    let rows = harness::read_jsonl(&harness::fixture(fixture));
    assert_eq!(rows.len(), 8);
    let (mut worst_raw, mut worst_rel) = (0f32, 0f32);
    for (n, row) in rows.iter().enumerate() {
        let prompt = ids(&row["prompt_ids"]);
        let top5 = ids(&row["top5_ids"]);
        let want: Vec<f32> = row["top5_logits"]
            .as_array()
            .expect("logits")
            .iter()
            .map(|x| x.as_f64().expect("a logit") as f32)
            .collect();
        engine.clear_cache();
        let logits = engine.prompt_logits(&prompt).expect("forward");
        assert_eq!(logits.len(), 151_936);
        let diffs: Vec<f32> = top5
            .iter()
            .zip(&want)
            .map(|(id, w)| logits[*id as usize] - w)
            .collect();
        let shift = diffs.iter().sum::<f32>() / 5.0;
        eprintln!("{label} prompt {n}: ours - llama.cpp at its top-5: {diffs:+.2?}");
        for (d, id) in diffs.iter().zip(&top5) {
            worst_raw = worst_raw.max(d.abs());
            worst_rel = worst_rel.max((d - shift).abs());
            assert!(d.abs() <= RAW_TOL, "prompt {n}, token {id}: {d:+.3}");
            assert!(
                (d - shift).abs() <= RELATIVE_TOL,
                "prompt {n}, token {id}: relative {:+.3}",
                d - shift
            );
        }
        // A near tie at the top may go either way between two engines' roundings.
        if want[0] - want[1] < TIE {
            eprintln!("{label} prompt {n}: llama.cpp's top two within {TIE}: not compared");
            continue;
        }
        assert_eq!(
            ama::llm::sampler::argmax(&logits),
            top5[0],
            "prompt {n}: first token"
        );
        // Greedy text: the first tokens as llama.cpp's.
        let greedy = ids(&row["greedy_ids"]);
        let params = GenerateParams {
            max_tokens: GREEDY_PREFIX,
            ..GenerateParams::default()
        };
        let ours = completion(engine, &prompt, &params);
        let theirs: Vec<u32> = greedy
            .iter()
            .copied()
            .take_while(|&t| t != IM_END)
            .take(GREEDY_PREFIX)
            .collect();
        let ours: Vec<u32> = ours.into_iter().take(theirs.len()).collect();
        // Where the two engines part, llama.cpp's token must be a near tie in ours: rounding
        // moved a close call, the forward pass did not go wrong.
        if let Some(at) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
            let mut context = prompt.clone();
            context.extend_from_slice(&theirs[..at]);
            engine.clear_cache();
            let logits = engine.prompt_logits(&context).expect("forward");
            let best = logits[ama::llm::sampler::argmax(&logits) as usize];
            let gap = best - logits[theirs[at] as usize];
            eprintln!(
                "{label} prompt {n}: greedy parts at token {at}, llama.cpp's {gap:.2} below ours"
            );
            assert!(
                gap <= GREEDY_TIE,
                "prompt {n}: greedy text {ours:?} against {theirs:?} ({gap:.2} apart at {at})"
            );
        }
    }
    eprintln!("{label}: largest difference {worst_raw:.3}, relative {worst_rel:.3}");
}

/// Greedy decoding checks drafts looked up in the prompt: an answer copied from the text comes
/// in fewer passes than tokens, and it is the answer chosen one token at a time.
#[test]
fn drafts_from_the_prompt_give_the_one_step_greedy_answer() {
    let _heavy = harness::exclusive();
    let Some(mut engine) = engine() else {
        return;
    };
    let question = ama::llm::ChatMessage::user(
        "Answer the question using only the text. Reply with the shortest phrase from the text \
         that answers it.\n\nText: The old railway bridge over the river near Zaporizhzhia was \
         rebuilt in 2019 by the regional water and transport authority of the southern \
         district.\n\nQuestion: Who rebuilt the old railway bridge?",
    );
    let prompt = engine
        .prompt_ids(std::slice::from_ref(&question))
        .expect("prompt");
    // One token at a time: each step runs one position after the cached prefix.
    engine.clear_cache();
    let mut context = prompt.clone();
    let mut one_step = Vec::new();
    for _ in 0..24 {
        let logits = engine.prompt_logits(&context).expect("logits");
        let best = (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .expect("a vocabulary") as u32;
        if best == IM_END {
            break;
        }
        one_step.push(best);
        context.push(best);
    }
    engine.clear_cache();
    let params = GenerateParams {
        max_tokens: 24,
        ..GenerateParams::default()
    };
    let summary = engine
        .generate_from_ids(prompt, &params, Instant::now(), &mut |_| {}, &|| false)
        .expect("generate");
    let text = engine.tokenizer().decode(&one_step).unwrap_or_default();
    assert_eq!(
        engine.last_completion_ids(),
        one_step.as_slice(),
        "{text:?}"
    );
    assert!(
        one_step.len() >= 4,
        "a copied phrase of several tokens: {text:?}"
    );
    assert!(
        summary.decode_passes < summary.completion_tokens - 1,
        "{} passes for {} tokens after the first ({text:?})",
        summary.decode_passes,
        summary.completion_tokens - 1
    );
}

/// A likely reply is taken from the probability its first token has at the first step on,
/// even when an answer is likelier, and not below it.
#[test]
fn a_likely_reply_is_taken_from_its_probability_on() {
    let _heavy = harness::exclusive();
    let Some(mut engine) = engine() else {
        return;
    };
    let question = ama::llm::ChatMessage::user(
        "Answer the question using only the text. Reply with the shortest phrase from the text \
         that answers it. If the text does not answer the question, reply exactly: not \
         stated\n\nText: The old railway bridge over the river was rebuilt in 2019 by the \
         regional transport authority.\n\nQuestion: Who rebuilt the old railway bridge?",
    );
    let prompt = engine
        .prompt_ids(std::slice::from_ref(&question))
        .expect("prompt");
    let not = engine.tokenizer().encode("not stated").expect("encode")[0];
    engine.clear_cache();
    let p_not =
        ama::llm::sampler::probability(&engine.prompt_logits(&prompt).expect("logits"), not);
    let mut reply = |min_probability: Option<f32>| {
        let params = GenerateParams {
            max_tokens: 8,
            likely_reply: min_probability.map(|min_probability| ama::llm::LikelyReply {
                text: "not stated".to_string(),
                min_probability,
            }),
            ..GenerateParams::default()
        };
        let ids = completion(&mut engine, &prompt, &params);
        engine.tokenizer().decode(&ids).unwrap_or_default()
    };
    let plain = reply(None);
    eprintln!("\"not\" at {p_not:.3}; the answer: {plain:?}");
    assert!(
        plain.to_lowercase().contains("authority") && p_not > 0.0 && p_not < 0.5,
        "the answer is likelier than \"not\" ({p_not}): {plain:?}"
    );
    assert_eq!(reply(Some(p_not * 1.01)), plain);
    assert_eq!(reply(Some(p_not * 0.99)).trim(), "not stated", "at {p_not}");
}

/// The completion's ids for `prompt` under `params`, generated from an empty cache.
fn completion(engine: &mut Engine, prompt: &[u32], params: &GenerateParams) -> Vec<u32> {
    engine.clear_cache();
    engine
        .generate_from_ids(
            prompt.to_vec(),
            params,
            Instant::now(),
            &mut |_| {},
            &|| false,
        )
        .expect("generate");
    engine.last_completion_ids().to_vec()
}
