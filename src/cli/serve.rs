//! `serve`: the HTTP API and the chat page.
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use ama::assemble::{Config, StoreSource};
use ama::llm::WorkerOptions;
use ama::server::limits::RateQuota;
use ama::server::{self, Launch, ServerOptions};
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
    /// The store of readers' questions and feedback: `postgres://user:password@host/db` to
    /// share one between replicas. Default: SQLite in the data folder (`ama.sqlite`); none on
    /// a --read-only replica.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
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
        cache_entries: args.cache,
        share_cores: true,
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

#[derive(Debug, Args)]
pub struct BenchServeArgs {
    /// A running server to load; without it, `ama serve` is started on a free loopback port
    /// over --corpus/--data and stopped afterwards.
    #[arg(long)]
    pub url: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Questions (JSONL with a "question" field; the answerable ones are used).
    #[arg(long, default_value = "tests/seed_questions.jsonl")]
    pub questions: std::path::PathBuf,
    /// Generations that may wait in the started server's queue.
    #[arg(long, default_value_t = 4)]
    pub queue: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub corpus: CorpusArgs,
}

pub fn bench_serve(args: BenchServeArgs) -> anyhow::Result<()> {
    use ama::bench::served::{load_and_sample, wait_ready, StartedServer};
    let text = std::fs::read_to_string(&args.questions)
        .with_context(|| format!("reading {}", args.questions.display()))?;
    let questions: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["answerable"].as_bool().unwrap_or(true))
        .filter_map(|v| v["question"].as_str().map(str::to_string))
        .collect();
    anyhow::ensure!(
        !questions.is_empty(),
        "no questions in {}",
        args.questions.display()
    );
    let started = match &args.url {
        Some(_) => None,
        None => {
            // One client address for every simulated reader: no per-client limit.
            let mut serve_args: Vec<std::ffi::OsString> = ["--rate-limit", "0", "--queue"]
                .iter()
                .map(Into::into)
                .collect();
            serve_args.push(args.queue.to_string().into());
            serve_args.push("--corpus".into());
            serve_args.push(args.corpus.corpus.clone().into());
            serve_args.push("--data".into());
            serve_args.push(args.corpus.data.clone().into());
            if let Some(dir) = &args.corpus.suggestions_cache {
                serve_args.push("--suggestions-cache".into());
                serve_args.push(dir.clone().into());
            }
            Some(StartedServer::start(
                &std::env::current_exe()?,
                &serve_args,
            )?)
        }
    };
    let url = match (&args.url, &started) {
        (Some(u), _) => u.trim_end_matches('/').to_string(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => anyhow::bail!("no server to load"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let options = ama::bench::serve::LoadOptions {
        clients: args.clients.max(1),
        duration: Duration::from_secs(args.seconds.max(1)),
        questions,
        seed: args.seed,
    };
    let pid = started.as_ref().map(StartedServer::pid);
    let (report, trend) = runtime.block_on(async {
        wait_ready(&url).await?;
        load_and_sample(&url, &options, pid).await
    })?;

    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(t), Some(map)) = (trend, value.as_object_mut()) {
            map.insert("server".into(), serde_json::to_value(t)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if let Some(t) = trend {
        println!(
            "server: RSS {:.0} → {:.0} (halfway) → {:.0} MB (peak {:.0}), open descriptors {} → {} → {} (peak {}), {} samples",
            t.start.rss_mb, t.halfway.rss_mb, t.end.rss_mb, t.peak_rss_mb, t.start.open_fds, t.halfway.open_fds, t.end.open_fds, t.peak_open_fds, t.samples
        );
    }
    println!(
        "{} clients for {:.1} s against {url}: {} requests, {} served ({:.1}/s; {} degraded, {} quoting the evidence while the model was busy), {} refused with 503, {} errors",
        report.clients, report.seconds, report.requests, report.ok, report.requests_per_s, report.degraded, report.busy_evidence, report.busy_503, report.errors
    );
    println!(
        "{:<36} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "kind",
        "requests",
        "served",
        "degraded",
        "busy",
        "503",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms"
    );
    for (name, k) in &report.kinds {
        println!(
            "{:<36} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            name,
            k.requests,
            k.ok,
            k.degraded,
            k.busy_evidence,
            k.busy_503,
            k.errors,
            k.p50_ms,
            k.p90_ms,
            k.p99_ms,
            k.max_ms
        );
    }
    for e in &report.error_samples {
        println!("error: {e}");
    }
    anyhow::ensure!(report.errors == 0, "{} requests failed", report.errors);
    Ok(())
}
