//! Replicas: `ama index` builds the index (and the suggestions) once, two `serve --read-only`
//! replicas share its data folder behind nginx (Debian's package, installed by `.ci/run`) on
//! loopback, one is killed mid-load, and no request is lost; the folder is not written.

use crate::common::server::Server;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Every file of a folder with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let meta = e.metadata().expect("metadata");
            let modified = meta.modified().expect("mtime");
            (e.path().to_path_buf(), (meta.len(), modified))
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// nginx in the foreground, one process, with its own prefix folder; stopped on drop.
struct Nginx {
    child: Child,
    url: String,
    _prefix: tempfile::TempDir,
}

impl Nginx {
    fn start(upstreams: &[&str]) -> Nginx {
        let prefix = tempfile::tempdir().unwrap();
        let port = free_port();
        let servers: String = upstreams
            .iter()
            .map(|u| {
                format!(
                    "        server {} max_fails=1 fail_timeout=30s;\n",
                    u.trim_start_matches("http://")
                )
            })
            .collect();
        let p = prefix.path().display();
        // Root runs the workers as root: the default user (nobody) cannot read the prefix.
        let user = if nix_is_root() { "user root;\n" } else { "" };
        let conf = format!(
            "{user}worker_processes 1;
error_log {p}/error.log;
pid {p}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    upstream ama {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://ama;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # A replica that dies mid-request: the request goes to the next one (asking is
            # safe to repeat, so POSTs too).
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            proxy_buffering off;
        }}
    }}
}}
"
        );
        let conf_path = prefix.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|n| Command::new(n).arg("-v").output().is_ok())
            .expect("nginx is installed (.ci/run installs Debian's package)");
        let child = Command::new(nginx)
            .arg("-p")
            .arg(prefix.path())
            .arg("-c")
            .arg(&conf_path)
            // One process: killing it leaves no orphaned worker behind (a worker outliving the
            // test kept its inherited descriptors open).
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            url,
            _prefix: prefix,
        }
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn seed_questions() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed_questions.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn two_read_only_replicas_behind_nginx_lose_no_request_when_one_dies() {
    let _heavy = crate::common::heavy();
    let data = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Built once.
    crate::common::server::index_for_replicas(data.path());
    let before = snapshot(data.path());

    // A read-only replica needs a built index: without one it says so and stops.
    let empty = tempfile::tempdir().unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_ama"))
        .current_dir(root)
        .args(["serve", "--read-only", "--addr", "127.0.0.1:0", "--data"])
        .arg(empty.path())
        .args(["--model", "smollm2"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ama index"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);

    let flags = ["--read-only", "--rate-limit", "0"];
    let mut first = Server::start_in(data.path(), &flags);
    let second = Server::start_in(data.path(), &flags);
    let nginx = Nginx::start(&[&first.url, &second.url]);

    // A read-only replica refuses what it would have to write.
    let feedback = reqwest::blocking::Client::new()
        .post(format!("{}/api/feedback", second.url))
        .json(&json!({"question": "Who?", "answer": "X", "useful": true}))
        .send()
        .unwrap();
    assert_eq!(feedback.status().as_u16(), 403);

    // Half the seed questions, each once (14 model answers over two replicas sharing two
    // cores, 4 at a time): enough for a quarter to pass before the death and the rest to
    // follow it (all 27 took 18–39 s of the suite).
    let mut questions = seed_questions();
    questions.truncate(14);
    let total = questions.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return;
                }
                let question = &questions[i];
                let outcome = client
                    .post(format!("{}/api/ask", nginx.url))
                    .json(&json!({ "question": question }))
                    .send()
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        let status = r.status().as_u16();
                        let body: Value = r.json().map_err(|e| e.to_string())?;
                        if status == 200 && body["answer"].as_str().is_some_and(|a| !a.is_empty()) {
                            Ok(())
                        } else {
                            Err(format!("{status}: {body}"))
                        }
                    });
                if let Err(e) = outcome {
                    failures.lock().unwrap().push(format!("{question}: {e}"));
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        // A quarter of the way in, one replica dies without warning.
        while done.load(Ordering::SeqCst) < total / 4 {
            std::thread::sleep(Duration::from_millis(20));
        }
        first.child.kill().unwrap();
        first.child.wait().unwrap();
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} requests lost: {failures:#?}",
        failures.len()
    );
    assert_eq!(done.load(Ordering::SeqCst), total);
    drop(second);
    assert_eq!(
        snapshot(data.path()),
        before,
        "read-only replicas wrote to the data folder"
    );
}
