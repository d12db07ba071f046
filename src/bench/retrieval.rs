//! Retrieval benchmarks: quality on a question set in the SQuAD file format, and speed on a
//! synthetic corpus of any size.
use crate::corpus::{self, Article, Corpus};
use crate::index::{self, IndexError, IndexOptions, SearchIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Corpus(#[from] corpus::CorpusError),
    #[error("cannot read questions file {path}: {source}")]
    Questions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("questions file {path}, line {line}: {reason}")]
    QuestionLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("scratch folder: {0}")]
    Scratch(std::io::Error),
    #[error("embedding a question: {0}")]
    Embed(String),
    #[error("no ranking was scored")]
    NoQuestions,
}

/// One question of a SQuAD-format questions file (extra fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    pub answerable: bool,
    #[serde(default)]
    pub answers: Vec<String>,
    #[serde(default)]
    pub article: String,
    #[serde(default)]
    pub paragraph: usize,
}

pub fn read_questions(path: &Path) -> Result<Vec<Question>, BenchError> {
    read_jsonl(path)
}

/// Reads a JSONL file of `T`, one per non-empty line, with the line of any that does not
/// parse.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, BenchError> {
    let file = std::fs::File::open(path).map_err(|source| BenchError::Questions {
        path: path.into(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| BenchError::Questions {
            path: path.into(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let item: T = serde_json::from_str(&line).map_err(|e| BenchError::QuestionLine {
            path: path.into(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        out.push(item);
    }
    Ok(out)
}

/// Quality and speed figures of one retrieval run.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    pub questions: usize,
    pub articles: usize,
    pub passages: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the first passage holding a gold span, over the top 10.
    pub mrr: f64,
    pub build_ms: f64,
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
    /// Each signal alone and the fusion (the figures above are the fusion's, or BM25's for a
    /// lexical index): "bm25", "dense", "hybrid".
    pub signals: Vec<SignalReport>,
}

/// One ranking's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SignalReport {
    pub signal: String,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub recall_at_5: f64,
    pub mrr: f64,
    /// Per query, including the question's embedding for the dense and fused rankings.
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
}

/// Lower-cased text for case-insensitive span matching.
fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Indexes `corpus_dir` into a scratch folder, asks every answerable question, and scores
/// whether a returned passage contains a gold answer span (case-insensitive).
pub fn run_questions(
    corpus_dir: &Path,
    questions: &[Question],
    options: &IndexOptions,
) -> Result<RetrievalReport, BenchError> {
    let corpus = corpus::read_corpus(corpus_dir)?;
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let started = Instant::now();
    let index = index::build_at(&corpus, &scratch.path().join("index"), options)?;
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let answerable: Vec<&Question> = questions
        .iter()
        .filter(|q| q.answerable && !q.answers.is_empty())
        .collect();
    let embedder = options
        .embedder
        .as_ref()
        .filter(|_| index.vectors().is_some());
    let mut signals = vec![score_ranking("bm25", &answerable, |q| {
        Ok(index.search(q, 10, None)?)
    })?];
    if let (Some(embedder), Some(vectors)) = (embedder, index.vectors()) {
        let sims = |q: &str| -> Result<Vec<f32>, BenchError> {
            let v = embedder
                .embed_one(q)
                .map_err(|e| BenchError::Embed(e.to_string()))?;
            Ok(vectors.similarities(&v))
        };
        signals.push(score_ranking("dense", &answerable, |q| {
            let sims = sims(q)?;
            Ok(index
                .dense_search(&sims, 10, None)
                .into_iter()
                .filter_map(|(slot, s)| index.hit(slot, s))
                .collect())
        })?);
        signals.push(score_ranking("hybrid", &answerable, |q| {
            let sims = sims(q)?;
            Ok(index.hybrid_search(q, Some(&sims), 10, None)?)
        })?);
    }
    let best = signals.last().cloned().ok_or(BenchError::NoQuestions)?;
    Ok(RetrievalReport {
        questions: answerable.len(),
        articles: index.articles().len(),
        passages: index.passages().len(),
        recall_at_1: best.recall_at_1,
        recall_at_3: best.recall_at_3,
        recall_at_5: best.recall_at_5,
        mrr: best.mrr,
        build_ms,
        query_p50_ms: best.query_p50_ms,
        query_p99_ms: best.query_p99_ms,
        signals,
    })
}

/// Recall and MRR of one ranking over the questions: whether a returned passage contains a
/// gold span (case-insensitive).
fn score_ranking(
    signal: &str,
    questions: &[&Question],
    mut rank: impl FnMut(&str) -> Result<Vec<crate::index::SearchHit>, BenchError>,
) -> Result<SignalReport, BenchError> {
    let (mut r1, mut r3, mut r5, mut mrr) = (0usize, 0usize, 0usize, 0.0f64);
    let mut latencies = Vec::with_capacity(questions.len());
    for q in questions {
        let t = Instant::now();
        let hits = rank(&q.question)?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let gold: Vec<String> = q.answers.iter().map(|a| lower(a)).collect();
        let first = hits.iter().position(|h| {
            let text = lower(&h.text);
            gold.iter().any(|g| text.contains(g.as_str()))
        });
        if let Some(r) = first {
            r1 += usize::from(r < 1);
            r3 += usize::from(r < 3);
            r5 += usize::from(r < 5);
            mrr += 1.0 / (r as f64 + 1.0);
        }
    }
    let n = questions.len().max(1) as f64;
    Ok(SignalReport {
        signal: signal.to_string(),
        recall_at_1: r1 as f64 / n,
        recall_at_3: r3 as f64 / n,
        recall_at_5: r5 as f64 / n,
        mrr: mrr / n,
        query_p50_ms: super::percentile(&latencies, 50.0),
        query_p99_ms: super::percentile(&latencies, 99.0),
    })
}

/// Speed figures on a synthetic corpus.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticReport {
    pub passages: usize,
    pub articles: usize,
    pub queries: usize,
    pub build_ms: f64,
    /// Passages indexed per second (with their sentence vectors when the embedder is on).
    pub passages_per_s: f64,
    /// Megabytes of article text indexed per second.
    pub text_mb_per_s: f64,
    /// Vectors stored, one per sentence and one per passage (0 without the embedder).
    pub sentence_vectors: usize,
    /// BM25 alone.
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
    /// The product's retrieval with the embedder: the question's embedding, its similarity to
    /// every sentence vector, and the fusion with BM25 (`None` without the embedder).
    pub hybrid_p50_ms: Option<f64>,
    pub hybrid_p99_ms: Option<f64>,
    /// Parts of the hybrid query: embedding the question, and its similarity to every
    /// sentence vector from the int8 rows the product reads and, for comparison in the same
    /// run, from the f32 rows.
    pub embed_p50_ms: Option<f64>,
    pub scan_int8_p50_ms: Option<f64>,
    pub scan_int8_p99_ms: Option<f64>,
    pub scan_f32_p50_ms: Option<f64>,
    /// Megabytes the int8 scan reads per query.
    pub scan_mb: Option<f64>,
}

/// A made-up vocabulary of pronounceable words with a Zipf-like frequency, so that term
/// statistics resemble prose. No text is copied from anywhere.
struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new(size: usize, rng: &mut StdRng) -> Vocabulary {
        const ONSETS: &[&str] = &[
            "b", "k", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "st", "tr", "pl",
        ];
        const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ou"];
        let mut words = Vec::with_capacity(size);
        let mut seen = std::collections::HashSet::new();
        while words.len() < size {
            let syllables = rng.random_range(1..=4);
            let mut w = String::new();
            for _ in 0..syllables {
                w.push_str(ONSETS[rng.random_range(0..ONSETS.len())]);
                w.push_str(VOWELS[rng.random_range(0..VOWELS.len())]);
            }
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        Vocabulary::ranked(words)
    }

    /// `words` in a random order of rank (Zipf-like frequency by rank).
    fn from_words(mut words: Vec<String>, rng: &mut StdRng) -> Vocabulary {
        use rand::seq::SliceRandom;
        words.shuffle(rng);
        Vocabulary::ranked(words)
    }

    fn ranked(words: Vec<String>) -> Vocabulary {
        let mut total = 0.0;
        let cumulative = (1..=words.len().max(1))
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random_range(0.0..total);
        let i = self.cumulative.partition_point(|&c| c < x);
        &self.words[i.min(self.words.len() - 1)]
    }

    fn sentence(&self, rng: &mut StdRng, words: usize) -> String {
        let mut s: Vec<&str> = (0..words).map(|_| self.pick(rng)).collect();
        let mut first = s.remove(0).to_string();
        if let Some(c) = first.get(0..1) {
            first = c.to_uppercase() + &first[1..];
        }
        format!("{first} {}.", s.join(" "))
    }
}

/// Generates a corpus of about `passages` passages (each paragraph is sized to become one
/// passage), ten paragraphs per article, from made-up words.
pub fn synthetic_corpus(passages: usize, seed: u64) -> Corpus {
    synthetic_corpus_of(passages, seed, None)
}

/// [`synthetic_corpus`], its words drawn from `words` when given (random sentences of real
/// words; made-up words otherwise).
pub fn synthetic_corpus_of(passages: usize, seed: u64, words: Option<Vec<String>>) -> Corpus {
    let mut rng = StdRng::seed_from_u64(seed);
    let vocab = vocabulary(words, &mut rng);
    let mut articles = Vec::new();
    let mut made = 0;
    while made < passages {
        let paragraphs = (passages - made).min(10);
        let mut text = Vec::with_capacity(paragraphs);
        for _ in 0..paragraphs {
            let sentences: Vec<String> = (0..5)
                .map(|_| {
                    let n = rng.random_range(12..=20);
                    vocab.sentence(&mut rng, n)
                })
                .collect();
            text.push(sentences.join(" "));
        }
        made += paragraphs;
        let n = articles.len();
        articles.push(Article {
            id: format!("synthetic-{n}"),
            path: PathBuf::from(format!("synthetic-{n}.txt")),
            title: vocab
                .sentence(&mut rng, 4)
                .trim_end_matches('.')
                .to_string(),
            date: None,
            url: None,
            text: text.join("\n\n"),
        });
    }
    Corpus {
        articles,
        skipped: Vec::new(),
    }
}

fn vocabulary(words: Option<Vec<String>>, rng: &mut StdRng) -> Vocabulary {
    match words.filter(|w| !w.is_empty()) {
        Some(words) => Vocabulary::from_words(words, rng),
        None => Vocabulary::new(30_000, rng),
    }
}

/// Indexes a synthetic corpus of about `passages` passages and times `queries` queries made
/// of 3–8 words from the same vocabulary. With the embedder, the words are those its tokenizer
/// holds whole, so that sentences tokenise (and embed) at the rate of prose: made-up words
/// split into three or four word pieces each.
pub fn run_synthetic(
    passages: usize,
    queries: usize,
    options: &IndexOptions,
) -> Result<SyntheticReport, BenchError> {
    let words = options.embedder.as_ref().map(|e| e.whole_words());
    let corpus = synthetic_corpus_of(passages, 42, words.clone());
    let text_bytes: usize = corpus.articles.iter().map(|a| a.text.len()).sum();
    let scratch = tempfile::tempdir().map_err(BenchError::Scratch)?;
    let started = Instant::now();
    let index: SearchIndex = index::build_at(&corpus, &scratch.path().join("index"), options)?;
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut rng = StdRng::seed_from_u64(7);
    let vocab = vocabulary(words, &mut StdRng::seed_from_u64(42));
    let questions: Vec<String> = (0..queries)
        .map(|_| {
            let n = rng.random_range(3..=8);
            vocab.sentence(&mut rng, n)
        })
        .collect();
    let mut latencies = Vec::with_capacity(queries);
    for q in &questions {
        let t = Instant::now();
        index.search(q, 5, None)?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut hybrid = Vec::new();
    let (mut embed, mut scan, mut exact) = (Vec::new(), Vec::new(), Vec::new());
    if let (Some(embedder), Some(vectors)) = (options.embedder.as_ref(), index.vectors()) {
        for q in &questions {
            let t = Instant::now();
            let v = embedder
                .embed_one(q)
                .map_err(|e| BenchError::Embed(e.to_string()))?;
            let embedded = Instant::now();
            let sims = vectors.similarities(&v);
            let scanned = Instant::now();
            index.hybrid_search(q, Some(&sims), 5, None)?;
            hybrid.push(t.elapsed().as_secs_f64() * 1000.0);
            embed.push((embedded - t).as_secs_f64() * 1000.0);
            scan.push((scanned - embedded).as_secs_f64() * 1000.0);
        }
        // The f32 scan on a sample (it is the slow one), for the ratio.
        for q in questions.iter().take(20) {
            let v = embedder
                .embed_one(q)
                .map_err(|e| BenchError::Embed(e.to_string()))?;
            let t = Instant::now();
            std::hint::black_box(vectors.exact_similarities(&v));
            exact.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let p = |xs: &[f64], q: f64| (!xs.is_empty()).then(|| super::percentile(xs, q));
    let seconds = (build_ms / 1000.0).max(1e-9);
    Ok(SyntheticReport {
        passages: index.passages().len(),
        articles: index.articles().len(),
        queries,
        build_ms,
        passages_per_s: index.passages().len() as f64 / seconds,
        text_mb_per_s: text_bytes as f64 / 1e6 / seconds,
        sentence_vectors: index.vectors().map(|v| v.len()).unwrap_or(0),
        query_p50_ms: super::percentile(&latencies, 50.0),
        query_p99_ms: super::percentile(&latencies, 99.0),
        hybrid_p50_ms: (!hybrid.is_empty()).then(|| super::percentile(&hybrid, 50.0)),
        hybrid_p99_ms: (!hybrid.is_empty()).then(|| super::percentile(&hybrid, 99.0)),
        embed_p50_ms: p(&embed, 50.0),
        scan_int8_p50_ms: p(&scan, 50.0),
        scan_int8_p99_ms: p(&scan, 99.0),
        scan_f32_p50_ms: p(&exact, 50.0),
        scan_mb: index.vectors().map(|v| v.scan_bytes() as f64 / 1e6),
    })
}
