//! One reply of the load test, read as a reader's page reads it: what it was (served, busy,
//! 503, error), when its first useful byte came (a JSON body's first byte; a stream's first
//! event carrying evidence or text), and whether the model wrote it just now.
use std::time::Instant;

pub enum Outcome {
    Ok,
    /// Served with `"degraded": true`.
    Degraded,
    /// Served at once with the quoted evidence because the model was busy (`"busy": true`).
    BusyEvidence,
    Busy,
    Error(String),
}

pub struct Reply {
    pub outcome: Outcome,
    /// Milliseconds from the request to its first useful byte (`None`: nothing useful came).
    pub first_useful_ms: Option<f64>,
    /// A new answer the model wrote for this request (not cached, prepared ahead, quoted or
    /// declined before the model).
    pub model_written: bool,
}

impl Reply {
    fn failed(outcome: Outcome) -> Reply {
        Reply {
            outcome,
            first_useful_ms: None,
            model_written: false,
        }
    }
}

fn classify(status: reqwest::StatusCode, body: &str) -> Option<Outcome> {
    match status.as_u16() {
        200 | 204 => None,
        503 => Some(Outcome::Busy),
        s => Some(Outcome::Error(format!("HTTP {s}: {}", short(body)))),
    }
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Sends a request and reads its body chunk by chunk: the body when it was served, and when
/// `useful` first said the body so far holds something the reader can use; else how it failed.
async fn send(
    request: reqwest::RequestBuilder,
    useful: fn(&str) -> bool,
) -> Result<(String, Option<f64>), Outcome> {
    let started = Instant::now();
    let mut response = request
        .send()
        .await
        .map_err(|e| Outcome::Error(e.to_string()))?;
    let status = response.status();
    let mut body = Vec::new();
    let mut first_useful = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(Outcome::Error(e.to_string())),
        }
        if first_useful.is_none() && useful(&String::from_utf8_lossy(&body)) {
            first_useful = Some(crate::millis(started.elapsed()));
        }
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    match classify(status, &text) {
        Some(outcome) => Err(outcome),
        None => Ok((text, first_useful)),
    }
}

fn anything(text: &str) -> bool {
    !text.is_empty()
}

pub async fn get(client: &reqwest::Client, url: &str) -> Reply {
    match send(client.get(url), anything).await {
        Ok((_, first)) => Reply {
            outcome: Outcome::Ok,
            first_useful_ms: first,
            model_written: false,
        },
        Err(o) => Reply::failed(o),
    }
}

/// Whether an answer (`/api/ask`'s body or a stream's `done`) is one the model just wrote.
fn written_now(v: &serde_json::Value) -> bool {
    v["tokens"]["completion"].as_u64().unwrap_or(0) > 0
        && v["cached"] != true
        && v["precomputed"] != true
        && v["degraded"] != true
        && v["declined"] != true
}

fn outcome_of(v: &serde_json::Value) -> Outcome {
    if v["busy"] == true {
        Outcome::BusyEvidence
    } else if v["degraded"] == true {
        Outcome::Degraded
    } else {
        Outcome::Ok
    }
}

pub async fn json(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Reply {
    match send(client.post(url).json(body), anything).await {
        Ok((text, first)) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v.get("error").is_none() => Reply {
                outcome: outcome_of(&v),
                first_useful_ms: first,
                model_written: written_now(&v),
            },
            _ => Reply::failed(Outcome::Error(format!("bad body: {}", short(&text)))),
        },
        Err(o) => Reply::failed(o),
    }
}

/// The complete server-sent events in `text`: (name, data).
fn events(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
    complete.split("\n\n").filter_map(|event| {
        let mut name = "message";
        let mut data = "";
        for line in event.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim();
            } else if let Some(d) = line.strip_prefix("data:") {
                data = d.trim();
            }
        }
        (!data.is_empty()).then_some((name, data))
    })
}

/// A stream holds something useful once an event carries evidence or text.
fn useful_event(text: &str) -> bool {
    events(text).any(|(name, data)| match name {
        "sources" => serde_json::from_str::<serde_json::Value>(data)
            .is_ok_and(|v| v["evidence"].as_array().is_some_and(|e| !e.is_empty())),
        "delta" | "done" => true,
        _ => false,
    })
}

/// A stream counts as served when it ends with its `done` event.
pub async fn stream(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Reply {
    let (text, first) = match send(client.post(url).json(body), useful_event).await {
        Ok(read) => read,
        Err(o) => return Reply::failed(o),
    };
    let done = events(&text)
        .find(|(name, _)| *name == "done")
        .and_then(|(_, data)| serde_json::from_str::<serde_json::Value>(data).ok());
    match done {
        Some(v) if !text.contains("event: error") => Reply {
            outcome: outcome_of(&v),
            first_useful_ms: first,
            model_written: written_now(&v),
        },
        _ => Reply::failed(Outcome::Error(format!(
            "stream without done: {}",
            short(&text)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_useful_from_its_first_evidence_or_text() {
        let empty_sources = "event: sources\ndata: {\"query\":\"q\",\"evidence\":[]}\n\n";
        assert!(!useful_event(empty_sources));
        assert!(!useful_event(
            "event: sources\ndata: {\"evidence\":[{\"quote\":\"x\"}]}"
        ));
        assert!(useful_event(
            "event: sources\ndata: {\"evidence\":[{\"quote\":\"x\"}]}\n\n"
        ));
        assert!(useful_event(&format!(
            "{empty_sources}event: delta\ndata: {{\"text\":\"General\"}}\n\n"
        )));
        assert!(!useful_event(": keep-alive\n\n"));
    }

    #[test]
    fn only_a_new_answer_of_the_model_counts_as_written() {
        let v = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"tokens": {"prompt": 90, "completion": 6}});
            if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                m.extend(e.clone());
            }
            v
        };
        assert!(written_now(&v(serde_json::json!({"cached": false}))));
        assert!(!written_now(&v(serde_json::json!({"cached": true}))));
        assert!(!written_now(&v(
            serde_json::json!({"busy": true, "degraded": true})
        )));
        assert!(!written_now(
            &serde_json::json!({"tokens": {"prompt": 0, "completion": 0}})
        ));
    }
}
