//! Subcommand implementations. Each one parses its flags and calls library functions.
pub mod ask;
pub mod bench_serve;
pub mod eval;
pub mod llm;
pub mod progress;
pub mod related;
pub mod report;
pub mod retrieval;
pub mod serve;

/// Logs go to stderr so that `--json` output on stdout stays machine-readable.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
