//! A bounded load test of a running server over loopback: many concurrent clients for a
//! fixed time, a realistic mix of requests, and what came back. Reports requests served,
//! 503s (the bounded queue refusing work, by design), errors (anything else; must be 0) and
//! latency percentiles per kind of request.
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub clients: usize,
    pub duration: Duration,
    /// Questions the articles can answer (asked as they are: cacheable).
    pub questions: Vec<String>,
    pub seed: u64,
}

/// What one kind of request did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindReport {
    pub requests: usize,
    pub ok: usize,
    /// Served, but quoting the evidence because the model failed (counted in `ok` too).
    pub degraded: usize,
    /// Served at once with the quoted evidence because the model's queue was full (counted
    /// in `ok` too).
    pub busy_evidence: usize,
    pub busy_503: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    #[serde(skip)]
    latencies: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub clients: usize,
    pub seconds: f64,
    pub requests: usize,
    pub ok: usize,
    pub degraded: usize,
    pub busy_evidence: usize,
    pub busy_503: usize,
    pub errors: usize,
    pub requests_per_s: f64,
    pub kinds: BTreeMap<&'static str, KindReport>,
    /// The first few errors, to read.
    pub error_samples: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `/api/ask/stream` with a conversation: never cached, always the model.
    StreamNew,
    /// `/api/ask` of a known question: the cache after the first time.
    AskRepeat,
    /// `/v1/chat/completions` of a suggested question: answered ahead of time.
    ChatSuggested,
    Article,
    Search,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::StreamNew => "stream, new conversation (model)",
            Kind::AskRepeat => "ask, repeated question",
            Kind::ChatSuggested => "v1 chat, suggested question",
            Kind::Article => "GET article",
            Kind::Search => "GET search",
        }
    }

    /// The mix: a third of the requests need the model.
    fn pick(r: f64) -> Kind {
        match r {
            r if r < 0.35 => Kind::StreamNew,
            r if r < 0.60 => Kind::AskRepeat,
            r if r < 0.75 => Kind::ChatSuggested,
            r if r < 0.90 => Kind::Article,
            _ => Kind::Search,
        }
    }
}

enum Outcome {
    Ok,
    /// Served with `"degraded": true`.
    Degraded,
    /// Served at once with the quoted evidence because the model was busy (`"busy": true`).
    BusyEvidence,
    Busy,
    Error(String),
}

/// Runs the load against `base` (e.g. `http://127.0.0.1:8080`).
pub async fn run(base: &str, options: &LoadOptions) -> Result<LoadReport, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(options.clients)
        .build()?;
    let list: serde_json::Value = client
        .get(format!("{base}/api/articles"))
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<String> = list["articles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut suggested = Vec::new();
    for id in &ids {
        let a: serde_json::Value = client
            .get(format!("{base}/api/articles/{id}"))
            .send()
            .await?
            .json()
            .await?;
        if let Some(r) = a["related"].as_array() {
            suggested.extend(r.iter().filter_map(|q| q.as_str().map(str::to_string)));
        }
    }
    let started = Instant::now();
    let end = started + options.duration;
    let mut tasks = Vec::new();
    for c in 0..options.clients {
        let client = client.clone();
        let base = base.to_string();
        let ids = ids.clone();
        let questions = options.questions.clone();
        let suggested = suggested.clone();
        let seed = options.seed.wrapping_add(c as u64);
        tasks.push(tokio::spawn(async move {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut results = Vec::new();
            let mut n = 0usize;
            while Instant::now() < end {
                n += 1;
                let kind = Kind::pick(rng.random::<f64>());
                let pick = |v: &Vec<String>, r: usize| v.get(r % v.len().max(1)).cloned();
                let r = rng.random::<u32>() as usize;
                let t = Instant::now();
                let outcome = match kind {
                    Kind::StreamNew => match pick(&questions, r) {
                        Some(q) => {
                            let body = serde_json::json!({
                                "question": q,
                                "history": [{"role": "user", "content": format!("client {c} turn {n}")}],
                            });
                            stream(&client, &format!("{base}/api/ask/stream"), &body).await
                        }
                        None => Outcome::Error("no questions".into()),
                    },
                    Kind::AskRepeat => match pick(&questions, r) {
                        Some(q) => {
                            json(&client, &format!("{base}/api/ask"), &serde_json::json!({"question": q}))
                                .await
                        }
                        None => Outcome::Error("no questions".into()),
                    },
                    Kind::ChatSuggested => match pick(&suggested, r).or_else(|| pick(&questions, r)) {
                        Some(q) => {
                            let body = serde_json::json!({
                                "model": "ama",
                                "messages": [{"role": "user", "content": q}],
                            });
                            json(&client, &format!("{base}/v1/chat/completions"), &body).await
                        }
                        None => Outcome::Error("no questions".into()),
                    },
                    Kind::Article => match pick(&ids, r) {
                        Some(id) => get(&client, &format!("{base}/api/articles/{id}")).await,
                        None => Outcome::Error("no articles".into()),
                    },
                    Kind::Search => {
                        let q = pick(&questions, r).unwrap_or_else(|| "war".into());
                        get(&client, &format!("{base}/api/search?q={}", urlencode(&q))).await
                    }
                };
                results.push((kind, crate::millis(t.elapsed()), outcome));
                // A client that was refused waits as Retry-After asks (shortened, bounded).
                if matches!(results.last(), Some((_, _, Outcome::Busy))) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            results
        }));
    }
    let mut kinds: BTreeMap<Kind, KindReport> = BTreeMap::new();
    let mut samples = Vec::new();
    let mut panicked = 0;
    for task in tasks {
        let Ok(results) = task.await else {
            panicked += 1;
            samples.push("a client task panicked".to_string());
            continue;
        };
        for (kind, ms, outcome) in results {
            let k = kinds.entry(kind).or_default();
            k.requests += 1;
            match outcome {
                Outcome::Ok => {
                    k.ok += 1;
                    k.latencies.push(ms);
                }
                Outcome::Degraded => {
                    k.ok += 1;
                    k.degraded += 1;
                    k.latencies.push(ms);
                }
                Outcome::BusyEvidence => {
                    k.ok += 1;
                    k.busy_evidence += 1;
                    k.latencies.push(ms);
                }
                Outcome::Busy => k.busy_503 += 1,
                Outcome::Error(e) => {
                    k.errors += 1;
                    if samples.len() < 5 {
                        samples.push(format!("{}: {e}", kind.name()));
                    }
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut report = LoadReport {
        clients: options.clients,
        seconds,
        requests: 0,
        ok: 0,
        degraded: 0,
        busy_evidence: 0,
        busy_503: 0,
        errors: panicked,
        requests_per_s: 0.0,
        kinds: BTreeMap::new(),
        error_samples: samples,
    };
    for (kind, mut k) in kinds {
        k.p50_ms = super::percentile(&k.latencies, 50.0);
        k.p90_ms = super::percentile(&k.latencies, 90.0);
        k.p99_ms = super::percentile(&k.latencies, 99.0);
        k.max_ms = k.latencies.iter().cloned().fold(0.0, f64::max);
        report.requests += k.requests;
        report.ok += k.ok;
        report.degraded += k.degraded;
        report.busy_evidence += k.busy_evidence;
        report.busy_503 += k.busy_503;
        report.errors += k.errors;
        report.kinds.insert(kind.name(), k);
    }
    report.requests_per_s = report.ok as f64 / seconds.max(1e-9);
    Ok(report)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn classify(status: reqwest::StatusCode, body: &str) -> Option<Outcome> {
    match status.as_u16() {
        200 | 204 => None,
        503 => Some(Outcome::Busy),
        s => Some(Outcome::Error(format!("HTTP {s}: {}", short(body)))),
    }
}

/// Sends a request; the body when it was served, else how it failed.
async fn send(request: reqwest::RequestBuilder) -> Result<String, Outcome> {
    let response = request
        .send()
        .await
        .map_err(|e| Outcome::Error(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match classify(status, &text) {
        Some(outcome) => Err(outcome),
        None => Ok(text),
    }
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

async fn get(client: &reqwest::Client, url: &str) -> Outcome {
    match send(client.get(url)).await {
        Ok(_) => Outcome::Ok,
        Err(o) => o,
    }
}

async fn json(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Outcome {
    match send(client.post(url).json(body)).await {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v.get("error").is_none() && v["busy"] == true => Outcome::BusyEvidence,
            Ok(v) if v.get("error").is_none() && v["degraded"] == true => Outcome::Degraded,
            Ok(v) if v.get("error").is_none() => Outcome::Ok,
            _ => Outcome::Error(format!("bad body: {}", short(&text))),
        },
        Err(o) => o,
    }
}

/// A stream counts as served when it ends with its `done` event.
async fn stream(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Outcome {
    match send(client.post(url).json(body)).await {
        Ok(text) if text.contains("event: done") && !text.contains("event: error") => {
            if text.contains("\"busy\":true") {
                Outcome::BusyEvidence
            } else if text.contains("\"degraded\":true") {
                Outcome::Degraded
            } else {
                Outcome::Ok
            }
        }
        Ok(text) => Outcome::Error(format!("stream without done: {}", short(&text))),
        Err(o) => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_covers_every_kind() {
        let kinds: std::collections::BTreeSet<Kind> =
            (0..100).map(|i| Kind::pick(i as f64 / 100.0)).collect();
        assert_eq!(kinds.len(), 5);
        assert_eq!(urlencode("a b?"), "a%20b%3F");
    }
}

/// A served process's memory and open descriptors, read from `/proc` (Linux); `None`
/// elsewhere or once the process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProcessSample {
    pub rss_mb: f64,
    pub open_fds: usize,
}

pub fn sample_process(pid: u32) -> Option<ProcessSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(ProcessSample {
        rss_mb: rss_kb / 1024.0,
        open_fds,
    })
}

/// Samples of a process over a run: at the start, halfway, the end, and the largest in
/// between. Warm-up growth (threads, arenas, caches filling) shows in the first half; a leak
/// keeps growing in the second.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcessTrend {
    pub start: ProcessSample,
    pub halfway: ProcessSample,
    pub end: ProcessSample,
    pub peak_rss_mb: f64,
    pub peak_open_fds: usize,
    pub samples: usize,
}

impl ProcessTrend {
    pub fn from_samples(samples: &[ProcessSample]) -> Option<ProcessTrend> {
        Some(ProcessTrend {
            start: *samples.first()?,
            halfway: samples[samples.len() / 2],
            end: *samples.last()?,
            peak_rss_mb: samples.iter().map(|s| s.rss_mb).fold(0.0, f64::max),
            peak_open_fds: samples.iter().map(|s| s.open_fds).max()?,
            samples: samples.len(),
        })
    }
}

#[cfg(test)]
#[test]
fn this_process_can_be_sampled_where_proc_exists() {
    if std::path::Path::new("/proc/self/status").exists() {
        let s = sample_process(std::process::id()).unwrap();
        assert!(s.rss_mb > 0.0 && s.open_fds >= 3, "{s:?}");
        let t = ProcessTrend::from_samples(&[s, s]).unwrap();
        assert_eq!(t.samples, 2);
    }
    assert!(ProcessTrend::from_samples(&[]).is_none());
}
