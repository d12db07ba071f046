//! What the fuzz targets check. Shared, by `#[path]`, with the regression test
//! (`tests/suite/fuzzing.rs`), which replays every input kept in `fuzz/regressions/` and the
//! seed files through these same functions on stable Rust in every test run. Each check
//! panics on a broken property; libFuzzer reports the panic as a crash.
#![allow(dead_code)]

use ama::corpus::{
    chunk_article, clean_text, parse_article, passage_faults, split_sentences, Article, ChunkConfig,
};
use ama::llm::tokenizer::{GgufTokenizer, IncrementalDecoder};
use ama::llm::{ChatMessage, Role};
use std::ops::Range;
use std::path::{Path, PathBuf};

fn on_boundaries(text: &str, r: &Range<usize>) -> bool {
    r.start <= r.end
        && r.end <= text.len()
        && text.is_char_boundary(r.start)
        && text.is_char_boundary(r.end)
}

fn assert_passages(article: &Article, config: &ChunkConfig) {
    let passages = chunk_article(article, config);
    let faults = passage_faults(article, &passages);
    assert!(faults.is_empty(), "{config:?}: {faults:?}");
    // Every word of the text is in some passage.
    let mut covered = vec![false; article.text.len()];
    for p in &passages {
        covered[p.range.clone()].iter_mut().for_each(|c| *c = true);
    }
    for (i, c) in article.text.char_indices() {
        assert!(
            c.is_whitespace() || covered[i],
            "{config:?}: the character {c:?} at {i} is in no passage"
        );
    }
}

/// Ingestion: the first byte picks the format (text, Markdown, HTML), the rest is the file.
/// A parsed article has clean, non-empty text, and its passages are valid.
pub fn ingest(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let extension = ["txt", "md", "html"][kind as usize % 3];
    let rel = PathBuf::from(format!("fuzz/input.{extension}"));
    let Ok(article) = parse_article(raw, &rel) else {
        return;
    };
    assert!(!article.text.trim().is_empty());
    assert!(!article.id.is_empty());
    assert!(
        !article.text.chars().any(|c| c.is_control() && c != '\n'),
        "control characters in {:?}",
        article.text
    );
    assert_eq!(
        clean_text(&article.text),
        article.text,
        "cleaning is idempotent"
    );
    assert_passages(&article, &ChunkConfig::default());
}

/// Chunking: four bytes choose the sizes (small ones, to reach the edge cases), the rest is
/// the text. Sentences and passages are valid ranges on character boundaries, for the raw
/// text and for the cleaned one.
pub fn chunk(data: &[u8]) {
    let Some((sizes, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let config = ChunkConfig {
        min_words: sizes[0] as usize % 40,
        target_words: sizes[1] as usize % 80,
        max_words: sizes[2] as usize % 120,
        overlap_sentences: sizes[3] as usize % 4,
    };
    for text in [raw.to_string(), clean_text(raw)] {
        for s in split_sentences(&text) {
            assert!(on_boundaries(&text, &s), "sentence {s:?} of {text:?}");
            assert!(!text[s].trim().is_empty());
        }
        let article = Article {
            id: "fuzz".into(),
            path: PathBuf::from("fuzz.txt"),
            title: "Fuzz".into(),
            date: None,
            url: None,
            text,
        };
        assert_passages(&article, &config);
    }
}

/// The query analyser: a question (first line) with a conversation (the next lines, user
/// and assistant in turn). The API's checks, the follow-up query, the index's analyzer and
/// the answer checks' word functions take any text.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let question = lines.next().unwrap_or_default();
    let history: Vec<ChatMessage> = lines
        .enumerate()
        .map(|(i, l)| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            ChatMessage::new(role, l)
        })
        .collect();
    if let Ok(request) = ama::server::request::answer_request(question, &[], None) {
        assert!(!request.question.is_empty());
        assert!(request.question.chars().count() <= ama::server::request::MAX_QUESTION_CHARS);
    }
    // The follow-up as the reader reads it (its pronouns resolved) opens the query; without
    // a conversation it is the question itself.
    let read = ama::answer::query::for_reader(question, &history);
    assert_eq!(ama::answer::query::for_reader(question, &[]), question);
    let (query, _) = ama::answer::query::resolve(question, &history);
    assert!(
        query.starts_with(&read),
        "{query:?} does not open with {read:?}"
    );
    let mut analyzer = ama::index::analyzer();
    let mut stream = analyzer.token_stream(&query);
    while stream.advance() {
        let token = stream.token();
        let r = token.offset_from..token.offset_to;
        assert!(
            on_boundaries(&query, &r),
            "token offsets {r:?} in {query:?}"
        );
        assert!(!token.text.is_empty());
    }
    let answer = history.first().map(|m| m.content.as_str()).unwrap_or("");
    let f1 = ama::bench::metrics::token_f1(answer, question);
    assert!((0.0..=1.0).contains(&f1), "F1 {f1}");
    let _ = ama::answer::support::unsupported_words(answer, &[question]);
    let _ = ama::text::facts(question);
    let plain = ama::answer::citations::without_citations(answer);
    assert!(plain.len() <= answer.len());
    if !ama::text::normalise(question).is_empty() {
        assert!(ama::text::contains_normalised(question, question));
    }
}

/// The model's tokenizer and the control markers in message text.
pub struct Tokenizer {
    tokenizer: GgufTokenizer,
    controls: Vec<String>,
}

impl Tokenizer {
    pub fn load(gguf: &Path) -> Result<Tokenizer, String> {
        let file = ama::llm::gguf::GgufFile::open(gguf).map_err(|e| e.to_string())?;
        let tokenizer = GgufTokenizer::from_gguf(&file.content).map_err(|e| e.to_string())?;
        let controls = tokenizer.control_strings().map(str::to_string).collect();
        Ok(Tokenizer {
            tokenizer,
            controls,
        })
    }
}

/// A reader's message, stripped of control markers as the engine strips it, encodes to no
/// control token (a message cannot end a turn or open one), decodes back to itself (less
/// some control characters), and
/// decodes the same one token at a time (as the stream does).
pub fn tokenizer(t: &Tokenizer, data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let text = ama::llm::engine::strip_controls(&raw, &t.controls);
    for c in &t.controls {
        assert!(!text.contains(c.as_str()), "{c} left in {text:?}");
    }
    let ids = t.tokenizer.encode(&text).expect("encode");
    for &id in &ids {
        assert!(
            !t.tokenizer.is_control(id),
            "control token {id} from {text:?}"
        );
    }
    let decoded = t.tokenizer.decode(&ids).expect("decode");
    // Every character of the Basic Multilingual Plane but control characters comes back.
    // Found by this target and kept in fuzz/regressions/tokenizer/: the tokenizer drops some
    // control characters (U+0013, not NUL) and garbles some characters beyond the BMP (an
    // unassigned plane-11 code point came back as four U+FFFD).
    let visible = |s: &str| {
        s.chars()
            .filter(|&c| !c.is_control() && (c as u32) < 0x10000 && c != '\u{FFFD}')
            .collect::<String>()
    };
    assert_eq!(visible(&decoded), visible(&text), "round trip");
    // What a stream shows after each token is a prefix of the final text: it never shows
    // something it takes back.
    let mut incremental = IncrementalDecoder::new();
    for &id in &ids {
        let shown = incremental.push(&t.tokenizer, id).expect("push");
        assert!(
            decoded.starts_with(&shown),
            "{shown:?} is not a prefix of {decoded:?}"
        );
    }
    assert_eq!(incremental.finish(&t.tokenizer).expect("finish"), decoded);
}
