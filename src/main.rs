//! The `ama` command line: a thin layer over the library.
mod cli;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ama",
    version,
    about = "Ask me anything: local question answering over articles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API and the chat page (indexes the corpus and fetches the model first).
    Serve(cli::serve::ServeArgs),
    /// Read the corpus, split it into passages and (re)build the search index when it changed.
    Index(cli::retrieval::IndexArgs),
    /// Retrieve the passages that best match a question.
    Search(cli::retrieval::SearchArgs),
    /// Answer a question from the articles, with evidence and citations.
    Ask(cli::ask::AskArgs),
    /// Prepare (or show) the verified related questions and their stored answers.
    Related(cli::related::RelatedArgs),
    /// Evaluate answers and abstention on a SQuAD-format question set.
    Eval(cli::eval::EvalArgs),
    /// The editors' report: most asked questions, declined ones, answers marked not useful.
    Report(cli::report::ReportArgs),
    /// Download a model (the default reader, Qwen2.5-Coder-1.5B-Instruct GGUF) into models/ and verify it.
    FetchModel(cli::llm::FetchModelArgs),
    /// Generate text with the local model from a prompt.
    Generate(cli::llm::GenerateArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Retrieval quality (recall@k, MRR) and speed on a question set, or speed on a synthetic corpus.
    Retrieval(cli::retrieval::BenchRetrievalArgs),
    /// Model load time, prefill and decode speed, time to first token, peak memory.
    Llm(cli::llm::BenchLlmArgs),
    /// Load test of the HTTP server: concurrent clients over loopback, 503s, errors, latency.
    Serve(cli::bench_serve::BenchServeArgs),
}

fn main() -> std::process::ExitCode {
    cli::init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cli::serve::serve(args),
        Command::Index(args) => cli::retrieval::index(args),
        Command::Ask(args) => cli::ask::ask(args),
        Command::Eval(args) => cli::eval::eval(args),
        Command::Related(args) => cli::related::related(args),
        Command::Search(args) => cli::retrieval::search(args),
        Command::Report(args) => cli::report::report(args),
        Command::FetchModel(args) => cli::llm::fetch_model(args),
        Command::Generate(args) => cli::llm::generate(args),
        Command::Bench(BenchCommand::Retrieval(args)) => cli::retrieval::bench(args),
        Command::Bench(BenchCommand::Llm(args)) => cli::llm::bench_llm(args),
        Command::Bench(BenchCommand::Serve(args)) => cli::bench_serve::bench_serve(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
