//! `serve`: the HTTP API and the chat page.
use super::answer::answerer_with;
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use ama::answer::related;
use ama::llm::WorkerOptions;
use ama::server::{self, AppState, ServerOptions};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Limit on one request, in seconds (streams included).
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Generations that may wait while one runs; more get 503 with Retry-After.
    #[arg(long, default_value_t = 4)]
    pub queue: usize,
    /// Answers kept in the in-memory cache (0 disables it).
    #[arg(long, default_value_t = 256)]
    pub cache: usize,
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.corpus.data)
        .with_context(|| format!("creating {}", args.corpus.data.display()))?;
    let options = ServerOptions {
        request_timeout: Duration::from_secs(args.timeout_secs.max(1)),
        cache_entries: args.cache,
        reader_log: Some(args.corpus.data.join(related::READER_LOG)),
        feedback_log: Some(args.corpus.data.join("feedback.jsonl")),
        ..ServerOptions::default()
    };
    let state = AppState::new(options);
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    // The first line on stdout, for scripts and tests that start the server on port 0.
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    tracing::info!("listening on http://{addr}; preparing the index and the model");

    // Index, model and suggestions load while /healthz already answers.
    let loading = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let worker = WorkerOptions {
                queue_capacity: args.queue,
                ..WorkerOptions::default()
            };
            let answerer = answerer_with(&args.corpus, &args.model, worker)?;
            tracing::info!(
                articles = answerer.index.articles().len(),
                passages = answerer.index.passages().len(),
                model = answerer.model.name(),
                "ready: open http://{addr}/"
            );
            state.set_answerer(Arc::new(answerer));
            Ok(())
        })
    };
    let server = server::serve(listener, state, server::shutdown_signal());
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.context("serving"),
        loaded = loading => match loaded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.context("preparing the answerer")),
            Err(e) => anyhow::bail!("preparing the answerer failed: {e}"),
        },
    }
    server.await.context("serving")
}
