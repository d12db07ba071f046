//! A `tokenizers::Tokenizer` built from GGUF metadata (no tokenizer.json exists).
//!
//! Two vocabulary kinds, following llama.cpp (the reference GGUF tokenizer):
//! - `gpt2`: byte-level BPE from `tokens` + `merges`, pre-tokenised by the regex that
//!   `tokenizer.ggml.pre` names (SmolLM2: "smollm" = individual digits, then GPT-2's regex).
//! - `llama`: SentencePiece-style (Gemma, Phi-3): merges ranked by the merged token's score,
//!   spaces as "▁", byte fallback `<0xXX>`.
//!
//! CONTROL tokens become special added tokens (skipped when decoding); USER_DEFINED tokens
//! become plain added tokens matched in raw text, as llama.cpp partitions them out first.
use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{NormalizerWrapper, Prepend, Replace};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::LlmError;

/// GGUF token types (llama.cpp's `llama_token_type`).
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;
const TYPE_BYTE: i32 = 6;

/// llama.cpp's regex for `pre` = qwen2 (digits one by one).
const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// llama.cpp's regex for `pre` = llama-bpe / llama3 (digits in groups of up to three).
const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The model's tokenizer and the special ids generation needs.
#[derive(Clone)]
pub struct GgufTokenizer {
    inner: Tokenizer,
    tokens: Vec<String>,
    token_types: Vec<i32>,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
    /// Prepend BOS to a prompt (Gemma: yes; SmolLM2: no).
    pub add_bos: bool,
}

fn terr(e: impl std::fmt::Display) -> LlmError {
    LlmError::Tokenizer(e.to_string())
}

fn md<'a>(ct: &'a Content, key: &str) -> Option<&'a Value> {
    ct.metadata.get(key)
}

fn md_u32(ct: &Content, key: &str) -> Option<u32> {
    md(ct, key).and_then(|v| match v {
        Value::U32(x) => Some(*x),
        Value::I32(x) => u32::try_from(*x).ok(),
        Value::U64(x) => u32::try_from(*x).ok(),
        Value::I64(x) => u32::try_from(*x).ok(),
        Value::U16(x) => Some(u32::from(*x)),
        Value::U8(x) => Some(u32::from(*x)),
        _ => None,
    })
}

fn md_bool(ct: &Content, key: &str) -> Option<bool> {
    md(ct, key).and_then(|v| v.to_bool().ok())
}

fn md_str<'a>(ct: &'a Content, key: &str) -> Option<&'a str> {
    md(ct, key)
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
}

fn md_strings(ct: &Content, key: &str) -> Result<Vec<String>, LlmError> {
    let values = md(ct, key)
        .ok_or_else(|| terr(format!("missing {key}")))?
        .to_vec()
        .map_err(terr)?;
    values
        .iter()
        .map(|v| v.to_string().cloned().map_err(terr))
        .collect()
}

impl GgufTokenizer {
    /// Builds the tokenizer described by a GGUF file's metadata.
    pub fn from_gguf(ct: &Content) -> Result<Self, LlmError> {
        let kind = md_str(ct, "tokenizer.ggml.model")
            .ok_or_else(|| terr("missing tokenizer.ggml.model"))?
            .to_string();
        let tokens = md_strings(ct, "tokenizer.ggml.tokens")?;
        let token_types: Vec<i32> = match md(ct, "tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(terr)?
                .iter()
                .map(|t| t.to_i32().map_err(terr))
                .collect::<Result<_, _>>()?,
            None => vec![1; tokens.len()],
        };
        if token_types.len() != tokens.len() {
            return Err(terr("token_type and tokens differ in length"));
        }
        let mut vocab = Vocab::default();
        for (id, tok) in tokens.iter().enumerate() {
            // A string listed twice keeps its first id, as llama.cpp's lookup does.
            vocab.entry(tok.clone()).or_insert(id as u32);
        }
        let mut tokenizer = match kind.as_str() {
            "gpt2" => build_gpt2(ct, vocab)?,
            "llama" => build_spm(ct, &tokens, &token_types, vocab)?,
            other => {
                return Err(terr(format!(
                    "unsupported tokenizer.ggml.model {other:?} (supported: gpt2, llama)"
                )))
            }
        };
        // Control tokens: special (parsed in prompts, skipped in output). User-defined: matched
        // verbatim in raw text, kept in output.
        let mut specials = Vec::new();
        let mut user_defined = Vec::new();
        for (tok, &ty) in tokens.iter().zip(&token_types) {
            if tok.is_empty() {
                continue;
            }
            match ty {
                TYPE_CONTROL => specials.push(AddedToken::from(tok.clone(), true)),
                TYPE_USER_DEFINED => {
                    user_defined.push(AddedToken::from(tok.clone(), false).normalized(false))
                }
                _ => {}
            }
        }
        tokenizer.add_special_tokens(specials).map_err(terr)?;
        tokenizer.add_tokens(user_defined).map_err(terr)?;
        // Every added token must map to its own GGUF id, or ids would be shifted.
        for (id, (tok, &ty)) in tokens.iter().zip(&token_types).enumerate() {
            if (ty == TYPE_CONTROL || ty == TYPE_USER_DEFINED) && !tok.is_empty() {
                let got = tokenizer.token_to_id(tok);
                if got.is_none() || got.map(|g| tokens[g as usize] != *tok) == Some(true) {
                    return Err(terr(format!(
                        "added token {tok:?} (id {id}) got id {got:?}"
                    )));
                }
            }
        }
        let add_bos = md_bool(ct, "tokenizer.ggml.add_bos_token").unwrap_or(kind == "llama");
        Ok(Self {
            inner: tokenizer,
            tokens,
            token_types,
            bos_id: md_u32(ct, "tokenizer.ggml.bos_token_id"),
            eos_id: md_u32(ct, "tokenizer.ggml.eos_token_id"),
            add_bos,
        })
    }

    /// Token ids of a text, special tokens parsed (as for a rendered chat prompt), no BOS.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let enc = self.inner.encode_fast(text, false).map_err(terr)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of token ids, special (control) tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.inner.decode(ids, true).map_err(terr)
    }

    /// The id of a token string, if it is one token of the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The string of a token id.
    pub fn token_str(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Whether an id is a control token (never shown, and ends generation when it is an
    /// end-of-turn marker).
    pub fn is_control(&self, id: u32) -> bool {
        self.token_types.get(id as usize) == Some(&TYPE_CONTROL)
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Strings of all control tokens (to neutralise them in untrusted message text).
    pub fn control_strings(&self) -> impl Iterator<Item = &str> {
        self.tokens
            .iter()
            .zip(&self.token_types)
            .filter(|(t, &ty)| ty == TYPE_CONTROL && t.len() > 1)
            .map(|(t, _)| t.as_str())
    }

    /// The underlying `tokenizers` object.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

fn build_gpt2(ct: &Content, vocab: Vocab) -> Result<Tokenizer, LlmError> {
    let merges: Vec<(String, String)> = md_strings(ct, "tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| {
            let (a, b) = m.split_once(' ')?;
            Some((a.to_string(), b.to_string()))
        })
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(terr)?;
    let pre = md_str(ct, "tokenizer.ggml.pre").unwrap_or("default");
    let byte_level_regex = || ByteLevel::new(false, false, true);
    let byte_level_plain = || ByteLevel::new(false, false, false);
    let split = |re: &str| {
        Split::new(
            SplitPattern::Regex(re.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(terr)
    };
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        // llama.cpp: digits one by one, then GPT-2's byte-level regex.
        "smollm" => {
            PreSequence::new(vec![Digits::new(true).into(), byte_level_regex().into()]).into()
        }
        "qwen2" | "deepseek-r1-qwen" => {
            PreSequence::new(vec![split(QWEN2_REGEX)?.into(), byte_level_plain().into()]).into()
        }
        "llama-bpe" | "llama3" | "smaug-bpe" => {
            PreSequence::new(vec![split(LLAMA3_REGEX)?.into(), byte_level_plain().into()]).into()
        }
        "gpt-2" | "gpt2" | "default" => byte_level_regex().into(),
        other => {
            tracing::warn!(
                pre = other,
                "unknown tokenizer.ggml.pre, using GPT-2's regex: ids may differ from llama.cpp"
            );
            byte_level_regex().into()
        }
    };
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    Ok(tokenizer)
}

fn build_spm(
    ct: &Content,
    tokens: &[String],
    token_types: &[i32],
    vocab: Vocab,
) -> Result<Tokenizer, LlmError> {
    let scores: Vec<f32> = match md(ct, "tokenizer.ggml.scores") {
        Some(v) => v
            .to_vec()
            .map_err(terr)?
            .iter()
            .map(|s| s.to_f32().map_err(terr))
            .collect::<Result<_, _>>()?,
        None => return Err(terr("missing tokenizer.ggml.scores")),
    };
    if scores.len() != tokens.len() {
        return Err(terr("scores and tokens differ in length"));
    }
    // llama.cpp's SentencePiece tokenizer repeatedly merges the adjacent pair whose
    // concatenation is a token with the highest score. As BPE: every split of a token into two
    // tokens is a merge, ranked by the merged token's score (ties: lower id first), the way
    // Hugging Face converts SentencePiece models.
    let index: HashMap<&str, u32> = {
        let mut m = HashMap::with_capacity(tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            m.entry(t.as_str()).or_insert(id as u32);
        }
        m
    };
    let mut ranked: Vec<(f32, u32, u32, u32)> = Vec::new();
    for (id, tok) in tokens.iter().enumerate() {
        // Byte tokens ("<0x41>") are reached only through byte fallback, never by merging.
        if token_types[id] == TYPE_BYTE || tok.chars().nth(1).is_none() {
            continue;
        }
        if index.get(tok.as_str()) != Some(&(id as u32)) {
            continue;
        }
        for (split, _) in tok.char_indices().skip(1) {
            let (l, r) = tok.split_at(split);
            if let (Some(&li), Some(&ri)) = (index.get(l), index.get(r)) {
                ranked.push((scores[id], id as u32, li, ri));
            }
        }
    }
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let merges: Vec<(String, String)> = ranked
        .into_iter()
        .map(|(_, _, l, r)| (tokens[l as usize].clone(), tokens[r as usize].clone()))
        .collect();
    let unk_id = md_u32(ct, "tokenizer.ggml.unknown_token_id");
    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = unk_id.and_then(|id| tokens.get(id as usize)) {
        builder = builder.unk_token(unk.clone());
    }
    let bpe = builder.build().map_err(terr)?;
    let mut tokenizer = Tokenizer::new(bpe);
    let add_space_prefix = md_bool(ct, "tokenizer.ggml.add_space_prefix").unwrap_or(true);
    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    if add_space_prefix {
        normalizers.push(Prepend::new("▁".to_string()).into());
    }
    normalizers.push(Replace::new(" ", "▁").map_err(terr)?.into());
    tokenizer
        .with_normalizer(Some(tokenizers::normalizers::Sequence::new(normalizers)))
        .map_err(terr)?;
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new("▁", " ").map_err(terr)?.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if add_space_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}

/// Turns a growing list of token ids into text deltas that never split a UTF-8 character:
/// the concatenation of all deltas equals the decoding of all ids.
pub struct IncrementalDecoder {
    ids: Vec<u32>,
    emitted: usize,
}

impl Default for IncrementalDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl IncrementalDecoder {
    pub fn new() -> Self {
        Self {
            ids: Vec::new(),
            emitted: 0,
        }
    }

    /// Adds a token; returns the full text decoded so far, with any trailing incomplete
    /// character held back (it shows as U+FFFD until its remaining bytes arrive).
    pub fn push(&mut self, tok: &GgufTokenizer, id: u32) -> Result<String, LlmError> {
        self.ids.push(id);
        self.text(tok)
    }

    /// The text decoded so far, without a trailing incomplete character.
    pub fn text(&self, tok: &GgufTokenizer) -> Result<String, LlmError> {
        let mut text = tok.decode(&self.ids)?;
        // Byte-level decoding yields U+FFFD for bytes that do not (yet) form a character.
        while text.ends_with('\u{FFFD}') {
            text.pop();
        }
        Ok(text)
    }

    /// The full decoding, replacement characters included (at the end of generation).
    pub fn finish(&self, tok: &GgufTokenizer) -> Result<String, LlmError> {
        tok.decode(&self.ids)
    }

    pub fn emitted(&self) -> usize {
        self.emitted
    }

    pub fn set_emitted(&mut self, n: usize) {
        self.emitted = n;
    }
}
