//! Many readers on one question: a plain request for a question another reader's stream is
//! being answered gets the quoted evidence instead of waiting for the whole answer; the stream
//! gets the written answer, and later readers get it from the cache.
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
