//! `serve`: the HTTP API and the chat page.
use super::llm::ModelArgs;
use super::retrieval::CorpusArgs;
use ama::assemble::{assemble, Config, StoreSource};
use ama::llm::WorkerOptions;
use ama::server::limits::RateQuota;
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
    /// A host name the server answers to besides IP addresses and localhost (repeatable; `*`
    /// for any). Requests for other names get 421: a DNS-rebinding page cannot read the API.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// An origin (`https://news.example`) whose pages may post to the API besides the chat
    /// page's own (repeatable; `*` for any). Posts from other pages get 403.
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
    let _data_lock = if args.read_only {
        None
    } else {
        std::fs::create_dir_all(&args.corpus.data)
            .with_context(|| format!("creating {}", args.corpus.data.display()))?;
        Some(server::data_lock::DataLock::acquire(&args.corpus.data)?)
    };
    let worker = WorkerOptions {
        queue_capacity: args.queue,
        ..WorkerOptions::default()
    };
    let config = Config {
        model: args.model.source(worker)?,
        read_only: args.read_only,
        store: match (&args.database_url, args.read_only) {
            (Some(url), _) => StoreSource::Url(url.clone()),
            (None, false) => StoreSource::DataFolder,
            (None, true) => StoreSource::None,
        },
        cache_entries: args.cache,
        ..args.corpus.config()
    };
    // Opened first: feedback is recorded from the start, answers once ready.
    let store = config.open_store()?;
    let options = ServerOptions {
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
    let state = AppState::with_store(options, store.clone());
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
        let question_log = store.clone().filter(|_| !args.no_reader_log);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let answerer = assemble(&config, question_log, &super::progress::logged())?;
            tracing::info!(
                articles = answerer.index().articles().len(),
                passages = answerer.index().passages().len(),
                model = answerer.model().name(),
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
    let served = server.await.context("serving");
    // What readers did last reaches the database before the process ends (or is reported).
    if let Some(store) = store {
        let flushed = tokio::task::spawn_blocking(move || store.flush(Duration::from_secs(3)))
            .await
            .unwrap_or(false);
        if !flushed {
            tracing::warn!("some readers' questions or feedback could not be written to the store");
        }
    }
    served
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

/// Kills the started server when the bench ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn bench_serve(args: BenchServeArgs) -> anyhow::Result<()> {
    use std::io::BufRead;
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
    let mut _child = None;
    let url =
        match &args.url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let mut child =
                    std::process::Command::new(std::env::current_exe()?)
                        // One client address for every simulated reader: no per-client limit.
                        .args([
                            "serve",
                            "--addr",
                            "127.0.0.1:0",
                            "--rate-limit",
                            "0",
                            "--queue",
                        ])
                        .arg(args.queue.to_string())
                        .arg("--corpus")
                        .arg(&args.corpus.corpus)
                        .arg("--data")
                        .arg(&args.corpus.data)
                        .args(args.corpus.suggestions_cache.iter().flat_map(|d| {
                            [std::ffi::OsStr::new("--suggestions-cache"), d.as_os_str()]
                        }))
                        .env("RUST_LOG", "warn")
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .context("starting ama serve")?;
                let stdout = child.stdout.take().context("server stdout")?;
                let child = Child(child);
                let mut first = String::new();
                std::io::BufReader::new(stdout).read_line(&mut first)?;
                let url = first
                    .trim()
                    .strip_prefix("listening on ")
                    .with_context(|| format!("unexpected first line from the server: {first:?}"))?
                    .to_string();
                _child = Some(child);
                url
            }
        };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let client = reqwest::Client::new();
        let wait = std::time::Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{url}/readyz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(
                wait.elapsed() < Duration::from_secs(900),
                "the server never became ready"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let options = ama::bench::serve::LoadOptions {
            clients: args.clients.max(1),
            duration: Duration::from_secs(args.seconds.max(1)),
            questions,
            seed: args.seed,
        };
        // The started server's memory and descriptors, every 5 s from ready to the end (a
        // soak: both should stay flat).
        let pid = _child.as_ref().map(|c: &Child| c.0.id());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let sampler = pid.map(|pid| {
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => return samples,
                    }
                    match ama::bench::serve::sample_process(pid) {
                        Some(s) => samples.push(s),
                        None => return samples,
                    }
                }
            })
        });
        let report = ama::bench::serve::run(&url, &options).await?;
        let _ = stop.send(());
        let mut trend = None;
        if let (Some(pid), Some(sampler)) = (pid, sampler) {
            let mut samples = sampler.await.unwrap_or_default();
            samples.extend(ama::bench::serve::sample_process(pid));
            trend = ama::bench::serve::ProcessTrend::from_samples(&samples);
        }
        Ok((report, trend))
    })?;
    let (report, trend) = report;
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
        "{} clients for {:.1} s against {url}: {} requests, {} served ({:.1}/s; {} degraded), {} refused with 503, {} errors",
        report.clients, report.seconds, report.requests, report.ok, report.requests_per_s, report.degraded, report.busy_503, report.errors
    );
    println!(
        "{:<36} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "kind",
        "requests",
        "served",
        "degraded",
        "503",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms"
    );
    for (name, k) in &report.kinds {
        println!(
            "{:<36} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            name,
            k.requests,
            k.ok,
            k.degraded,
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
