//! `ask`: one question through the grounded answer flow ([`ama::answer::Answerer`]).
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use ama::answer::{AnswerRequest, AnswerResult};
use clap::Args;

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
    /// Prepare suggested questions for the first N articles only (0: none, and no related
    /// questions after the answer: the answer at once on a corpus whose suggestions are not
    /// cached yet). Default: every article (prepared once, then cached in the data folder).
    #[arg(long, value_name = "N")]
    pub related_articles: Option<usize>,
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn ask(args: AskArgs) -> anyhow::Result<()> {
    let answerer = args
        .corpus
        .answerer_with(&args.model, args.related_articles)?;
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
