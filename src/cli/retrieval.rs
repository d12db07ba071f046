//! `index`, `search` and `bench retrieval`.
use ama::answer::Answerer;
use ama::assemble::{assemble, Config};
use ama::bench::retrieval as bench;
use ama::corpus::ChunkConfig;
use ama::index::{self, BuildStatus, IndexOptions};
use ama::llm::WorkerOptions;
use ama::progress::Progress;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Where the corpus and the index live, and how passages are cut.
#[derive(Debug, Args)]
pub struct CorpusArgs {
    /// Folder of articles (.txt, .md, .html), read recursively.
    #[arg(long, default_value = "seeds")]
    pub corpus: PathBuf,
    /// Folder for the index and caches.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// A suggestions cache shared by several data folders (for example by replicas, or by
    /// test runs that start many servers); entries are keyed by article text and model, and
    /// never pruned. Default: `DATA/related`, pruned of articles that changed.
    #[arg(long)]
    pub suggestions_cache: Option<PathBuf>,
    #[command(flatten)]
    pub chunking: IndexingArgs,
}

impl CorpusArgs {
    /// The assembly's config for these folders and passage sizes (the default model).
    pub fn config(&self) -> Config {
        Config {
            corpus: self.corpus.clone(),
            data: self.data.clone(),
            chunking: self.chunking.chunking(),
            lexical: self.chunking.lexical,
            suggestions_cache: self.suggestions_cache.clone(),
            ..Config::default()
        }
    }

    /// Loads the index (building it when the corpus changed) and the model, and prepares the
    /// suggestions (once per article version, then cached), showing progress as bars.
    pub fn answerer(&self, model: &super::llm::ModelArgs) -> anyhow::Result<Answerer> {
        self.answerer_with(model, None)
    }

    /// [`CorpusArgs::answerer`] with suggestions for the first `related_articles` articles
    /// only (`None`: every article).
    pub fn answerer_with(
        &self,
        model: &super::llm::ModelArgs,
        related_articles: Option<usize>,
    ) -> anyhow::Result<Answerer> {
        let config = Config {
            model: model.source(WorkerOptions::default())?,
            suggest_articles: related_articles,
            ..self.config()
        };
        Ok(assemble(&config, None, &super::progress::bars())?)
    }
}

/// How passages are cut, and whether sentences are embedded.
#[derive(Debug, Args)]
pub struct IndexingArgs {
    /// A passage closes at a paragraph end once it has this many words.
    #[arg(long, default_value_t = ChunkConfig::default().min_words)]
    pub min_words: usize,
    /// A passage closes once it has this many words.
    #[arg(long, default_value_t = ChunkConfig::default().target_words)]
    pub target_words: usize,
    /// No passage is longer than this (unless a single sentence is).
    #[arg(long, default_value_t = ChunkConfig::default().max_words)]
    pub max_words: usize,
    /// Index and retrieve by words only: no sentence embedder (all-MiniLM-L6-v2, fetched into
    /// models/ when missing) is loaded, and questions are matched by BM25 and shared words.
    #[arg(long)]
    pub lexical: bool,
}

impl IndexingArgs {
    pub fn chunking(&self) -> ChunkConfig {
        ChunkConfig {
            min_words: self.min_words,
            target_words: self.target_words,
            max_words: self.max_words,
            ..ChunkConfig::default()
        }
    }

    /// The index options; unless `--lexical`, with the sentence embedder (fetched when
    /// missing, reporting to `progress`).
    pub fn options(&self, progress: Progress) -> anyhow::Result<IndexOptions> {
        let config = Config {
            chunking: self.chunking(),
            lexical: self.lexical,
            ..Config::default()
        };
        Ok(config.index_options(progress)?)
    }
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Also prepare the suggested questions with the model and cache them in the data folder,
    /// so that `serve --read-only` replicas start without the model's work.
    #[arg(long)]
    pub suggestions: bool,
    #[command(flatten)]
    pub model: super::llm::ModelArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The question or keywords to search for.
    pub question: String,
    /// Number of passages to return.
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// Only search this article (its id, as `ama search --json` prints it).
    #[arg(long)]
    pub article: Option<String>,
    /// Print the hits as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub corpus: CorpusArgs,
}

#[derive(Debug, Args)]
pub struct BenchRetrievalArgs {
    /// Folder of articles to index (with --questions).
    #[arg(long, requires = "questions")]
    pub corpus: Option<PathBuf>,
    /// Questions in the SQuAD JSONL format (answerable ones are used).
    #[arg(long, requires = "corpus")]
    pub questions: Option<PathBuf>,
    /// Instead: generate a synthetic corpus of about N passages and time indexing and queries.
    #[arg(long, conflicts_with_all = ["corpus", "questions"])]
    pub synthetic: Option<usize>,
    /// Number of queries for --synthetic.
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub chunking: IndexingArgs,
}

pub fn index(args: IndexArgs) -> anyhow::Result<()> {
    let c = &args.corpus;
    let (_, report) = index::ensure_index(
        &c.corpus,
        &c.data,
        &c.chunking.options(super::progress::bars())?,
    )
    .with_context(|| format!("indexing {}", c.corpus.display()))?;
    for skipped in &report.skipped {
        eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    if args.suggestions {
        let answerer = c.answerer(&args.model)?;
        let count = answerer.suggestions().map(|s| s.all().count()).unwrap_or(0);
        println!("{count} suggested questions prepared and cached");
    }
    match report.status {
        BuildStatus::UpToDate => println!(
            "index is up to date: {} articles, {} passages ({})",
            report.articles,
            report.passages,
            report.index_dir.display()
        ),
        BuildStatus::Built => println!(
            "indexed {} articles into {} passages in {} ms ({} skipped) → {}",
            report.articles,
            report.passages,
            report.build_ms,
            report.skipped.len(),
            report.index_dir.display()
        ),
    }
    Ok(())
}

pub fn search(args: SearchArgs) -> anyhow::Result<()> {
    let c = &args.corpus;
    let options = c.chunking.options(super::progress::bars())?;
    let (index, _) = index::ensure_index(&c.corpus, &c.data, &options)
        .with_context(|| format!("indexing {}", c.corpus.display()))?;
    let retriever = ama::answer::Retriever::new(
        std::sync::Arc::new(index),
        ama::answer::AnswerConfig::default(),
    )
    .with_embedder(options.embedder);
    let hits = retriever.search(&args.question, args.k, args.article.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no passage matches");
    }
    for (i, hit) in hits.iter().enumerate() {
        println!(
            "{}. {} — score {:.2} — {} (bytes {}..{})",
            i + 1,
            hit.article_title,
            hit.score,
            hit.passage_id,
            hit.range.start,
            hit.range.end
        );
        println!("   {}\n", hit.text);
    }
    Ok(())
}

pub fn bench(args: BenchRetrievalArgs) -> anyhow::Result<()> {
    let options = args
        .chunking
        .options(super::progress::bars_unless(args.json))?;
    if let Some(n) = args.synthetic {
        let r = bench::run_synthetic(n, args.queries, &options)?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "synthetic corpus: {} passages in {} articles",
                r.passages, r.articles
            );
            println!(
                "index build:      {:.0} ms ({:.0} passages/s, {:.3} MB of text/s, {} sentence vectors)",
                r.build_ms, r.passages_per_s, r.text_mb_per_s, r.sentence_vectors
            );
            println!(
                "BM25 query:       p50 {:.3} ms, p99 {:.3} ms over {} queries",
                r.query_p50_ms, r.query_p99_ms, r.queries
            );
            if let (Some(p50), Some(p99)) = (r.hybrid_p50_ms, r.hybrid_p99_ms) {
                println!(
                    "hybrid query:     p50 {p50:.3} ms, p99 {p99:.3} ms (embedding the question, \
                     its similarity to every sentence vector, fusion)"
                );
            }
            if let (Some(e), Some(s50), Some(s99), Some(f), Some(mb)) = (
                r.embed_p50_ms,
                r.scan_int8_p50_ms,
                r.scan_int8_p99_ms,
                r.scan_f32_p50_ms,
                r.scan_mb,
            ) {
                println!(
                    "  of which:       embedding p50 {e:.3} ms; int8 scan of {mb:.1} MB p50 \
                     {s50:.3} ms, p99 {s99:.3} ms (f32 scan p50 {f:.3} ms, {:.1}x slower)",
                    f / s50.max(1e-9)
                );
            }
        }
        return Ok(());
    }
    let (Some(corpus), Some(questions)) = (args.corpus, args.questions) else {
        anyhow::bail!("give --corpus DIR --questions FILE.jsonl, or --synthetic N");
    };
    let qs = bench::read_questions(&questions)?;
    let r = bench::run_questions(&corpus, &qs, &options)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} answerable questions over {} articles, {} passages",
            r.questions, r.articles, r.passages
        );
        for sig in &r.signals {
            println!(
                "{:<7} recall@1 {:.3}   recall@3 {:.3}   recall@5 {:.3}   MRR {:.3}   query p50 {:.2} ms, p99 {:.2} ms",
                sig.signal,
                sig.recall_at_1,
                sig.recall_at_3,
                sig.recall_at_5,
                sig.mrr,
                sig.query_p50_ms,
                sig.query_p99_ms
            );
        }
        println!("index build {:.0} ms", r.build_ms);
    }
    Ok(())
}
