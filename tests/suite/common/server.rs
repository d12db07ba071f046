//! The real server for end-to-end tests: the `ama` binary serving the seed article on a free
//! loopback port, with its own data folder, killed on drop.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// A cold server indexes, loads the model and prepares the suggested questions first.
const READY_WITHIN: Duration = Duration::from_secs(600);

pub struct Server {
    pub url: String,
    pub child: Child,
    /// The server's data folder (index, caches, logs).
    pub data: PathBuf,
    _data: Option<tempfile::TempDir>,
    /// One server (or model) at a time in the test binary, unless the test holds the lock
    /// for several.
    _heavy: Option<MutexGuard<'static, ()>>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts `ama serve --addr 127.0.0.1:0` with extra flags and waits until `/readyz`.
    /// The suggested questions come from the run's shared cache (made by the first server).
    pub fn start_with(args: &[&str]) -> Server {
        let heavy = super::heavy();
        let data = tempfile::tempdir().expect("temp data folder");
        let mut server = Server::spawn(data.path(), args);
        server._data = Some(data);
        server._heavy = Some(heavy);
        server.wait_ready();
        server
    }

    /// Starts a server over `data` and waits until it is ready, without taking the suite's
    /// lock: for tests that run several servers at once while holding it.
    pub fn start_in(data: &Path, args: &[&str]) -> Server {
        let server = Server::spawn(data, args);
        server.wait_ready();
        server
    }

    fn spawn(data: &Path, args: &[&str]) -> Server {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ama"))
            .current_dir(root)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--corpus",
                "seeds",
                "--data",
            ])
            .arg(data)
            .arg("--suggestions-cache")
            .arg(super::suggestions_cache())
            // The small reader: these tests are of the server, and their answers stream fast.
            .args(["--model", "smollm2"])
            .args(args)
            .env("RUST_LOG", "info,tantivy=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ama serve");
        let stdout = child.stdout.take().expect("server stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the server's first line");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        Server {
            url,
            child,
            data: data.to_path_buf(),
            _data: None,
            _heavy: None,
        }
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        let client = reqwest::blocking::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.url)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "the server was not ready within {READY_WITHIN:?}"
            );
            // Polled often: a warm server is ready in about 1.5 s, and every test waits for one.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ama report --json` with `args` (`--data DIR` or `--database-url URL`): the editors' report.
pub fn report(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ama"))
        .args(["report", "--json"])
        .args(args)
        .output()
        .expect("ama report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

/// `ama index --suggestions` of the seed article into `data` (the suggestions from the run's
/// shared cache), as an operator prepares read-only replicas.
pub fn index_for_replicas(data: &Path) {
    let indexed = Command::new(env!("CARGO_BIN_EXE_ama"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["index", "--corpus", "seeds", "--suggestions", "--data"])
        .arg(data)
        .arg("--suggestions-cache")
        .arg(super::suggestions_cache())
        .args(["--model", "smollm2"])
        .output()
        .expect("ama index");
    assert!(
        indexed.status.success(),
        "{}",
        String::from_utf8_lossy(&indexed.stderr)
    );
}
