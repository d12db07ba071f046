//! Many readers on one question: a plain request for a question another reader's stream is
//! being answered gets the quoted evidence instead of waiting for the whole answer; the stream
//! gets the written answer, and later readers get it from the cache. And `bench serve`, which
//! measures it.
use super::client::{client, post_json, sse};
use crate::common::server::Server;
use serde_json::{json, Value};
use std::io::Read;

const QUESTION: &str = "Which British missiles did Kyiv use against Russian targets?";

#[test]
fn readers_of_a_question_being_answered_get_its_evidence_and_then_its_answer() {
    // Plain requests do not wait at all for an answer being written for someone else.
    let server = Server::start_with(&["--follow-wait-ms", "0"]);
    let url = server.url.clone();
    let mut leader = client()
        .post(format!("{url}/api/ask/stream"))
        .header("content-type", "application/json")
        .body(json!({ "question": QUESTION }).to_string())
        .send()
        .unwrap();
    assert_eq!(leader.status(), 200);
    // Its sources come once the model has taken the question: it is being written now.
    let mut streamed = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&streamed).contains("event: sources") {
        let n = leader.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended before its sources");
        streamed.extend_from_slice(&buf[..n]);
    }
    let followers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let r = post_json(&format!("{url}/api/ask"), &json!({ "question": QUESTION }));
                assert_eq!(r.status(), 200);
                r.json::<Value>().unwrap()
            })
        })
        .collect();
    let followers: Vec<Value> = followers.into_iter().map(|f| f.join().unwrap()).collect();
    leader.read_to_end(&mut streamed).unwrap();
    let streamed = String::from_utf8_lossy(&streamed).into_owned();
    let done: Value = sse(&streamed)
        .into_iter()
        .find(|(name, _)| name == "done")
        .map(|(_, data)| serde_json::from_str(&data).unwrap())
        .unwrap_or_else(|| panic!("no done event: {streamed}"));
    assert!(done["busy"] == false && done["degraded"] == false, "{done}");
    assert!(
        done["tokens"]["completion"].as_u64().unwrap_or(0) > 0,
        "{done}"
    );

    let mut quoted = 0;
    for f in &followers {
        if f["busy"] == true {
            // The evidence, quoted and cited, at once.
            quoted += 1;
            assert_eq!(f["degraded"], true, "{f}");
            assert!(f["answer"].as_str().unwrap().starts_with('“'), "{f}");
            assert!(!f["citations"].as_array().unwrap().is_empty(), "{f}");
        } else {
            // Asked just as the answer was finished: the written answer.
            assert_eq!(f["answer"], done["answer"], "{f}");
        }
    }
    assert!(
        quoted > 0,
        "no request arrived while the answer was written: {followers:?}"
    );
    // The answer was written once, for everyone: the next reader gets it from the cache.
    let again: Value = post_json(&format!("{url}/api/ask"), &json!({ "question": QUESTION }))
        .json()
        .unwrap();
    assert!(again["cached"] == true && again["busy"] == false, "{again}");
    assert_eq!(again["answer"], done["answer"]);
}

/// `bench serve` runs its one-client baseline and then the load, each on a fresh server, and
/// reports for both the new answers the model wrote and, per kind of request, when the first
/// useful byte came: for a stream, its first event with evidence or text, before its end.
#[test]
fn bench_serve_reports_the_baseline_the_load_and_the_first_useful_bytes() {
    let _heavy = crate::common::heavy();
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ama"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "serve", "--clients", "4", "--seconds", "4"])
        .args(["--baseline-seconds", "3", "--json", "--data"])
        .arg(data.path())
        .arg("--suggestions-cache")
        .arg(crate::common::suggestions_cache())
        .args(["--", "--model", "smollm2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for (phase, clients) in [("one client", 1), ("load", 4)] {
        let r = &report[phase];
        assert_eq!(r["clients"], clients, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(r["model_answers"].as_u64().unwrap() > 0, "{r}");
        assert!(r["server"]["end"]["open_fds"].as_u64().unwrap() > 0, "{r}");
        let streams = &r["kinds"]["stream, new conversation (model)"];
        assert!(streams["ok"].as_u64().unwrap() > 0, "{r}");
        let (first, whole) = (
            streams["first_useful_p50_ms"].as_f64().unwrap(),
            streams["p50_ms"].as_f64().unwrap(),
        );
        assert!(first > 0.0 && first <= whole, "{streams}");
    }
}
