//! The tiny model: a random-weights llama GGUF with a byte-level BPE vocabulary, written by
//! the tests themselves, and the engine options they load it with.
use std::path::{Path, PathBuf};

use ama::llm::{EngineOptions, WeightsMode};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

const HIDDEN: usize = 64;
const FFN: usize = 128;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const LAYERS: usize = 2;
pub(super) const CONTEXT: u32 = 96;

fn byte_alphabet() -> Vec<String> {
    let mut chars: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    chars.sort();
    chars.into_iter().map(String::from).collect()
}

/// Writes a tiny llama GGUF with a byte-level BPE vocabulary; `slow` stores the layer weights
/// as Q4_1 (which the engine requantises).
pub(super) fn write_tiny_gguf(path: &Path, architecture: &str, slow: bool) {
    let dev = Device::Cpu;
    let mut tokens: Vec<String> = vec![
        "<|endoftext|>".into(),
        "<|im_start|>".into(),
        "<|im_end|>".into(),
    ];
    let mut types = vec![3i32, 3, 3];
    for c in byte_alphabet() {
        tokens.push(c);
        types.push(1);
    }
    let merges = ["h e", "Ġ t", "l l", "he ll"];
    for m in merges {
        tokens.push(m.replace(' ', ""));
        types.push(1);
    }
    let vocab = tokens.len();
    let q = |shape: (usize, usize), dtype: GgmlDType, seed: f64| -> QTensor {
        // Deterministic pseudo-random weights (no RNG state shared between tests).
        let n = shape.0 * shape.1;
        let data: Vec<f32> = (0..n)
            .map(|i| (((i as f64 + seed) * 12.9898).sin() * 43758.5453).fract() as f32 * 0.4)
            .collect();
        let t = Tensor::from_vec(data, shape, &dev).unwrap();
        QTensor::quantize(&t, dtype).unwrap()
    };
    let norm = || {
        QTensor::quantize(
            &Tensor::ones(HIDDEN, candle_core::DType::F32, &dev).unwrap(),
            GgmlDType::F32,
        )
        .unwrap()
    };
    let wtype = if slow {
        GgmlDType::Q4_1
    } else {
        GgmlDType::Q8_0
    };
    let head_dim = HIDDEN / HEADS;
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            q((vocab, HIDDEN), GgmlDType::Q8_0, 1.0),
        ),
        ("output_norm.weight".into(), norm()),
    ];
    for l in 0..LAYERS {
        let s = 10.0 * (l as f64 + 1.0);
        tensors.push((format!("blk.{l}.attn_norm.weight"), norm()));
        tensors.push((format!("blk.{l}.ffn_norm.weight"), norm()));
        tensors.push((
            format!("blk.{l}.attn_q.weight"),
            q((HIDDEN, HIDDEN), wtype, s + 1.0),
        ));
        tensors.push((
            format!("blk.{l}.attn_k.weight"),
            q((KV_HEADS * head_dim, HIDDEN), wtype, s + 2.0),
        ));
        tensors.push((
            format!("blk.{l}.attn_v.weight"),
            q((KV_HEADS * head_dim, HIDDEN), wtype, s + 3.0),
        ));
        tensors.push((
            format!("blk.{l}.attn_output.weight"),
            q((HIDDEN, HIDDEN), wtype, s + 4.0),
        ));
        tensors.push((
            format!("blk.{l}.ffn_gate.weight"),
            q((FFN, HIDDEN), wtype, s + 5.0),
        ));
        tensors.push((
            format!("blk.{l}.ffn_up.weight"),
            q((FFN, HIDDEN), wtype, s + 6.0),
        ));
        tensors.push((
            format!("blk.{l}.ffn_down.weight"),
            q((HIDDEN, FFN), wtype, s + 7.0),
        ));
    }
    let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String(architecture.into())),
        ("llama.block_count", Value::U32(LAYERS as u32)),
        ("llama.context_length", Value::U32(CONTEXT)),
        ("llama.embedding_length", Value::U32(HIDDEN as u32)),
        ("llama.feed_forward_length", Value::U32(FFN as u32)),
        ("llama.attention.head_count", Value::U32(HEADS as u32)),
        ("llama.attention.head_count_kv", Value::U32(KV_HEADS as u32)),
        ("llama.rope.dimension_count", Value::U32(head_dim as u32)),
        ("llama.rope.freq_base", Value::F32(10000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", strings(tokens)),
        ("tokenizer.ggml.token_type", Value::Array(types.into_iter().map(Value::I32).collect())),
        ("tokenizer.ggml.merges", strings(merges.iter().map(|m| m.to_string()).collect())),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        (
            "tokenizer.chat_template",
            Value::String("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}".into()),
        ),
    ];
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut f, &md, &ts).unwrap();
}

pub(super) fn tiny(dir: &Path, slow: bool) -> PathBuf {
    let path = dir.join(if slow { "tiny-q4_1.gguf" } else { "tiny.gguf" });
    write_tiny_gguf(&path, "llama", slow);
    path
}

pub(super) fn opts(weights: WeightsMode) -> EngineOptions {
    EngineOptions {
        weights,
        max_context: 4096,
        prefill_chunk: 16,
    }
}

pub(super) fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
