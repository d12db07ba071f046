//! `serve`: the HTTP API and the chat page.
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use ama::assemble::{Config, StoreSource};
use ama::llm::WorkerOptions;
use ama::server::limits::RateQuota;
use ama::server::{self, Launch, ServerOptions};
use ama::store::StoreOptions;
use anyhow::Context;
use clap::Args;
use std::io::Write;
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
    /// Milliseconds a plain JSON request for a question being answered, or asked before and
    /// not answered by the model yet, waits for its answer before it gets the quoted evidence
    /// (streams follow the answer to its end; a new question waits for its answer).
    #[arg(long, default_value_t = 500)]
    pub follow_wait_ms: u64,
    /// A host name the server answers to besides IP addresses and localhost (repeatable; `*`
    /// for any). Requests for other names get 421: a DNS-rebinding page cannot read the API.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// An origin (`https://news.example`) whose pages may embed the widget (`/widget.js`) and
    /// use the API, besides the chat page's own (repeatable; `*` for any): CORS is answered
    /// for it. Requests from other pages get 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Questions a client may ask per minute (a third of them at once); 0 for no limit.
    #[arg(long, default_value_t = 60)]
    pub rate_limit: u32,
    /// Feedback posts a client may send per minute; 0 for no limit.
    #[arg(long, default_value_t = 30)]
    pub feedback_rate_limit: u32,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Neither record readers' questions in the store nor offer earlier ones as suggestions
    /// (feedback is still recorded).
    #[arg(long)]
    pub no_reader_log: bool,
    /// Prepare suggested questions for the first N articles only (0: none, and no related
    /// questions after answers), for a machine or a model server that should spend its time on
    /// readers' questions alone. Default: every article.
    #[arg(long, value_name = "N")]
    pub related_articles: Option<usize>,
    /// The store of readers' questions and feedback: `postgres://user:password@host/db` to
    /// share one between replicas. Default: SQLite in the data folder (`ama.sqlite`); none on
    /// a --read-only replica.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Milliseconds a write or read waits for a connection to --database-url before it fails:
    /// the database is then reported down on /readyz and writes are held and retried.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub database_timeout_ms: u64,
    /// Serve the index `ama index` built and write nothing to the data folder (no lock, no
    /// index build, no suggestion cache, no logs): several replicas may share one folder, or
    /// copies of it, behind a load balancer. Readers' questions and feedback go to
    /// --database-url if given; without it, feedback is refused (403).
    #[arg(long)]
    pub read_only: bool,
    /// Seconds a client has to send its request head, and then its body.
    #[arg(long, default_value_t = 10)]
    pub read_timeout_secs: u64,
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
    let result = runtime.block_on(run(args));
    // Do not wait for a load still in progress (a signal during the first start).
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let worker = WorkerOptions {
        queue_capacity: args.queue,
        ..WorkerOptions::default()
    };
    let answerer = Config {
        model: args.model.source(worker)?,
        read_only: args.read_only,
        store: match (&args.database_url, args.read_only) {
            (Some(url), _) => StoreSource::Url(url.clone()),
            (None, false) => StoreSource::DataFolder,
            (None, true) => StoreSource::None,
        },
        store_options: StoreOptions {
            connect_timeout: Duration::from_millis(args.database_timeout_ms.max(1)),
        },
        cache_entries: args.cache,
        share_cores: true,
        suggest_articles: args.related_articles,
        ..args.corpus.config()
    };
    let server = ServerOptions {
        request_timeout: Duration::from_secs(args.timeout_secs.max(1)),
        read_only: args.read_only,
        access: server::guard::AccessPolicy {
            hosts: args.allow_hosts.clone(),
            origins: args.allow_origins.clone(),
        },
        read_timeout: Duration::from_secs(args.read_timeout_secs.max(1)),
        max_connections: args.max_connections.max(1),
        model_rate: RateQuota::per_minute(args.rate_limit, args.rate_limit.div_ceil(3)),
        feedback_rate: RateQuota::per_minute(
            args.feedback_rate_limit,
            args.feedback_rate_limit.div_ceil(3),
        ),
        follow_wait: Duration::from_millis(args.follow_wait_ms),
        ..ServerOptions::default()
    };
    let launch = Launch {
        addr: args.addr.clone(),
        server,
        answerer,
        log_questions: !args.no_reader_log,
    };
    server::run(launch, super::progress::logged(), |addr| {
        // The first line on stdout, for scripts and tests that start the server on port 0.
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
    })
    .await?;
    Ok(())
}
