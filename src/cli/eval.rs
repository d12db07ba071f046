//! `eval`: the answer flow on a SQuAD-format question set ([`ama::bench::eval`]), assembled
//! over a scratch data folder with the settings given by --set and --config.
use super::llm::ModelArgs;
use ama::answer::AnswerConfig;
use ama::assemble::{assemble, Config};
use ama::llm::WorkerOptions;
use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of articles to index.
    #[arg(long)]
    pub corpus: std::path::PathBuf,
    /// Questions in the SQuAD JSONL format.
    #[arg(long)]
    pub questions: std::path::PathBuf,
    /// Sample this many questions (fixed by --seed).
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Skip generation: retrieval, evidence and abstention only (fast).
    #[arg(long)]
    pub no_generate: bool,
    /// Overrides one of the answer flow's settings by name (repeatable), e.g.
    /// `--set min_coverage=0.3`; `--set help` lists them with their defaults.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A file of `key = value` settings (applied before --set).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Also ask these questions in a reader's own words (same format; those about articles
    /// outside --corpus are left out) and report them apart.
    #[arg(long)]
    pub own_words: Option<std::path::PathBuf>,
    /// Also hold these conversations (JSONL: `id`, `article`, `turns` of `question`,
    /// `answers`, `answerable`), each follow-up asked with the earlier questions and the
    /// flow's own answers as history, and report the follow-ups apart.
    #[arg(long)]
    pub conversations: Option<std::path::PathBuf>,
    /// Prepare related questions for this many articles and score those shown after answers.
    #[arg(long, default_value_t = 1)]
    pub related_articles: usize,
    /// Include the model's own question candidates when preparing them (slower).
    #[arg(long)]
    pub related_model: bool,
    /// Where to write per-question results (JSONL).
    #[arg(long, default_value = "data/eval.jsonl")]
    pub out: std::path::PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub chunking: super::retrieval::IndexingArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    use ama::bench::eval::{run, EvalOptions};
    if args.set.iter().any(|s| s == "help") {
        print!("{}", AnswerConfig::default().describe());
        return Ok(());
    }
    let questions = ama::bench::retrieval::read_questions(&args.questions)?;
    // The settings file's lines first, then --set: the last word wins.
    let mut settings = Vec::new();
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        settings.extend(ama::answer::settings_lines(&text).map(str::to_string));
    }
    settings.extend(args.set.iter().cloned());
    let own_words = match &args.own_words {
        Some(path) => ama::bench::retrieval::read_questions(path)?,
        None => Vec::new(),
    };
    let conversations = match &args.conversations {
        Some(path) => ama::bench::conversation::read_conversations(path)?,
        None => Vec::new(),
    };
    // The corpus is indexed in a scratch folder, and the suggestions of the first
    // --related-articles articles prepared there: eval leaves `data/` alone.
    let scratch = tempfile::tempdir()?;
    let progress = super::progress::bars_unless(args.json);
    let config = Config {
        corpus: args.corpus.clone(),
        data: scratch.path().to_path_buf(),
        chunking: args.chunking.chunking(),
        lexical: args.chunking.lexical,
        model: args.model.source(WorkerOptions::default())?,
        suggestions_cache: Some(scratch.path().join("related")),
        suggest_articles: Some(args.related_articles),
        suggest_with_model: args.related_model,
        settings,
        ..Config::default()
    };
    let answerer = assemble(&config, None, &progress)?;
    let options = EvalOptions {
        limit: args.limit,
        seed: args.seed,
        no_generate: args.no_generate,
        chunking: config.chunking.clone(),
        progress,
        own_words,
        conversations,
    };
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    let r = run(&args.corpus, &questions, &answerer, &options, &mut out)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!(
        "{} questions ({} answerable, {} unanswerable), seed {}{}",
        r.questions,
        r.answerable,
        r.unanswerable,
        args.seed,
        if r.generated { "" } else { ", no generation" }
    );
    println!("answerable:   answer contains gold {:.3}   answer or evidence contains gold {:.3}   token F1 {:.3}   retrieval recall@3 {:.3}", r.answer_contains, r.evidence_contains, r.token_f1, r.recall_at_3);
    println!(
        "              wrongly declined {:.3}   answered by quoting the evidence {:.3}",
        r.answerable_declined, r.quoted_evidence
    );
    println!("unanswerable: declined {:.3}", r.unanswerable_declined);
    println!(
        "off-topic:    declined {:.3} of {} (leave one article out)",
        r.offtopic_declined, r.offtopic_questions
    );
    if let (Some(w), Some(a), Some(rep)) = (
        r.related_wellformed,
        r.related_answerable,
        r.related_repeats,
    ) {
        println!(
            "related:      {} shown after answers: well-formed {w:.3}, answerable {a:.3}, lists with a repeat {rep:.3}",
            r.related_shown
        );
    }
    if let (Some(e), Some(g), Some(n)) = (
        r.related_entailed,
        r.related_generic,
        r.related_near_duplicates,
    ) {
        println!(
            "              entailed by their evidence {e:.3}, generic templates {g:.3}, lists with a near-duplicate {n:.3}"
        );
    }
    if let Some(o) = &r.own_words {
        println!(
            "own words:    {} questions: answer contains gold {:.3}   answer or evidence {:.3}   token F1 {:.3}   recall@3 {:.3}   declined {:.3}",
            o.questions, o.answer_contains, o.evidence_contains, o.token_f1, o.recall_at_3, o.answerable_declined
        );
    }
    if let Some(c) = &r.conversations {
        println!(
            "conversations: {} ({} first turns contain gold {:.3}): {} follow-ups: answer contains gold {:.3}   answer or evidence {:.3}   declined {:.3}; {} unanswerable follow-ups declined {:.3}",
            c.conversations, c.conversations, c.first_turns_answer_contains, c.follow_ups, c.follow_up_answer_contains, c.follow_up_evidence_contains, c.follow_up_declined, c.unanswerable_follow_ups, c.unanswerable_follow_up_declined
        );
    }
    println!(
        "latency:      p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms",
        r.latency_p50_ms, r.latency_p90_ms, r.latency_p99_ms
    );
    println!("per-question results: {}", args.out.display());
    Ok(())
}
