//! `bench serve`: the load test of the server, with a one-client baseline in the same run.
use super::retrieval::CorpusArgs;
use ama::bench::process::ProcessTrend;
use ama::bench::serve::{LoadOptions, LoadReport};
use ama::bench::served::{load_and_sample, wait_ready, StartedServer};
use anyhow::Context;
use clap::Args;
use std::ffi::OsString;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct BenchServeArgs {
    /// A running server to load; without it, `ama serve` is started on a free loopback port
    /// over --corpus/--data for each phase (a fresh one: its answer cache empty) and stopped
    /// afterwards.
    #[arg(long)]
    pub url: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Seconds of the same mix from one client first, the baseline the load is compared with
    /// (0: none).
    #[arg(long, default_value_t = 20)]
    pub baseline_seconds: u64,
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
    /// More flags for the started server, after `--` (e.g. `-- --llm-url http://127.0.0.1:8091
    /// --llm-concurrency 1`).
    #[arg(last = true)]
    pub serve_args: Vec<OsString>,
}

/// One phase of the run: its clients, and what they got.
struct Phase {
    name: &'static str,
    report: LoadReport,
    server: Option<ProcessTrend>,
}

pub fn bench_serve(args: BenchServeArgs) -> anyhow::Result<()> {
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut plan = Vec::new();
    if args.baseline_seconds > 0 {
        plan.push(("one client", 1, args.baseline_seconds));
    }
    plan.push(("load", args.clients.max(1), args.seconds.max(1)));
    let mut phases = Vec::new();
    for (name, clients, seconds) in plan {
        let started = match &args.url {
            Some(_) => None,
            None => Some(StartedServer::start(
                &std::env::current_exe()?,
                &serve_args(&args),
            )?),
        };
        let url = match (&args.url, &started) {
            (Some(u), _) => u.trim_end_matches('/').to_string(),
            (None, Some(s)) => s.url.clone(),
            (None, None) => anyhow::bail!("no server to load"),
        };
        let options = LoadOptions {
            clients,
            duration: Duration::from_secs(seconds),
            questions: questions.clone(),
            seed: args.seed,
        };
        let pid = started.as_ref().map(StartedServer::pid);
        let (report, server) = runtime.block_on(async {
            wait_ready(&url).await?;
            load_and_sample(&url, &options, pid).await
        })?;
        drop(started);
        phases.push(Phase {
            name,
            report,
            server,
        });
    }
    if args.json {
        let mut all = serde_json::Map::new();
        for p in &phases {
            let mut value = serde_json::to_value(&p.report)?;
            if let (Some(t), Some(map)) = (p.server, value.as_object_mut()) {
                map.insert("server".into(), serde_json::to_value(t)?);
            }
            all.insert(p.name.into(), value);
        }
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        for p in &phases {
            print_phase(p);
        }
        if let [baseline, load] = &phases[..] {
            let (one, many) = (
                baseline.report.model_answers_per_s,
                load.report.model_answers_per_s,
            );
            println!(
                "new model answers per second: {many:.2} under {} clients, {one:.2} for one client ({:.0}%)",
                load.report.clients,
                if one > 0.0 { 100.0 * many / one } else { 0.0 }
            );
        }
    }
    let errors: usize = phases.iter().map(|p| p.report.errors).sum();
    anyhow::ensure!(errors == 0, "{errors} requests failed");
    Ok(())
}

/// `ama serve`'s flags for a started server.
fn serve_args(args: &BenchServeArgs) -> Vec<OsString> {
    // One client address for every simulated reader: no per-client limit.
    let mut serve: Vec<OsString> = vec!["--rate-limit".into(), "0".into(), "--queue".into()];
    serve.push(args.queue.to_string().into());
    serve.push("--corpus".into());
    serve.push(args.corpus.corpus.clone().into());
    serve.push("--data".into());
    serve.push(args.corpus.data.clone().into());
    if let Some(dir) = &args.corpus.suggestions_cache {
        serve.push("--suggestions-cache".into());
        serve.push(dir.clone().into());
    }
    serve.extend(args.serve_args.iter().cloned());
    serve
}

fn print_phase(phase: &Phase) {
    let report = &phase.report;
    println!("== {} ==", phase.name);
    if let Some(t) = phase.server {
        println!(
            "server: RSS {:.0} → {:.0} (halfway) → {:.0} MB (peak {:.0}), open descriptors {} → {} → {} (peak {}), {} samples",
            t.start.rss_mb, t.halfway.rss_mb, t.end.rss_mb, t.peak_rss_mb, t.start.open_fds, t.halfway.open_fds, t.end.open_fds, t.peak_open_fds, t.samples
        );
    }
    println!(
        "{} clients for {:.1} s: {} requests, {} served ({:.1}/s; {} degraded, {} quoting the evidence while the model was busy), {} refused with 503, {} errors; {} new answers written by the model ({:.2}/s)",
        report.clients, report.seconds, report.requests, report.ok, report.requests_per_s, report.degraded, report.busy_evidence, report.busy_503, report.errors, report.model_answers, report.model_answers_per_s
    );
    println!(
        "{:<34} {:>6} {:>6} {:>5} {:>5} {:>4} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "kind",
        "asked",
        "served",
        "degr",
        "busy",
        "503",
        "err",
        "model",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "1st p50",
        "1st p99"
    );
    for (name, k) in &report.kinds {
        println!(
            "{:<34} {:>6} {:>6} {:>5} {:>5} {:>4} {:>4} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            name,
            k.requests,
            k.ok,
            k.degraded,
            k.busy_evidence,
            k.busy_503,
            k.errors,
            k.model_written,
            k.p50_ms,
            k.p90_ms,
            k.p99_ms,
            k.max_ms,
            k.first_useful_p50_ms,
            k.first_useful_p99_ms
        );
    }
    for e in &report.error_samples {
        println!("error: {e}");
    }
}
