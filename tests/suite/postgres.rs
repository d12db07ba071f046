//! The shared store on PostgreSQL (the machine's PostgreSQL 15, started by
//! `scripts/test-postgres`): two read-only replicas record readers' questions and feedback in
//! one database, `ama report` reads them back, and a database that dies mid-run costs no
//! answer; its writes wait and land once it is back.

use crate::common::server::Server;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn postgres(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres");
    let out = Command::new(script)
        .args(args)
        .output()
        .expect("scripts/test-postgres");
    assert!(
        out.status.success(),
        "scripts/test-postgres {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh database, dropped at the end (the cluster is left running).
struct Database {
    name: String,
    url: String,
}

impl Database {
    fn create() -> Database {
        let name = format!("ama_test_{}", std::process::id());
        let url = postgres(&["create", &name]);
        Database { name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres"))
            .args(["start"])
            .status();
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres"))
            .args(["drop", &self.name])
            .status();
    }
}

fn report(url: &str) -> Value {
    crate::common::server::report(&["--database-url".as_ref(), url.as_ref()])
}

fn ask(server: &Server, question: &str) -> Value {
    let r = Client::new()
        .post(format!("{}/api/ask", server.url))
        .json(&json!({ "question": question }))
        .timeout(Duration::from_secs(120))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{question}");
    r.json().unwrap()
}

fn feedback(server: &Server, question: &str, useful: bool) {
    let r = Client::new()
        .post(format!("{}/api/feedback", server.url))
        .json(&json!({"question": question, "answer": "General Syrsky [1].", "useful": useful, "comment": "not what I asked"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

fn store_status(server: &Server) -> Value {
    let ready: Value = Client::new()
        .get(format!("{}/readyz", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    ready["store"].clone()
}

fn wait_until(what: &str, within: Duration, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn replicas_share_one_postgres_store_and_survive_its_death() {
    let _heavy = crate::common::heavy();
    let db = Database::create();
    let data = tempfile::tempdir().unwrap();
    crate::common::server::index_for_replicas(data.path());
    let flags = [
        "--read-only",
        "--database-url",
        &db.url,
        "--rate-limit",
        "0",
        "--feedback-rate-limit",
        "0",
        "--cache",
        "0",
        // A dead database is known after 1 s instead of the default 3.
        "--database-timeout-ms",
        "1000",
    ];
    let a = Server::start_in(data.path(), &flags);
    let b = Server::start_in(data.path(), &flags);
    assert_eq!(store_status(&a)["backend"], "postgres");

    // Each replica records what its readers did, in the one database.
    let asked = "Who replaced General Zaluzhny?";
    ask(&a, asked);
    ask(&b, asked);
    ask(&b, "what did the Kremlin deploy to the Kursk region");
    let off_topic = ask(&a, "What is the capital of France?");
    assert_eq!(off_topic["declined"], true);
    feedback(&b, asked, false);
    feedback(&a, asked, true);
    wait_until(
        "both replicas' writes are in",
        Duration::from_secs(20),
        || report(&db.url)["questions"] == 4 && report(&db.url)["feedback"] == 2,
    );
    let r = report(&db.url);
    assert_eq!(r["backend"], "postgres");
    assert_eq!(r["most_asked"][0]["question"], asked, "{r}");
    assert_eq!(r["most_asked"][0]["count"], 2, "{r}");
    assert_eq!(
        r["declined"][0]["question"], "What is the capital of France?",
        "{r}"
    );
    assert_eq!(r["declined_count"], 1);
    assert_eq!(r["not_useful"][0]["count"], 1, "{r}");
    assert_eq!(r["not_useful"][0]["comment"], "not what I asked");
    // The text report names the same.
    let text = Command::new(env!("CARGO_BIN_EXE_ama"))
        .args(["report", "--database-url", &db.url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("4 questions: 1 declined"), "{text}");
    assert!(text.contains(asked), "{text}");

    // The database dies: answers are still served, feedback is still taken, the store says
    // it is down and holds the writes.
    postgres(&["stop"]);
    let during = ask(&a, "How many Ukrainian provinces heard air raid sirens?");
    assert!(!during["answer"].as_str().unwrap().is_empty());
    feedback(
        &a,
        "How many Ukrainian provinces heard air raid sirens?",
        false,
    );
    wait_until(
        "the store reports the database down",
        Duration::from_secs(30),
        || store_status(&a)["state"] == "down",
    );
    let status = store_status(&a);
    assert!(status["pending"].as_u64().unwrap() >= 2, "{status}");
    assert!(status["last_error"].is_string(), "{status}");

    // It comes back: the held writes land, nothing lost.
    postgres(&["start"]);
    wait_until("the held writes land", Duration::from_secs(60), || {
        let s = store_status(&a);
        s["state"] == "up" && s["pending"] == 0
    });
    let after = report(&db.url);
    assert_eq!(after["questions"], 5, "{after}");
    assert_eq!(after["feedback"], 3, "{after}");
    assert_eq!(after["dropped"], Value::Null);
    assert_eq!(store_status(&a)["dropped"], 0);
    drop(a);
    drop(b);
}
