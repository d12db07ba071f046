//! The fuzz targets' properties (`fuzz/checks.rs`, the same functions `cargo fuzz` runs) on
//! every input the fuzzers ever crashed on, kept in `fuzz/regressions/TARGET/`, on the files
//! the fuzzers are seeded with (the seed article, the SQuAD articles and questions), and on a
//! bounded number of mutations of those (a small, seeded, uncoverage-guided fuzz run: the
//! instrumented `cargo fuzz` build takes longer than CI's whole budget).

#[path = "../../fuzz/checks.rs"]
mod checks;

use crate::common::llm_harness::smollm2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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

/// Pieces that reach parsers' and tokenizers' corners: control markers, markup, sentence
/// ends, abbreviations, zero-width and multi-byte characters, line ends.
const DICTIONARY: &[&str] = &[
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "<|im_",
    "end|>",
    "\u{0}",
    "\u{13}",
    "\u{feff}",
    "\u{200b}",
    "\u{301}",
    "é",
    "😀",
    "𠀀",
    "<p>",
    "</p>",
    "<script>",
    "<!--",
    "-->",
    "<title>",
    "# ",
    "```",
    "---\n",
    "\n\n",
    ". ",
    "? ",
    "Mr. ",
    "U.S. ",
    "1.5",
    "\"",
    "“",
    "—",
    "&amp;",
    "<br>",
    "[1]",
    "\r\n",
    "\t",
    "    ",
    "*",
    "_",
    "|",
];

/// One to four mutations of `input`: byte flips, insertions, deletions, dictionary pieces,
/// and splices from `other`.
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => out.insert(at, rng.random()),
            2 => {
                let end = (at + rng.random_range(0..64)).min(out.len());
                out.drain(at..end);
            }
            3 | 4 => {
                let piece = DICTIONARY[rng.random_range(0..DICTIONARY.len())];
                out.splice(at..at, piece.bytes());
            }
            _ if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let to = (from + rng.random_range(1..256)).min(other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Runs `check` on `runs` mutations of the seeds; a failing input is saved under
/// `target/fuzz-found/` (to be added to `fuzz/regressions/TARGET/` once understood).
fn fuzz(target: &str, seeds: &[Vec<u8>], runs: usize, check: impl Fn(&[u8])) {
    let mut rng = StdRng::seed_from_u64(0x616d61);
    for run in 0..runs {
        let input = &seeds[rng.random_range(0..seeds.len())];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let mutated = mutate(&mut rng, input, other);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mutated)));
        if outcome.is_err() {
            let dir = root().join("target/fuzz-found");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{target}-{run}"));
            std::fs::write(&path, &mutated).unwrap();
            panic!(
                "{target}: mutation {run} broke a property; input saved as {}",
                path.display()
            );
        }
    }
}

fn with_prefix(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn mutated_seed_files_keep_the_properties() {
    let articles: Vec<Vec<u8>> = articles()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // Whole articles are slow to check; their first 4 KB hold every construct.
    let heads: Vec<Vec<u8>> = articles
        .iter()
        .map(|a| a[..a.len().min(4096)].to_vec())
        .collect();
    let ingest: Vec<Vec<u8>> = (0..3u8)
        .flat_map(|kind| heads.iter().map(move |a| with_prefix(&[kind], a)))
        .collect();
    fuzz("ingest", &ingest, 600, checks::ingest);
    let chunk: Vec<Vec<u8>> = heads
        .iter()
        .map(|a| with_prefix(&[20, 40, 60, 1], a))
        .collect();
    fuzz("chunk", &chunk, 600, checks::chunk);
    let questions: Vec<Vec<u8>> = questions().into_iter().map(String::into_bytes).collect();
    fuzz("query", &questions, 3000, checks::query);
    let tokenizer = checks::Tokenizer::load(&smollm2()).unwrap();
    fuzz("tokenizer", &questions, 1500, |input| {
        checks::tokenizer(&tokenizer, input)
    });
}
