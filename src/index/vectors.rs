//! Sentence vectors stored with the index: one embedding per distinct sentence of the
//! passages, in article order, then one per passage (its whole text). Passages are runs of
//! consecutive sentences, so a passage's sentence vectors are one contiguous range of rows
//! (overlapping passages share rows).
//!
//! On disk: `vectors.json` (the model, the dimension, and a hash of each row's sentence, so a
//! rebuild reuses the vectors of sentences whose text did not change) and `vectors.f32` (the
//! rows, little-endian f32).
//!
//! Search reads an int8 copy of the rows ([`ama_kernels::PackedMatrix`], one scale per block
//! of 32 values, Q8_0's layout) through the engine's matmul kernel: a quarter of the bytes of
//! f32 rows, and the scan of every row is memory-bound (`bench retrieval --synthetic`).
use crate::corpus::{Article, Passage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

pub const META_FILE: &str = "vectors.json";
pub const DATA_FILE: &str = "vectors.f32";

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    model: String,
    dim: usize,
    /// Per row: a hash of the sentence's text.
    hashes: Vec<String>,
}

/// The sentence vectors of an index.
#[derive(Debug, Default)]
pub struct SentenceVectors {
    pub model: String,
    pub dim: usize,
    data: Vec<f32>,
    /// The rows in int8 for the similarity scan (`None` when packing failed: then f32).
    packed: Option<ama_kernels::PackedMatrix>,
    hashes: Vec<String>,
    /// Per passage slot, its sentences' rows.
    passage_rows: Vec<Range<usize>>,
    /// Per passage slot, the row of its whole text.
    passage_vectors: Vec<usize>,
}

/// Where each distinct sentence of the passages goes, and then each passage: its text range
/// and the article's text.
pub struct SentenceLayout<'a> {
    /// Per row: (article text, sentence or passage range).
    pub rows: Vec<(&'a str, Range<usize>)>,
    /// Per passage slot, the rows of its sentences.
    pub passage_rows: Vec<Range<usize>>,
    /// Per passage slot, the row of the passage's whole text.
    pub passage_vectors: Vec<usize>,
}

/// Lays out the distinct sentences of `passages` (grouped by article, in order) as rows.
pub fn layout<'a>(articles: &'a [Article], passages: &[Passage]) -> SentenceLayout<'a> {
    let texts: HashMap<&str, &'a str> = articles
        .iter()
        .map(|a| (a.id.as_str(), a.text.as_str()))
        .collect();
    let mut rows: Vec<(&'a str, Range<usize>)> = Vec::new();
    let mut passage_rows = Vec::with_capacity(passages.len());
    // Row of each sentence start within the current article.
    let mut current: Option<&str> = None;
    let mut row_of: HashMap<usize, usize> = HashMap::new();
    for p in passages {
        if current != Some(p.article_id.as_str()) {
            current = Some(p.article_id.as_str());
            row_of.clear();
        }
        let text = texts.get(p.article_id.as_str()).copied().unwrap_or("");
        let mut first = None;
        let mut last = None;
        for s in &p.sentences {
            let row = *row_of.entry(s.start).or_insert_with(|| {
                rows.push((text, s.clone()));
                rows.len() - 1
            });
            first.get_or_insert(row);
            last = Some(row);
        }
        passage_rows.push(match (first, last) {
            (Some(f), Some(l)) if l >= f => f..l + 1,
            _ => 0..0,
        });
    }
    let mut passage_vectors = Vec::with_capacity(passages.len());
    for p in passages {
        let text = texts.get(p.article_id.as_str()).copied().unwrap_or("");
        passage_vectors.push(rows.len());
        rows.push((text, p.range.clone()));
    }
    SentenceLayout {
        rows,
        passage_rows,
        passage_vectors,
    }
}

/// A short hash of a sentence's text: the key under which its vector is reused.
pub fn text_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..12])
}

impl SentenceVectors {
    /// Vectors for `layout`: reused from `previous` where a sentence's text is unchanged,
    /// computed by `embed` (given the texts still missing) otherwise.
    pub fn build<E>(
        model: &str,
        dim: usize,
        layout: &SentenceLayout,
        previous: Option<&SentenceVectors>,
        embed: impl FnOnce(&[&str]) -> Result<Vec<Vec<f32>>, E>,
    ) -> Result<(SentenceVectors, usize), E> {
        // Measured with `eval`: prefixing the article's title to each sentence declines more
        // off-topic questions (0.952 against 0.918 on SQuAD) but finds the evidence of fewer
        // own-words questions (seed article: 1 of 12 against 5), so sentences go alone.
        let texts: Vec<&str> = layout.rows.iter().map(|(t, r)| &t[r.clone()]).collect();
        let hashes: Vec<String> = texts.iter().map(|t| text_hash(t)).collect();
        let reusable: HashMap<&str, usize> = previous
            .filter(|p| p.model == model && p.dim == dim)
            .map(|p| {
                p.hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.as_str(), i))
                    .collect()
            })
            .unwrap_or_default();
        let missing: Vec<usize> = (0..texts.len())
            .filter(|&i| !reusable.contains_key(hashes[i].as_str()))
            .collect();
        let fresh = embed(&missing.iter().map(|&i| texts[i]).collect::<Vec<_>>())?;
        let mut fresh_of: HashMap<usize, Vec<f32>> = missing.iter().copied().zip(fresh).collect();
        let mut data = Vec::with_capacity(texts.len() * dim);
        for (i, hash) in hashes.iter().enumerate() {
            match (reusable.get(hash.as_str()), previous) {
                (Some(&row), Some(prev)) => data.extend_from_slice(prev.row(row)),
                _ => {
                    let v = fresh_of.remove(&i).unwrap_or_default();
                    let mut v = v;
                    v.resize(dim, 0.0);
                    data.extend(v);
                }
            }
        }
        let vectors = SentenceVectors {
            model: model.to_string(),
            dim,
            packed: pack(&data, dim),
            data,
            hashes,
            passage_rows: layout.passage_rows.clone(),
            passage_vectors: layout.passage_vectors.clone(),
        };
        Ok((vectors, missing.len()))
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let meta = Meta {
            model: self.model.clone(),
            dim: self.dim,
            hashes: self.hashes.clone(),
        };
        let json = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(META_FILE), json)?;
        let mut bytes = Vec::with_capacity(self.data.len() * 4);
        for v in &self.data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(dir.join(DATA_FILE), bytes)
    }

    /// The vectors stored in `dir` for an index whose passages lay out as `layout`; `None`
    /// when there are none or they do not fit (then the index is lexical only).
    pub fn read(dir: &Path, layout: &SentenceLayout) -> Option<SentenceVectors> {
        let meta: Meta = serde_json::from_slice(&std::fs::read(dir.join(META_FILE)).ok()?).ok()?;
        let bytes = std::fs::read(dir.join(DATA_FILE)).ok()?;
        let data: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if meta.dim == 0
            || meta.hashes.len() != layout.rows.len()
            || data.len() != meta.hashes.len() * meta.dim
        {
            tracing::warn!("sentence vectors in {} do not fit the index", dir.display());
            return None;
        }
        Some(SentenceVectors {
            model: meta.model,
            dim: meta.dim,
            packed: pack(&data, meta.dim),
            data,
            hashes: meta.hashes,
            passage_rows: layout.passage_rows.clone(),
            passage_vectors: layout.passage_vectors.clone(),
        })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        self.data
            .get(i * self.dim..(i + 1) * self.dim)
            .unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The rows of the sentences of the passage in `slot`.
    pub fn passage_rows(&self, slot: usize) -> Range<usize> {
        self.passage_rows.get(slot).cloned().unwrap_or(0..0)
    }

    /// The row of the whole text of the passage in `slot`.
    pub fn passage_vector(&self, slot: usize) -> Option<usize> {
        self.passage_vectors.get(slot).copied()
    }

    /// The best sentence row's and the best passage row's value in `sims` (one per row, as
    /// [`Self::similarities`] gives): how near a query comes to the corpus as a whole.
    pub fn best_sentence_and_passage(&self, sims: &[f32]) -> Option<(f32, f32)> {
        // The layout puts every sentence row before the passages' rows.
        let first_passage = self.passage_vectors.iter().copied().min()?;
        let best = |rows: &[f32]| rows.iter().copied().reduce(f32::max);
        let sentence = best(sims.get(..first_passage)?)?;
        let passage = best(sims.get(first_passage..)?)?;
        Some((sentence, passage))
    }

    /// Cosine of `query` with every row, from the int8 rows (within about 0.005 of the f32
    /// cosine: [`tests`]).
    pub fn similarities(&self, query: &[f32]) -> Vec<f32> {
        if query.len() != self.dim {
            return vec![0.0; self.len()];
        }
        if let Some(packed) = &self.packed {
            let mut out = vec![0.0; self.len()];
            match ama_kernels::matmul(query, 1, packed, &mut out) {
                Ok(()) => return out,
                Err(e) => tracing::warn!("int8 similarity scan failed, using f32: {e}"),
            }
        }
        self.exact_similarities(query)
    }

    /// Cosine of `query` with every row, from the f32 rows.
    pub fn exact_similarities(&self, query: &[f32]) -> Vec<f32> {
        if query.len() != self.dim {
            return vec![0.0; self.len()];
        }
        self.data
            .chunks_exact(self.dim)
            .map(|row| crate::embed::cosine(row, query))
            .collect()
    }

    /// Bytes the similarity scan reads per query.
    pub fn scan_bytes(&self) -> usize {
        match &self.packed {
            Some(p) => p.size_bytes(),
            None => self.data.len() * 4,
        }
    }
}

/// The rows in int8, one scale per block of 32 (`None` for no rows or on a shape error).
fn pack(data: &[f32], dim: usize) -> Option<ama_kernels::PackedMatrix> {
    if dim == 0 || data.is_empty() {
        return None;
    }
    match ama_kernels::PackedMatrix::from_f32(data, data.len() / dim, dim) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("sentence vectors not packed to int8: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{chunk_article, ChunkConfig};

    fn article(id: &str, text: &str) -> Article {
        Article {
            id: id.into(),
            path: id.into(),
            title: id.into(),
            date: None,
            url: None,
            text: text.into(),
        }
    }

    #[test]
    fn overlapping_passages_share_rows_and_rebuilds_reuse_unchanged_sentences() {
        let text = (0..12)
            .map(|i| format!("Sentence number {i} says something about topic {i}."))
            .collect::<Vec<_>>()
            .join(" ");
        let articles = vec![article("a", &text)];
        let config = ChunkConfig {
            min_words: 10,
            target_words: 20,
            max_words: 25,
            overlap_sentences: 1,
        };
        let passages: Vec<Passage> = chunk_article(&articles[0], &config);
        assert!(passages.len() > 2);
        let lay = layout(&articles, &passages);
        assert_eq!(
            lay.rows.len(),
            12 + passages.len(),
            "each sentence once, each passage"
        );
        for ((p, rows), &whole) in passages
            .iter()
            .zip(&lay.passage_rows)
            .zip(&lay.passage_vectors)
        {
            assert_eq!(rows.len(), p.sentences.len());
            assert!(rows.end <= 12, "sentences first");
            assert_eq!(lay.rows[rows.start].1, p.sentences[0]);
            assert_eq!(lay.rows[whole].1, p.range);
        }
        let fake = |texts: &[&str]| -> Result<Vec<Vec<f32>>, ()> {
            Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect())
        };
        let (first, computed) = SentenceVectors::build("m", 2, &lay, None, fake).unwrap();
        assert_eq!(computed, 12 + passages.len());
        // One sentence changes: only it is embedded again.
        let changed = vec![article("a", &text.replace("topic 3.", "another topic."))];
        let passages2 = chunk_article(&changed[0], &config);
        let lay2 = layout(&changed, &passages2);
        let (second, computed) = SentenceVectors::build("m", 2, &lay2, Some(&first), fake).unwrap();
        // The sentence, and the passages that hold it.
        let holding = passages2
            .iter()
            .filter(|p| p.text.contains("another topic."))
            .count();
        assert_eq!(computed, 1 + holding);
        assert_eq!(second.len(), 12 + passages2.len());
        let dir = tempfile::tempdir().unwrap();
        second.write(dir.path()).unwrap();
        let back = SentenceVectors::read(dir.path(), &lay2).unwrap();
        assert_eq!(back.row(5), second.row(5));
        assert!(SentenceVectors::read(dir.path(), &lay).is_some());
        // A layout of another size does not take these vectors.
        let short = layout(&changed, &passages2[..1]);
        assert!(SentenceVectors::read(dir.path(), &short).is_none());
    }

    #[test]
    fn the_int8_scan_gives_the_f32_cosines_of_unit_vectors() {
        // Unit vectors of MiniLM's size from a fixed xorshift sequence.
        let (n, dim) = (300, 384);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut unit = |len: usize| {
            let v: Vec<f32> = (0..len).map(|_| next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            data.extend(unit(dim));
        }
        let q = unit(dim);
        // Half the rows close to the question, so cosines span the range thresholds use.
        for r in 0..n / 2 {
            let row = &mut data[r * dim..(r + 1) * dim];
            let w = r as f32 / n as f32;
            for (x, y) in row.iter_mut().zip(&q) {
                *x = (1.0 - w) * *y + w * *x;
            }
        }
        let vectors = SentenceVectors {
            model: "m".into(),
            dim,
            packed: pack(&data, dim),
            data,
            hashes: vec![String::new(); n],
            passage_rows: Vec::new(),
            passage_vectors: Vec::new(),
        };
        assert!(vectors.packed.is_some());
        assert!(vectors.scan_bytes() * 3 < n * dim * 4, "int8 rows are read");
        let (fast, exact) = (vectors.similarities(&q), vectors.exact_similarities(&q));
        assert_eq!(fast.len(), n);
        let worst = fast
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 0.004,
            "int8 cosines differ from f32 by up to {worst}"
        );
        assert!(
            exact[0] > 0.9 && exact[n - 1].abs() < 0.2,
            "the range is covered"
        );
    }
}
