//! `related`: the verified suggested questions with their stored answers.
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use clap::Args;

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
    let answerer = args.corpus.answerer(&args.model)?;
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
