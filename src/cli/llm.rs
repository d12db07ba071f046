//! CLI commands of the language-model engine: `fetch-model`, `generate`, `bench llm`.
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ama::assemble::{Config, ModelSource};
use ama::fetch;
use ama::llm::{
    load_model, ChatMessage, Engine, EngineOptions, GenEvent, GenerateParams, RemoteOptions,
    WeightsMode, WorkerOptions,
};
use anyhow::Context;
use candle_core::quantized::GgmlDType;
use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct FetchModelArgs {
    /// Folder that receives the model file.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// Which model: qwen2.5-coder-1.5b (the default reader), qwen2.5-coder-0.5b (the faster
    /// reader), smollm2 (the small reader) or gemma3-270m.
    #[arg(long, default_value = "qwen2.5-coder-1.5b")]
    pub model: String,
}

/// Weights to run.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WeightsArg {
    /// The file's weights as they are (Q4_1 runs on the 4-bit kernels).
    Shipped,
    /// Q4_1 and Q5_x weights requantised to Q8_0, cached beside the model.
    #[value(name = "q8_0")]
    Q8_0,
    /// Q4_1 and Q5_x weights requantised to Q4_0.
    #[value(name = "q4_0")]
    Q4_0,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A model by name (qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, smollm2, gemma3-270m: fetched
    /// into models/ when missing) or the path of a GGUF file (llama, qwen2, gemma3 or phi3).
    /// Default: qwen2.5-coder-1.5b; qwen2.5-coder-0.5b is faster in half the memory, smollm2
    /// the small reader for small machines.
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, value_enum, default_value = "shipped")]
    pub weights: WeightsArg,
    /// Largest context length to use.
    #[arg(long, default_value_t = 4096)]
    pub max_context: usize,
    /// Generate with an OpenAI-compatible server instead of the local engine
    /// (`http://host:port`, its `/v1`, or its `/v1/chat/completions`): llama.cpp's server,
    /// vLLM, a hosted API. --model is then not loaded: the server's model name (or
    /// --llm-model) picks the prompt style.
    #[arg(long, value_name = "URL")]
    pub llm_url: Option<String>,
    /// The model the server should run (default: the first of its `/v1/models`).
    #[arg(long, value_name = "NAME", requires = "llm_url")]
    pub llm_model: Option<String>,
    /// The environment variable holding the server's API key (sent as a bearer token).
    #[arg(long, value_name = "VAR", requires = "llm_url")]
    pub llm_api_key_env: Option<String>,
    /// Generations the server may run at once for this process.
    #[arg(long, default_value_t = 4, requires = "llm_url")]
    pub llm_concurrency: usize,
    /// Seconds to wait for the server's first token (and, between tokens, half of it) before
    /// the answer quotes its evidence instead.
    #[arg(long, default_value_t = 20, requires = "llm_url")]
    pub llm_timeout_secs: u64,
}

impl ModelArgs {
    /// Where the answers' model runs: the remote server given by --llm-url, or the local
    /// engine (on a worker thread with `worker`'s queue).
    pub fn source(&self, worker: WorkerOptions) -> anyhow::Result<ModelSource> {
        let Some(url) = &self.llm_url else {
            return Ok(ModelSource::Local {
                model: self.model.clone(),
                engine: self.options(),
                worker,
            });
        };
        let api_key = match &self.llm_api_key_env {
            Some(var) => Some(
                std::env::var(var)
                    .with_context(|| format!("--llm-api-key-env {var}: the variable is not set"))?,
            ),
            None => None,
        };
        let timeout = Duration::from_secs(self.llm_timeout_secs.max(1));
        Ok(ModelSource::Remote(RemoteOptions {
            model: self.llm_model.clone(),
            api_key,
            concurrency: self.llm_concurrency.max(1),
            queue_capacity: worker.queue_capacity,
            first_token_timeout: timeout,
            idle_timeout: (timeout / 2).max(Duration::from_secs(1)),
            total_timeout: timeout * 3,
            context_length: self.max_context,
            ..RemoteOptions::new(url.clone())
        }))
    }

    /// The model file: the one given, or the default, fetched when missing (with bars).
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        let progress = super::progress::bars();
        Ok(Config::default().model_path(self.model.as_deref(), &progress)?)
    }

    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            weights: match self.weights {
                WeightsArg::Q8_0 => WeightsMode::Requantize(GgmlDType::Q8_0),
                WeightsArg::Q4_0 => WeightsMode::Requantize(GgmlDType::Q4_0),
                WeightsArg::Shipped => WeightsMode::AsShipped,
            },
            max_context: self.max_context,
            ..EngineOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The user's message.
    pub prompt: String,
    /// A system message (default: the chat template's own, if any).
    #[arg(long)]
    pub system: Option<String>,
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub top_p: Option<f64>,
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
    /// Stop before this string (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Print text as it is generated.
    #[arg(long)]
    pub stream: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct BenchLlmArgs {
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: usize,
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn fetch_model(args: FetchModelArgs) -> anyhow::Result<()> {
    let Some(model) = fetch::named(&args.model) else {
        let names: Vec<&str> = fetch::MODELS.iter().map(|m| m.name).collect();
        anyhow::bail!(
            "no model named {:?}: the names are {}",
            args.model,
            names.join(", ")
        );
    };
    let path = fetch::ensure_named(&args.models_dir, model, &super::progress::bars())?;
    println!("{}", path.display());
    Ok(())
}

pub fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let path = args.model.path()?;
    let model = load_model(&path, &args.model.options(), WorkerOptions::default())?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(args.prompt.clone()));
    let params = GenerateParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        repeat_penalty: args.repeat_penalty,
        seed: args.seed,
        stop: args.stop.clone(),
        likely_reply: None,
    };
    let mut stream = model.generate(messages, params)?;
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    while let Some(event) = stream.blocking_recv() {
        match event {
            GenEvent::Delta(d) => {
                if args.stream {
                    out.write_all(d.as_bytes())?;
                    out.flush()?;
                }
                text.push_str(&d);
            }
            GenEvent::Done(summary) => {
                if !args.stream {
                    out.write_all(text.as_bytes())?;
                }
                writeln!(out)?;
                if summary.prompt_trimmed {
                    eprintln!("note: the prompt was too long and was trimmed to fit the context");
                }
                tracing::info!(
                    prompt_tokens = summary.prompt_tokens,
                    completion_tokens = summary.completion_tokens,
                    finish = ?summary.finish_reason,
                    ttft_ms = summary.ttft_ms.round(),
                    prefill_tok_s = summary.prefill_tok_s.round(),
                    decode_tok_s = summary.decode_tok_s.round(),
                    "done"
                );
                return Ok(());
            }
            GenEvent::Error(e) => anyhow::bail!("generation failed: {e}"),
        }
    }
    anyhow::bail!("the model worker stopped unexpectedly")
}

/// Text repeated to make a benchmark prompt of any length.
const BENCH_TEXT: &str = "The river runs past the old mill, where the miller's children count \
the boats that carry grain to the city. In 1887 a flood took the bridge; the town rebuilt it \
in stone, and the new arches have stood through every spring since. Visitors ask why the mill \
still turns: the answer is that the water never stopped, and neither did the people. ";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Peak resident set size of this process in MiB (Linux; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub fn bench_llm(args: BenchLlmArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    anyhow::ensure!(args.prompt_tokens > 0, "--prompt-tokens must be at least 1");
    let path = args.model.path()?;
    let opts = args.model.options();
    // A first load builds the requantised cache and warms the page cache; it is not timed.
    let mut engine = Engine::load(&path, &opts).context("loading the model")?;
    let tok = engine.tokenizer().clone();
    let mut prompt = Vec::new();
    while prompt.len() < args.prompt_tokens {
        prompt.extend(tok.encode(BENCH_TEXT).map_err(anyhow::Error::msg)?);
    }
    prompt.truncate(args.prompt_tokens);
    anyhow::ensure!(
        args.prompt_tokens + args.gen_tokens <= engine.context_length(),
        "prompt + generated tokens exceed the context length {}",
        engine.context_length()
    );
    let (mut load, mut prefill, mut ttft, mut decode) = (vec![], vec![], vec![], vec![]);
    let mut ttft_warm = vec![];
    let mut splits = vec![];
    for run in 0..args.runs {
        drop(engine);
        let t = Instant::now();
        engine = Engine::load(&path, &opts)?;
        load.push(t.elapsed().as_secs_f64() * 1000.0);
        let r = engine.bench(&prompt, args.gen_tokens, false)?;
        // The same prompt with a new last sentence (32 tokens): a fixed system prompt or
        // conversation prefix is reused from the KV cache.
        let mut follow_up = prompt.clone();
        let keep = prompt.len().saturating_sub(32).max(1);
        follow_up.truncate(keep);
        follow_up.extend(prompt.iter().take(prompt.len() - keep).copied());
        let warm = engine.bench(&follow_up, 1, true)?;
        ttft_warm.push(warm.ttft_ms);
        tracing::info!(
            run,
            prefill_tok_s = r.prefill_tok_s.round(),
            ttft_ms = r.ttft_ms.round(),
            decode_tok_s = r.decode_tok_s.round(),
            "bench run"
        );
        prefill.push(r.prefill_tok_s);
        splits.extend(r.prefill_split);
        ttft.push(r.ttft_ms);
        decode.push(r.decode_tok_s);
    }
    let report = serde_json::json!({
        "engine": "ama",
        // Which matmul kernel ran (chosen at run time from what the CPU has).
        "kernel": format!("{:?}", ama::llm::kernels::Kernel::selected()),
        "kernels_available": ama::llm::kernels::Kernel::available()
            .iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>(),
        "model": engine.name(),
        "weights": format!("{:?}", args.model.weights).to_lowercase(),
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "runs": args.runs,
        "threads": candle_core::utils::get_num_threads(),
        "load_ms": median(load),
        "prefill_tok_s": median(prefill),
        "ttft_ms": median(ttft),
        "decode_tok_s": median(decode),
        "ttft_ms_cached_prefix": median(ttft_warm),
        "peak_rss_mb": peak_rss_mb(),
        // Where the prefill's time went, ms (median per part; our llama/qwen2 pass only).
        "prefill_split_ms": prefill_split_ms(&splits),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "model {} ({} weights, {} kernel), {} prompt + {} generated tokens, median of {} runs, {} threads",
            report["model"].as_str().unwrap_or_default(),
            report["weights"].as_str().unwrap_or_default(),
            report["kernel"].as_str().unwrap_or_default(),
            args.prompt_tokens,
            args.gen_tokens,
            args.runs,
            report["threads"]
        );
        println!(
            "load ms        {:>8.0}",
            report["load_ms"].as_f64().unwrap_or(0.0)
        );
        println!(
            "prefill tok/s  {:>8.1}",
            report["prefill_tok_s"].as_f64().unwrap_or(0.0)
        );
        println!(
            "ttft ms        {:>8.0}",
            report["ttft_ms"].as_f64().unwrap_or(0.0)
        );
        println!(
            "decode tok/s   {:>8.1}",
            report["decode_tok_s"].as_f64().unwrap_or(0.0)
        );
        println!(
            "ttft ms, prefix cached (last 32 tokens new) {:>8.0}",
            report["ttft_ms_cached_prefix"].as_f64().unwrap_or(0.0)
        );
        println!(
            "peak RSS MB    {:>8.0}",
            report["peak_rss_mb"].as_f64().unwrap_or(0.0)
        );
        let split = &report["prefill_split_ms"];
        if let Some(parts) = split.as_object() {
            let total: f64 = parts.values().filter_map(|v| v.as_f64()).sum();
            let shares: Vec<String> = parts
                .iter()
                .map(|(name, ms)| {
                    let ms = ms.as_f64().unwrap_or(0.0);
                    format!("{name} {ms:.0} ms ({:.0}%)", 100.0 * ms / total.max(1e-9))
                })
                .collect();
            println!("prefill split  {}", shares.join(", "));
        }
    }
    Ok(())
}

/// The median time per part of the prefill, in ms (null when the network keeps no split).
fn prefill_split_ms(splits: &[ama::llm::llama::TimeSplit]) -> serde_json::Value {
    if splits.is_empty() {
        return serde_json::Value::Null;
    }
    let part = |f: fn(&ama::llm::llama::TimeSplit) -> std::time::Duration| {
        median(splits.iter().map(|s| f(s).as_secs_f64() * 1000.0).collect())
    };
    serde_json::json!({
        "matmul": part(|s| s.matmul),
        "attention": part(|s| s.attention),
        "other": part(|s| s.other),
    })
}
