//! `ask`: one question through the grounded answer flow ([`ama::answer::Answerer`]).
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use ama::answer::related::SuggestionStore;
use ama::answer::{AnswerConfig, AnswerRequest, AnswerResult, Answerer, Retriever};
use ama::index;
use ama::llm::WorkerOptions;
use ama::progress::Progress;
use anyhow::Context;
use clap::Args;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    /// Only answer from this article (its id).
    #[arg(long)]
    pub article: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Loads the index (building it when the corpus changed) and the model, and prepares the
/// suggestions (once per article version, then cached), showing progress as bars.
pub fn answerer(corpus: &CorpusArgs, model: &ModelArgs) -> anyhow::Result<Answerer> {
    answerer_with(
        corpus,
        model,
        WorkerOptions::default(),
        &super::progress::bars(),
        Setup::default(),
    )
}

/// What the answerer may write, and where readers' questions go.
#[derive(Clone, Default)]
pub struct Setup {
    /// Open the index `ama index` built, and write nothing to the data folder: no index
    /// build, no suggestion cache (a replica).
    pub read_only: bool,
    /// Where every answered question is recorded (and the suggestable ones read back as
    /// suggestions, once verified); `None`: nowhere.
    pub store: Option<Arc<ama::store::Store>>,
}

/// `answerer` with the model's queue settings, reporting progress to `progress`.
pub fn answerer_with(
    corpus: &CorpusArgs,
    model: &ModelArgs,
    worker: WorkerOptions,
    progress: &Progress,
    setup: Setup,
) -> anyhow::Result<Answerer> {
    let options = corpus.chunking.options(progress.clone())?;
    let index = if setup.read_only {
        open_built_index(corpus)?
    } else {
        index::ensure_index(&corpus.corpus, &corpus.data, &options)
            .with_context(|| format!("indexing {}", corpus.corpus.display()))?
            .0
    };
    let model = model.load(worker, progress)?;
    let retriever = Arc::new(
        Retriever::new(Arc::new(index), AnswerConfig::for_model(model.name()))
            .with_embedder(options.embedder),
    );
    let articles: Vec<_> = retriever.index().articles().iter().collect();
    let mut store_options = corpus.suggestion_options();
    store_options.read_only = setup.read_only;
    let mut suggestions = SuggestionStore::build(
        &retriever,
        model.as_ref(),
        &articles,
        &store_options,
        progress,
    );
    let Some(store) = setup.store else {
        return Ok(Answerer::new(retriever, model).with_suggestions(Arc::new(suggestions)));
    };
    suggestions.add_reader_questions(&retriever, store.as_ref());
    Ok(Answerer::new(retriever, model)
        .with_suggestions(Arc::new(suggestions))
        .with_question_log(store))
}

/// The index `ama index` built in the data folder, opened without writing; a warning when
/// the corpus folder has changed since.
fn open_built_index(corpus: &CorpusArgs) -> anyhow::Result<index::SearchIndex> {
    let opened = index::open(&corpus.data)
        .with_context(|| format!("opening the index in {} (read-only)", corpus.data.display()))?;
    if corpus.corpus.is_dir() && !index::is_current(&corpus.corpus, &corpus.data) {
        tracing::warn!(
            "the index in {} is older than {}: run `ama index` to rebuild it (replicas pick it up when restarted)",
            corpus.data.display(),
            corpus.corpus.display()
        );
    }
    Ok(opened)
}

pub fn ask(args: AskArgs) -> anyhow::Result<()> {
    let answerer = answerer(&args.corpus, &args.model)?;
    let request = AnswerRequest {
        question: args.question.clone(),
        history: Vec::new(),
        article: args.article.clone(),
    };
    let result = answerer.ask(&request)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_result(&result);
    }
    Ok(())
}

fn print_result(r: &AnswerResult) {
    println!("{}\n", r.answer);
    if r.declined {
        if let Some(reason) = &r.decline_reason {
            println!("(declined: {reason})\n");
        }
    }
    for c in &r.citations {
        println!("[{}] “{}”", c.number, c.quote);
        println!(
            "    — {} ({}, bytes {}..{})",
            c.article_title, c.passage_id, c.highlight.start, c.highlight.end
        );
    }
    if !r.related.is_empty() {
        println!("\nRelated questions:");
        for q in &r.related {
            println!("  • {q}");
        }
    }
    println!(
        "\nretrieval {:.1} ms · first token {:.0} ms · total {:.0} ms · {} prompt + {} answer tokens",
        r.timings.retrieval_ms, r.timings.ttft_ms, r.timings.total_ms, r.tokens.prompt, r.tokens.completion
    );
}

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
    /// Answer questions that name something no article mentions (declined by default).
    #[arg(long)]
    pub allow_unknown_names: bool,
    /// A name no article mentions declines from this share of the question's weight found in
    /// the best passages on (or below the confident cosine).
    #[arg(long)]
    pub unknown_name_coverage: Option<f32>,
    /// Decline below this share of the question's weight found in the best passages.
    #[arg(long)]
    pub min_coverage: Option<f32>,
    /// Decline below this share of the question's weight found in the best sentence.
    #[arg(long)]
    pub min_sentence_coverage: Option<f32>,
    /// With sentence vectors: decline below this cosine of the best sentence.
    #[arg(long)]
    pub min_similarity: Option<f32>,
    /// With sentence vectors: answer from this cosine on, whatever the words.
    #[arg(long)]
    pub confident_similarity: Option<f32>,
    /// With sentence vectors: weight of a sentence's cosine in choosing evidence.
    #[arg(long)]
    pub dense_weight: Option<f32>,
    /// Evidence: how much more a sentence scores that offers the kind of answer asked for.
    #[arg(long)]
    pub answer_kind_bonus: Option<f32>,
    /// Evidence: the share of the previous sentence's score a sentence adds to its own.
    #[arg(long)]
    pub context_weight: Option<f32>,
    /// Also ask these questions in a reader's own words (same format; those about articles
    /// outside --corpus are left out) and report them apart.
    #[arg(long)]
    pub own_words: Option<std::path::PathBuf>,
    /// Also hold these conversations (JSONL: `id`, `article`, `turns` of `question`,
    /// `answers`, `answerable`), each follow-up asked with the earlier questions and the
    /// flow's own answers as history, and report the follow-ups apart.
    #[arg(long)]
    pub conversations: Option<std::path::PathBuf>,
    /// Evidence sentences selected and shown.
    #[arg(long)]
    pub evidence_sentences: Option<usize>,
    /// Never decline on the reader's "not stated" (quote the evidence instead), to measure
    /// what its judgment adds.
    #[arg(long)]
    pub no_reader_declines: bool,
    /// Between --min-similarity and --confident-similarity, where the words alone would
    /// decline, let the reader answer and judge its own answer against the evidence.
    #[arg(long)]
    pub reader_judgment: bool,
    /// Evidence sentences the model reads (at most --evidence-sentences).
    #[arg(long)]
    pub model_sentences: Option<usize>,
    /// The stronger reader's user turn, to measure prompts: `{instruction}` (the default
    /// instruction), `{text}` (the sentences read, joined by spaces), `{lines}` (one per line)
    /// and `{question}`.
    #[arg(long)]
    pub prompt_template: Option<String>,
    /// When the reader says "not stated" and the best sentence has at least this cosine, let
    /// it read its sentences again with their neighbours.
    #[arg(long)]
    pub second_look_from: Option<f32>,
    /// Keep a second look's answer without asking the reader to confirm it.
    #[arg(long)]
    pub second_look_unconfirmed: bool,
    /// The reader reads its sentences with their neighbours from the start.
    #[arg(long)]
    pub read_neighbours: bool,
    /// Below this share of the question's weight in the best passages, the reader reads the
    /// best sentence with its neighbours.
    #[arg(long)]
    pub read_neighbours_below: Option<f32>,
    /// Below this share of the question's weight in the best passages, the reader first
    /// writes a hypothetical answer whose meaning helps choose the evidence (0: never).
    #[arg(long)]
    pub hypothesis_below: Option<f32>,
    /// The hypothetical answer's words join the question's in BM25 too.
    #[arg(long)]
    pub hypothesis_lexical: bool,
    /// The answer check reads only numbers and capitalised names (as for SmolLM2), not
    /// every content word of a phrase answer.
    #[arg(long)]
    pub names_and_numbers_check: bool,
    /// Never take a second look.
    #[arg(long, conflicts_with = "second_look_from")]
    pub no_second_look: bool,
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
    use ama::bench::answer::{run, EvalOptions};
    let questions = ama::bench::retrieval::read_questions(&args.questions)?;
    let model = args
        .model
        .load(WorkerOptions::default(), &super::progress::bars())?;
    let mut config = AnswerConfig::for_model(model.name());
    if args.no_reader_declines {
        config.reader_declines = false;
    }
    config.reader_judges_uncertain |= args.reader_judgment;
    if args.allow_unknown_names {
        config.decline_unknown_names = false;
    }
    if let Some(c) = args.unknown_name_coverage {
        config.unknown_name_coverage = c;
    }
    if let Some(c) = args.min_coverage {
        config.min_coverage = c;
    }
    if let Some(c) = args.min_sentence_coverage {
        config.min_sentence_coverage = c;
    }
    if let Some(c) = args.min_similarity {
        config.min_similarity = c;
    }
    if let Some(c) = args.confident_similarity {
        config.confident_similarity = c;
    }
    if let Some(w) = args.dense_weight {
        config.dense_weight = w;
    }
    if let Some(b) = args.answer_kind_bonus {
        config.answer_kind_bonus = b;
    }
    if let Some(w) = args.context_weight {
        config.context_weight = w;
    }
    let own_words = match &args.own_words {
        Some(path) => ama::bench::retrieval::read_questions(path)?,
        None => Vec::new(),
    };
    let conversations = match &args.conversations {
        Some(path) => ama::bench::conversation::read_conversations(path)?,
        None => Vec::new(),
    };
    if let Some(n) = args.evidence_sentences {
        config.evidence_sentences = n;
        config.model_sentences = config.model_sentences.min(n);
    }
    if let Some(n) = args.model_sentences {
        config.model_sentences = n;
    }
    if let Some(s) = args.second_look_from {
        config.second_look_from = Some(s);
    }
    if args.second_look_unconfirmed {
        config.second_look_confirmed = false;
    }
    config.read_neighbours |= args.read_neighbours;
    if let Some(c) = args.read_neighbours_below {
        config.read_neighbours_below = c;
    }
    if args.no_second_look {
        config.second_look_from = None;
    }
    if let Some(c) = args.hypothesis_below {
        config.hypothesis_below = c;
    }
    config.hypothesis_lexical |= args.hypothesis_lexical;
    if args.names_and_numbers_check {
        config.answer_words_in_evidence = false;
    }
    if let Some(t) = &args.prompt_template {
        config.prompt_template = Some(t.as_str().into());
    }
    let options = EvalOptions {
        limit: args.limit,
        seed: args.seed,
        no_generate: args.no_generate,
        index: args.chunking.options(Progress::silent())?,
        answer: config,
        progress: super::progress::bars_unless(args.json),
        related_articles: args.related_articles,
        related_model: args.related_model,
        own_words,
        conversations,
    };
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    let r = run(&args.corpus, &questions, model, &options, &mut out)?;
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

#[derive(Debug, Args)]
pub struct RelatedArgs {
    /// Only this article's suggestions.
    #[arg(long)]
    pub article: Option<String>,
    /// Print them as JSON (with their stored answers).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Prepares (or loads) the verified suggestions and prints them with their stored answers.
pub fn related(args: RelatedArgs) -> anyhow::Result<()> {
    let answerer = answerer(&args.corpus, &args.model)?;
    let Some(store) = answerer.suggestions() else {
        anyhow::bail!("no suggestions were prepared");
    };
    let mut list: Vec<_> = store
        .all()
        .filter(|s| args.article.as_deref().is_none_or(|a| a == s.article_id))
        .collect();
    list.sort_by_key(|s| (s.article_id.clone(), s.sentence.start));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for s in &list {
        println!("{} [{}] {}", s.article_id, s.source.as_str(), s.question);
        println!("    → {}", s.answer.answer);
    }
    let mut articles: Vec<&str> = list.iter().map(|s| s.article_id.as_str()).collect();
    articles.dedup();
    for article in articles {
        println!("\nshown with {article}, in order:");
        let shown = store.for_article(article, ama::answer::related::rank::ARTICLE_LIST);
        for (i, s) in shown.iter().enumerate() {
            println!("  {}. {}", i + 1, s.question);
        }
    }
    println!("\nyield per source (candidates → verified → kept):");
    let counts = store.counts();
    for (source, y) in &store.yields.sources {
        let kept = counts.get(source).copied().unwrap_or(0);
        println!(
            "  {}: {} candidates, {} verified, {kept} kept",
            source.as_str(),
            y.candidates,
            y.kept
        );
        let mut rejected: Vec<_> = y.rejected.iter().collect();
        rejected.sort_by(|a, b| b.1.cmp(a.1));
        for (why, n) in rejected {
            println!("      {n:4} rejected: {why}");
        }
    }
    Ok(())
}
