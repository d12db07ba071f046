//! Sentence embeddings: all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions) run on the
//! engine's kernels ([`bert`]), mean-pooled over the tokens and L2-normalised, so the dot
//! product of two embeddings is their cosine similarity. The index embeds every sentence once;
//! a question is embedded when it is asked.
use std::path::Path;
use std::sync::Arc;

use tokenizers::{Tokenizer, TruncationParams};

pub mod bert;
use bert::{Bert, BertConfig, BertError};

use crate::fetch::{self, EmbedderFiles, FetchError};
use crate::progress::Progress;

/// Dimensions of an embedding.
pub const DIM: usize = 384;
/// Name recorded with the vectors an index stores: vectors of another model do not mix.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";
/// Tokens read per text (sentence-transformers' `max_seq_length` for this model).
const MAX_TOKENS: usize = 256;
/// Texts run through the model together.
const BATCH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("sentence embedder: {0}")]
    Model(#[from] BertError),
    #[error("sentence embedder tokenizer: {0}")]
    Tokenizer(String),
    #[error("sentence embedder file {path}: {reason}")]
    File { path: String, reason: String },
}

/// A loaded sentence embedder. Cheap to share: wrap it in an [`Arc`].
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &MODEL_NAME)
            .finish()
    }
}

impl Embedder {
    /// Loads the embedder from `models_dir`, fetching and unpacking it first when missing.
    pub fn ensure(models_dir: &Path, progress: &Progress) -> Result<Arc<Embedder>, EmbedError> {
        let files = fetch::ensure_embedder(models_dir, progress)?;
        Ok(Arc::new(Embedder::load(&files)?))
    }

    /// Loads the embedder from its files.
    pub fn load(files: &EmbedderFiles) -> Result<Embedder, EmbedError> {
        let file_err = |path: &Path, reason: String| EmbedError::File {
            path: path.display().to_string(),
            reason,
        };
        let raw =
            std::fs::read(&files.config).map_err(|e| file_err(&files.config, e.to_string()))?;
        let config: BertConfig =
            serde_json::from_slice(&raw).map_err(|e| file_err(&files.config, e.to_string()))?;
        let model = Bert::load(&files.weights, &config)?;
        let mut tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        // No padding: the encoder lays a batch's texts end to end.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        Ok(Embedder { model, tokenizer })
    }

    /// The lower-case alphabetic words the tokenizer holds whole (one token each), sorted:
    /// a vocabulary for made-up text that tokenises as prose does.
    pub fn whole_words(&self) -> Vec<String> {
        let mut words: Vec<String> = self
            .tokenizer
            .get_vocab(false)
            .into_keys()
            .filter(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        words.sort();
        words
    }

    /// The embedding of one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut out = self.embed_batch(&[text])?;
        Ok(out.pop().unwrap_or_else(|| vec![0.0; DIM]))
    }

    /// The embeddings of `texts`, in order, `DIM` values each. Texts of similar length are
    /// batched together (less padding); `progress` counts texts done.
    pub fn embed_all(
        &self,
        texts: &[&str],
        progress: &Progress,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        let mut task = progress.task(
            "embedding sentences",
            Some(texts.len() as u64),
            crate::progress::Unit::Items,
        );
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
            task.advance(chunk.len() as u64);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_ids().to_vec()).collect();
        Ok(self.model.embed(&ids)?)
    }
}

/// The dot product of two embeddings (their cosine: both have unit length).
#[inline]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
