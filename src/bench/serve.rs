//! A bounded load test of a running server over loopback: many concurrent clients for a
//! fixed time, a realistic mix of requests, and what came back. Reports requests served,
//! 503s (the bounded queue refusing work, by design), errors (anything else; must be 0), new
//! answers the model wrote per second, and per kind of request the percentiles of the whole
//! reply and of its first useful byte.
use super::reply::{get, json, stream, Outcome, Reply};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
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
    /// Time to the first useful byte of the served ones: a JSON body's first byte, a stream's
    /// first event carrying evidence or text (the reader has something to read).
    pub first_useful_p50_ms: f64,
    pub first_useful_p90_ms: f64,
    pub first_useful_p99_ms: f64,
    /// Answers the model wrote for these requests (not cached, prepared, quoted or declined).
    pub model_written: usize,
    #[serde(skip)]
    latencies: Vec<f64>,
    #[serde(skip)]
    first_useful: Vec<f64>,
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
    /// New answers the model wrote, of every kind, and per second of the run.
    pub model_answers: usize,
    pub model_answers_per_s: f64,
    pub kinds: BTreeMap<&'static str, KindReport>,
    /// The first few errors, to read.
    pub error_samples: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `/api/ask/stream` with a conversation: never cached, always the model.
    StreamNew,
    /// `/api/ask` of a known question nobody in this run asked before.
    AskFirst,
    /// `/api/ask` of a question someone in this run asked before: the cache, or the answer
    /// being written, or its quoted evidence.
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
            Kind::AskFirst => "ask, first time asked",
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
    // The questions asked so far with /api/ask: a later ask of one is a repeat.
    let asked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for c in 0..options.clients {
        let client = client.clone();
        let base = base.to_string();
        let ids = ids.clone();
        let questions = options.questions.clone();
        let suggested = suggested.clone();
        let asked = asked.clone();
        let seed = options.seed.wrapping_add(c as u64);
        tasks.push(tokio::spawn(async move {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut results = Vec::new();
            let mut n = 0usize;
            while Instant::now() < end {
                n += 1;
                let mut kind = Kind::pick(rng.random::<f64>());
                let pick = |v: &Vec<String>, r: usize| v.get(r % v.len().max(1)).cloned();
                let r = rng.random::<u32>() as usize;
                let t = Instant::now();
                let no = |what: &str| Reply {
                    outcome: Outcome::Error(format!("no {what}")),
                    first_useful_ms: None,
                    model_written: false,
                };
                let reply = match kind {
                    Kind::StreamNew => match pick(&questions, r) {
                        Some(q) => {
                            let body = serde_json::json!({
                                "question": q,
                                "history": [{"role": "user", "content": format!("client {c} turn {n}")}],
                            });
                            stream(&client, &format!("{base}/api/ask/stream"), &body).await
                        }
                        None => no("questions"),
                    },
                    Kind::AskFirst | Kind::AskRepeat => match pick(&questions, r) {
                        Some(q) => {
                            let first = asked
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(q.clone());
                            if first {
                                kind = Kind::AskFirst;
                            }
                            json(&client, &format!("{base}/api/ask"), &serde_json::json!({"question": q}))
                                .await
                        }
                        None => no("questions"),
                    },
                    Kind::ChatSuggested => match pick(&suggested, r).or_else(|| pick(&questions, r)) {
                        Some(q) => {
                            let body = serde_json::json!({
                                "model": "ama",
                                "messages": [{"role": "user", "content": q}],
                            });
                            json(&client, &format!("{base}/v1/chat/completions"), &body).await
                        }
                        None => no("questions"),
                    },
                    Kind::Article => match pick(&ids, r) {
                        Some(id) => get(&client, &format!("{base}/api/articles/{id}")).await,
                        None => no("articles"),
                    },
                    Kind::Search => {
                        let q = pick(&questions, r).unwrap_or_else(|| "war".into());
                        get(&client, &format!("{base}/api/search?q={}", urlencode(&q))).await
                    }
                };
                let refused = matches!(reply.outcome, Outcome::Busy);
                results.push((kind, crate::millis(t.elapsed()), reply));
                // A client that was refused waits as Retry-After asks (shortened, bounded).
                if refused {
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
        for (kind, ms, reply) in results {
            let k = kinds.entry(kind).or_default();
            k.requests += 1;
            let served = match reply.outcome {
                Outcome::Ok => true,
                Outcome::Degraded => {
                    k.degraded += 1;
                    true
                }
                Outcome::BusyEvidence => {
                    k.busy_evidence += 1;
                    true
                }
                Outcome::Busy => {
                    k.busy_503 += 1;
                    false
                }
                Outcome::Error(e) => {
                    k.errors += 1;
                    if samples.len() < 5 {
                        samples.push(format!("{}: {e}", kind.name()));
                    }
                    false
                }
            };
            if served {
                k.ok += 1;
                k.latencies.push(ms);
                k.first_useful.extend(reply.first_useful_ms);
                k.model_written += usize::from(reply.model_written);
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
        model_answers: 0,
        model_answers_per_s: 0.0,
        kinds: BTreeMap::new(),
        error_samples: samples,
    };
    for (kind, mut k) in kinds {
        k.p50_ms = super::percentile(&k.latencies, 50.0);
        k.p90_ms = super::percentile(&k.latencies, 90.0);
        k.p99_ms = super::percentile(&k.latencies, 99.0);
        k.max_ms = k.latencies.iter().cloned().fold(0.0, f64::max);
        k.first_useful_p50_ms = super::percentile(&k.first_useful, 50.0);
        k.first_useful_p90_ms = super::percentile(&k.first_useful, 90.0);
        k.first_useful_p99_ms = super::percentile(&k.first_useful, 99.0);
        report.requests += k.requests;
        report.ok += k.ok;
        report.degraded += k.degraded;
        report.busy_evidence += k.busy_evidence;
        report.busy_503 += k.busy_503;
        report.errors += k.errors;
        report.model_answers += k.model_written;
        report.kinds.insert(kind.name(), k);
    }
    report.requests_per_s = report.ok as f64 / seconds.max(1e-9);
    report.model_answers_per_s = report.model_answers as f64 / seconds.max(1e-9);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_covers_every_kind() {
        let kinds: std::collections::BTreeSet<Kind> =
            (0..100).map(|i| Kind::pick(i as f64 / 100.0)).collect();
        assert_eq!(
            kinds.len(),
            5,
            "the first ask of a question is told apart as it is sent"
        );
        assert_eq!(urlencode("a b?"), "a%20b%3F");
    }
}
