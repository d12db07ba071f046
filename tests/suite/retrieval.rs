//! Ingestion, chunking, indexing and retrieval through the library and the real binary.
use ama::corpus::{self, ChunkConfig};
use ama::index::{self, BuildStatus, IndexOptions};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn squad_articles() -> PathBuf {
    repo().join("../shared/bench/squad/articles")
}

fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A small corpus with every format, a nested folder, and two broken files.
fn mixed_corpus(dir: &Path) {
    write(
        dir,
        "plain.txt",
        "Harbour Lights\n\nThe harbour lights were installed in 1921. Gen. Marsh paid 1,200 dollars for them.\n\nThey still shine.",
    );
    write(
        dir,
        "notes/markdown.md",
        "---\ntitle: Lighthouse keepers\ndate: 2024-05-01\nurl: https://example.org/keepers\n---\n# Ignored heading\n\nThe **keepers** lived on the rock for *forty* years.\n",
    );
    write(
        dir,
        "web/page.html",
        "<html><head><title>Tide tables</title><script>var tide = 'secret';</script></head><body><nav>Home | About</nav><main><p>Spring tides rise higher than neap tides.</p></main><footer>Footer text</footer></body></html>",
    );
    write(
        dir,
        "broken/latin1.txt",
        b"Caf\xe9 au lait\n\nNot UTF-8.".as_slice(),
    );
    write(
        dir,
        "broken/front.md",
        "---\ntitle: [unclosed\n---\nBody text.",
    );
    write(dir, "ignored.pdf", "not an article");
}

#[test]
fn every_format_is_read_and_broken_files_are_skipped_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    mixed_corpus(dir.path());
    let corpus = corpus::read_corpus(dir.path()).unwrap();
    let titles: Vec<(&str, &str)> = corpus
        .articles
        .iter()
        .map(|a| (a.id.as_str(), a.title.as_str()))
        .collect();
    assert_eq!(
        titles,
        vec![
            ("notes--markdown", "Lighthouse keepers"),
            ("plain", "Harbour Lights"),
            ("web--page", "Tide tables"),
        ]
    );
    let md = &corpus.articles[0];
    assert_eq!(md.date.as_deref(), Some("2024-05-01"));
    assert_eq!(md.url.as_deref(), Some("https://example.org/keepers"));
    assert_eq!(
        md.text,
        "Ignored heading\n\nThe keepers lived on the rock for forty years."
    );
    let txt = &corpus.articles[1];
    assert_eq!(
        txt.text,
        "The harbour lights were installed in 1921. Gen. Marsh paid 1,200 dollars for them.\n\nThey still shine."
    );
    let html = &corpus.articles[2];
    assert_eq!(html.text, "Spring tides rise higher than neap tides.");
    let mut skipped: Vec<(String, String)> = corpus
        .skipped
        .iter()
        .map(|s| (s.path.to_string_lossy().to_string(), s.reason.clone()))
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "broken/front.md");
    assert!(skipped[0].1.contains("front matter"), "{}", skipped[0].1);
    assert_eq!(skipped[1].0, "broken/latin1.txt");
    assert!(skipped[1].1.contains("UTF-8"), "{}", skipped[1].1);
}

#[test]
fn a_missing_corpus_folder_is_a_clear_error() {
    let err = corpus::read_corpus(Path::new("/nonexistent/corpus")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/corpus"), "{err}");
}

/// `&article.text[range] == passage.text` for every passage (and every sentence lies inside
/// its passage) for every test file: the seeds, the SQuAD articles and the mixed corpus.
#[test]
fn passage_and_sentence_ranges_point_into_the_article_text() {
    let mixed = tempfile::tempdir().unwrap();
    mixed_corpus(mixed.path());
    let mut checked = 0;
    for dir in [
        repo().join("seeds"),
        squad_articles(),
        mixed.path().to_path_buf(),
    ] {
        let corpus = corpus::read_corpus(&dir).unwrap();
        assert!(!corpus.articles.is_empty(), "{}", dir.display());
        for article in &corpus.articles {
            let passages = corpus::chunk_article(article, &ChunkConfig::default());
            assert!(!passages.is_empty());
            for (i, p) in passages.iter().enumerate() {
                assert_eq!(p.ordinal, i);
                assert_eq!(&article.text[p.range.clone()], p.text);
                assert!(p.text.split_whitespace().count() <= ChunkConfig::default().max_words);
                for s in &p.sentences {
                    assert!(p.range.start <= s.start && s.end <= p.range.end);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked} passages checked");
}

#[test]
fn the_seed_article_is_copied_without_the_widget_labels() {
    let corpus = corpus::read_corpus(&repo().join("seeds")).unwrap();
    assert_eq!(corpus.articles.len(), 1);
    let text = &corpus.articles[0].text;
    assert!(text.starts_with("Within 72 hours, Ukraine has received approval"));
    assert!(text.ends_with("spiral out of control."));
    assert!(!text.contains("Ask me anything"));
    assert!(!text.contains("Explore related questions"));
}

fn seed_index() -> (tempfile::TempDir, index::SearchIndex) {
    let data = tempfile::tempdir().unwrap();
    let (idx, report) =
        index::ensure_index(&repo().join("seeds"), data.path(), &IndexOptions::default()).unwrap();
    assert_eq!(report.status, BuildStatus::Built);
    (data, idx)
}

#[test]
fn search_finds_the_passage_that_answers() {
    let (_data, idx) = seed_index();
    let hits = idx
        .search("Who replaced General Zaluzhny?", 3, None)
        .unwrap();
    assert!(!hits.is_empty());
    assert!(hits[0]
        .text
        .contains("was replaced by the seasoned General Syrsky"));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let hits = idx.search("North Korean reinforcements", 1, None).unwrap();
    assert!(hits[0].text.contains("North Korean reinforcements"));
    // Restricting to an unknown article finds nothing; to the seed article, the same hit.
    assert!(idx
        .search("Kursk", 3, Some("no-such-article"))
        .unwrap()
        .is_empty());
    let seed_id = idx.articles()[0].id.clone();
    assert_eq!(
        idx.search("Kursk", 3, Some(&seed_id)).unwrap().len(),
        idx.search("Kursk", 3, None).unwrap().len()
    );
}

#[test]
fn the_index_tells_which_names_the_articles_mention() {
    let (_data, idx) = seed_index();
    // As written and in any case; "Zelenskyy" by its first letters ("Zelensky").
    for word in ["Kursk", "ZALUZHNY", "Koreans", "1,200", "Zelenskyy"] {
        assert!(idx.mentions(word), "{word} is in the seed article");
    }
    for word in ["Merkel", "Ethelred", "Pyongyang", "1939", "Zelda"] {
        assert!(!idx.mentions(word), "{word} is not in the seed article");
    }
    // Typed without accents: "Fecamp" is "Fécamp" (no shared first letters to go by).
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("corpus"),
        "abbey.txt",
        "The abbey of Fécamp taught music. Scandinavia sent settlers.",
    );
    let (idx, _) = index::ensure_index(
        &dir.path().join("corpus"),
        &dir.path().join("data"),
        &IndexOptions::default(),
    )
    .unwrap();
    for word in ["Fecamp", "Fécamp", "Scandinavian"] {
        assert!(idx.mentions(word), "{word} is in the article");
    }
    assert!(!idx.mentions("Fecund"));
}

#[test]
fn hostile_queries_never_fail() {
    let (_data, idx) = seed_index();
    let long = "Kursk ".repeat(1700); // over 10,000 characters
    let hostile = [
        "",
        "   ",
        "AND",
        "OR",
        "( [ : \" * ~ ^ \\",
        "title:Kursk AND (body:\"unclosed",
        "Kursk~2^3 [1 TO *]",
        "\"",
        "\\",
        "*",
        "NOT NOT -- ++",
        "🦀🦀 emoji ☃ and Ω",
        &long,
    ];
    for q in hostile {
        let hits = idx.search(q, 5, None);
        assert!(hits.is_ok(), "query {q:?} failed: {hits:?}");
    }
    assert!(idx.search("", 5, None).unwrap().is_empty());
    assert!(idx.search("( [ : \" * ~ ^ \\", 5, None).unwrap().is_empty());
    assert!(!idx.search(&long, 5, None).unwrap().is_empty());
    assert!(!idx
        .search("title:Kursk AND (body:\"unclosed", 5, None)
        .unwrap()
        .is_empty());
}

fn file_times(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn reindexing_an_unchanged_corpus_does_no_work_and_a_change_rebuilds() {
    let corpus_dir = tempfile::tempdir().unwrap();
    mixed_corpus(corpus_dir.path());
    let data = tempfile::tempdir().unwrap();
    let opts = IndexOptions::default();
    let (_, first) = index::ensure_index(corpus_dir.path(), data.path(), &opts).unwrap();
    assert_eq!(first.status, BuildStatus::Built);
    assert_eq!(first.skipped.len(), 2);
    let before = file_times(data.path());
    let (idx, second) = index::ensure_index(corpus_dir.path(), data.path(), &opts).unwrap();
    assert_eq!(second.status, BuildStatus::UpToDate);
    assert_eq!(second.index_dir, first.index_dir);
    assert_eq!(second.skipped.len(), 2);
    assert_eq!(
        file_times(data.path()),
        before,
        "an up-to-date index was touched"
    );
    assert_eq!(idx.articles().len(), 3);
    drop(idx);

    // Editing one file rebuilds, swaps the new index in and removes the old one.
    write(
        corpus_dir.path(),
        "plain.txt",
        "Harbour Lights\n\nNow about foghorns only.",
    );
    let (idx, third) = index::ensure_index(corpus_dir.path(), data.path(), &opts).unwrap();
    assert_eq!(third.status, BuildStatus::Built);
    assert_ne!(third.index_dir, first.index_dir);
    assert!(!first.index_dir.exists());
    assert_eq!(idx.search("foghorns", 1, None).unwrap().len(), 1);
    // Other chunking settings rebuild too.
    let other = IndexOptions {
        chunking: ChunkConfig {
            target_words: 50,
            ..ChunkConfig::default()
        },
        ..IndexOptions::default()
    };
    let (_, fourth) = index::ensure_index(corpus_dir.path(), data.path(), &other).unwrap();
    assert_eq!(fourth.status, BuildStatus::Built);
}

fn ama() -> Command {
    Command::cargo_bin("ama").unwrap()
}

/// Kills `ama index` in the middle of building a large corpus: the old index must keep
/// answering, and the next run must clean up and build.
#[test]
fn an_interrupted_rebuild_leaves_the_old_index_serving() {
    let corpus_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(
        corpus_dir.path(),
        "first.txt",
        "Lighthouse\n\nThe old lamp burned whale oil.",
    );
    let args = |cmd: &mut Command| {
        cmd.arg("--corpus")
            .arg(corpus_dir.path())
            .arg("--data")
            .arg(data.path());
    };
    let mut c = ama();
    c.arg("index");
    args(&mut c);
    c.assert().success();
    let manifest_before = std::fs::read(data.path().join("manifest.json")).unwrap();

    // A corpus large enough that building takes a while.
    let big = ama::bench::retrieval::synthetic_corpus(40_000, 1);
    for a in &big.articles {
        write(corpus_dir.path(), &format!("big/{}.txt", a.id), &a.text);
    }
    let bin = assert_cmd::cargo::cargo_bin("ama");
    let mut child = std::process::Command::new(bin)
        .arg("index")
        .arg("--corpus")
        .arg(corpus_dir.path())
        .arg("--data")
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let building = loop {
        let found = std::fs::read_dir(data.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".building-"));
        if found {
            break true;
        }
        if child.try_wait().unwrap().is_some() || started.elapsed().as_secs() > 120 {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(
        building,
        "the build finished before it could be interrupted"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();

    // The manifest still names the old index, which still answers.
    assert_eq!(
        std::fs::read(data.path().join("manifest.json")).unwrap(),
        manifest_before
    );
    let idx = index::open(data.path()).unwrap();
    let hits = idx.search("whale oil", 1, None).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(idx.articles().len(), 1);

    // The next run removes the abandoned build and indexes the new corpus.
    std::fs::remove_dir_all(corpus_dir.path().join("big")).unwrap();
    write(
        corpus_dir.path(),
        "second.txt",
        "Foghorn\n\nThe foghorn sounded twice.",
    );
    let mut c = ama();
    c.arg("index");
    args(&mut c);
    c.assert().success();
    let leftovers: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".building-"))
        .collect();
    assert!(leftovers.is_empty());
    let idx = index::open(data.path()).unwrap();
    assert_eq!(idx.articles().len(), 2);
}

#[test]
fn cli_search_prints_json_and_index_reports_up_to_date() {
    let data = tempfile::tempdir().unwrap();
    let out = ama()
        .args([
            "search",
            "Who replaced General Zaluzhny?",
            "-k",
            "2",
            "--json",
        ])
        .arg("--corpus")
        .arg(repo().join("seeds"))
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &hits[0];
    assert!(first["text"].as_str().unwrap().contains("General Syrsky"));
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert!(first["article_title"].as_str().is_some());
    let out = ama()
        .arg("index")
        .arg("--corpus")
        .arg(repo().join("seeds"))
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

#[test]
fn cli_bench_retrieval_prints_the_figures_as_json() {
    // Lexical: embedding 900 sentences and 2,000 questions in a test build would cost
    // minutes; the dense and fused rankings are tested in `embed` and measured by the bench.
    let out = ama()
        .args(["bench", "retrieval", "--lexical", "--json", "--corpus"])
        .arg(squad_articles())
        .arg("--questions")
        .arg(repo().join("../shared/bench/squad/questions.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "recall_at_1",
        "recall_at_3",
        "recall_at_5",
        "mrr",
        "build_ms",
        "query_p50_ms",
        "query_p99_ms",
    ] {
        assert!(r[key].as_f64().is_some(), "missing {key}");
    }
    assert_eq!(r["questions"], 705);
    assert_eq!(r["signals"][0]["signal"], "bm25");
    // Quality, not speed: retrieval must find a gold span in the top 3 for nearly all.
    assert!(r["recall_at_3"].as_f64().unwrap() >= 0.95, "{r}");
    let out = ama()
        .args([
            "bench",
            "retrieval",
            "--lexical",
            "--synthetic",
            "500",
            "--queries",
            "50",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["passages"].as_u64().unwrap() >= 450);
}

#[test]
fn cli_errors_are_clear() {
    let out = ama()
        .args(["search", "x", "--corpus", "/nonexistent/corpus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/corpus"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
