//! The load test's own server: `ama serve` started as a child process on a free loopback port
//! (stopped however the bench ends), waited for until ready, and its memory and descriptors
//! sampled while the load runs.
use super::process::{sample_process, ProcessTrend};
use super::serve::{run, LoadOptions, LoadReport};
use std::ffi::OsString;
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why the load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServedError {
    #[error("starting ama serve: {0}")]
    Start(std::io::Error),
    #[error("unexpected first line from the server: {0:?}")]
    FirstLine(String),
    #[error("the server never became ready at {0}")]
    NeverReady(String),
    #[error("the load: {0}")]
    Load(#[from] reqwest::Error),
}

/// A started `ama serve`, killed when dropped.
pub struct StartedServer {
    child: std::process::Child,
    pub url: String,
}

impl StartedServer {
    /// Starts `exe serve --addr 127.0.0.1:0 ARGS…` and reads the address it listens on.
    pub fn start(exe: &Path, args: &[OsString]) -> Result<StartedServer, ServedError> {
        let mut child = std::process::Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(ServedError::Start)?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(ServedError::FirstLine(String::new()));
        };
        let mut server = StartedServer {
            child,
            url: String::new(),
        };
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(ServedError::Start)?;
        server.url = first
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| ServedError::FirstLine(first.clone()))?
            .to_string();
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StartedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `url`'s `/readyz` answers 200 (the first start prepares the index, the model
/// and the suggestions: up to 15 minutes).
pub async fn wait_ready(url: &str) -> Result<(), ServedError> {
    let client = reqwest::Client::new();
    let began = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if began.elapsed() > Duration::from_secs(900) {
            return Err(ServedError::NeverReady(url.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The load against `url`, and, for a server started here (`pid`), how its memory and open
/// descriptors went: sampled every 5 s from ready to the end (a soak: both should stay flat).
pub async fn load_and_sample(
    url: &str,
    options: &LoadOptions,
    pid: Option<u32>,
) -> Result<(LoadReport, Option<ProcessTrend>), ServedError> {
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
                match sample_process(pid) {
                    Some(s) => samples.push(s),
                    None => return samples,
                }
            }
        })
    });
    let report = run(url, options).await?;
    let _ = stop.send(());
    let mut trend = None;
    if let (Some(pid), Some(sampler)) = (pid, sampler) {
        let mut samples = sampler.await.unwrap_or_default();
        samples.extend(sample_process(pid));
        trend = ProcessTrend::from_samples(&samples);
    }
    Ok((report, trend))
}
