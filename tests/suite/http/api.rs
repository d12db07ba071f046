//! Every endpoint of the real server and every error path, in one server's life: health,
//! articles, answers (whole, cached, declined, follow-up, streamed), search, feedback, the
//! OpenAI-compatible chat, the page, and a clean shutdown.
use super::client::{assert_error, client, post, post_json, raw_get, report_until, sse};
use super::python::openai_python_client;
use crate::common::server::Server;
use serde_json::{json, Value};

#[test]
fn api_against_the_real_server() {
    // Dozens of questions in a few seconds from one address: no per-client limit here (the
    // limits have their own tests, in `refusals.rs`).
    let server = Server::start_with(&["--rate-limit", "0"]);
    let url = server.url.clone();

    // Health and the model list.
    let health: Value = client()
        .get(format!("{url}/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = client()
        .get(format!("{url}/readyz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["articles"], 1);
    let models: Value = client()
        .get(format!("{url}/v1/models"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "SmolLM2-135M-Instruct.Q4_1");

    // Articles: the list, one whole with passages and its related questions, an unknown id.
    let list: Value = client()
        .get(format!("{url}/api/articles"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let first = &list["articles"][0];
    let id = first["id"].as_str().unwrap().to_string();
    assert!(first["passages"].as_u64().unwrap() >= 5, "{first}");
    let article: Value = client()
        .get(format!("{url}/api/articles/{id}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let text = article["text"].as_str().unwrap();
    let passages = article["passages"].as_array().unwrap();
    assert_eq!(passages.len() as u64, first["passages"].as_u64().unwrap());
    for p in passages {
        let (s, e) = (
            p["range"]["start"].as_u64().unwrap() as usize,
            p["range"]["end"].as_u64().unwrap() as usize,
        );
        assert!(s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e));
        for sentence in p["sentences"].as_array().unwrap() {
            let ss = sentence["start"].as_u64().unwrap() as usize;
            assert!(ss >= s && sentence["end"].as_u64().unwrap() as usize <= e);
        }
    }
    let related = article["related"].as_array().unwrap();
    assert!(related.len() >= 3, "{related:?}");
    assert_error(
        client()
            .get(format!("{url}/api/articles/no-such-article"))
            .send()
            .unwrap(),
        404,
    );

    // An answer with its citation, whose highlight is the quoted sentence of the article.
    let r = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "Who replaced General Zaluzhny?"}),
    );
    assert_eq!(r.status(), 200);
    let a: Value = r.json().unwrap();
    assert!(a["answer"].as_str().unwrap().contains("Syrsky"), "{a}");
    assert_eq!(a["declined"], false);
    let c = &a["citations"][0];
    assert_eq!(c["article_id"], id.as_str());
    let (hs, he) = (
        c["highlight"]["start"].as_u64().unwrap() as usize,
        c["highlight"]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[hs..he], c["quote"].as_str().unwrap());
    assert!(a["related"].as_array().unwrap().len() >= 2, "{a}");
    assert!(a["timings"]["total_ms"].as_f64().is_some());

    // Asked again: from the cache, the same answer.
    let again: Value = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "who replaced general Zaluzhny"}),
    )
    .json()
    .unwrap();
    assert_eq!(again["cached"], true);
    assert_eq!(again["answer"], a["answer"]);

    // A question the article cannot answer is declined, with questions it can answer.
    let off: Value = post_json(
        &format!("{url}/api/ask"),
        &json!({"question": "What is the boiling point of mercury?", "article": id}),
    )
    .json()
    .unwrap();
    assert_eq!(off["declined"], true, "{off}");
    assert!(off["citations"].as_array().unwrap().is_empty());
    assert!(!off["related"].as_array().unwrap().is_empty());

    // A follow-up borrows the subject of the conversation.
    let follow: Value = post_json(
        &format!("{url}/api/ask"),
        &json!({
            "question": "Who replaced him?",
            "history": [
                {"role": "user", "content": "Who spearheaded Ukraine's defense in Kyiv?"},
                {"role": "assistant", "content": "General Zaluzhny [1]."}
            ]
        }),
    )
    .json()
    .unwrap();
    assert!(
        follow["query"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("zaluzhny"),
        "{follow}"
    );
    assert!(
        follow["answer"].as_str().unwrap().contains("Syrsky"),
        "{follow}"
    );

    // The stream: sources, deltas of the draft, then the checked result; nothing after it.
    let body = post_json(
        &format!("{url}/api/ask/stream"),
        &json!({"question": "What do North Korean reinforcements aim to do in Kursk?"}),
    );
    assert_eq!(body.status(), 200);
    assert!(body.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse(&body.text().unwrap());
    assert_eq!(
        events.first().map(|e| e.0.as_str()),
        Some("sources"),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|e| e.0.as_str()),
        Some("done"),
        "{events:?}"
    );
    let deltas: String = events
        .iter()
        .filter(|e| e.0 == "delta")
        .map(|e| {
            serde_json::from_str::<Value>(&e.1).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let done: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(!deltas.is_empty());
    assert_eq!(
        done["draft"].as_str().unwrap(),
        deltas,
        "the deltas are the draft"
    );
    let sources: Value = serde_json::from_str(&events[0].1).unwrap();
    assert!(!sources["evidence"].as_array().unwrap().is_empty());
    assert!(!done["answer"].as_str().unwrap().is_empty());

    // The answered question is recorded in the store (SQLite in the data folder), for the
    // editors' report and later readers' suggestions (written aside from the response).
    assert_eq!(done["declined"], false, "{done}");
    let question = done["question"].as_str().unwrap().to_string();
    let logged = report_until(&server.data, |r| r.to_string().contains(&question));
    assert!(
        logged.to_string().contains(&question),
        "the streamed question was not recorded: {logged}"
    );

    // Retrieval only.
    let hits: Value = client()
        .get(format!("{url}/api/search?q=Ukraine%20Russia&k=2"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(hits["hits"].as_array().unwrap().len(), 2);
    assert_error(
        client()
            .get(format!("{url}/api/search?q=%20"))
            .send()
            .unwrap(),
        422,
    );

    // Feedback is recorded.
    let r = post_json(
        &format!("{url}/api/feedback"),
        &json!({"question": "Who replaced General Zaluzhny?", "answer": "General Syrsky [1].", "useful": true}),
    );
    assert_eq!(r.status(), 204);
    let feedback = report_until(&server.data, |r| r["feedback"] == 1);
    assert_eq!(feedback["feedback"], 1, "{feedback}");
    assert_eq!(feedback["not_useful_count"], 0, "{feedback}");

    // OpenAI-compatible chat, without and with streaming.
    let chat: Value = post_json(
        &format!("{url}/v1/chat/completions"),
        &json!({"model": "any", "temperature": 0.7, "user": "x", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Who replaced General Zaluzhny?"}
        ]}),
    )
    .json()
    .unwrap();
    assert_eq!(chat["object"], "chat.completion");
    let content = chat["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.contains("Syrsky") && content.contains("Sources:\n[1]"),
        "{content}"
    );
    assert_eq!(chat["sources"][0]["number"], 1);
    let streamed = post_json(
        &format!("{url}/v1/chat/completions"),
        &json!({"stream": true, "messages": [{"role": "user", "content": "Who replaced General Zaluzhny?"}]}),
    )
    .text()
    .unwrap();
    let chunks = sse(&streamed);
    assert_eq!(chunks.last().map(|c| c.1.as_str()), Some("[DONE]"));
    let mut text = String::new();
    for (_, data) in &chunks[..chunks.len() - 1] {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
    }
    assert!(chunks.len() > 4, "the answer arrives in several chunks");
    assert_eq!(text, content, "streamed and whole answers agree");

    // Error paths: every one a JSON body.
    let api = format!("{url}/api/ask");
    assert_error(post(&api, vec![b'a'; 70 * 1024]), 413);
    assert_error(
        post(
            &api,
            format!("{{\"question\": \"{}\"}}", "x".repeat(70_000)),
        ),
        413,
    );
    assert_error(post_json(&api, &json!({"question": "  \n "})), 422);
    assert_error(post_json(&api, &json!({"question": "w".repeat(2001)})), 422);
    assert_error(post_json(&api, &json!({"questio": "typo"})), 422);
    assert_error(
        post_json(
            &api,
            &json!({"question": "Who?", "history": [{"role": "robot", "content": "x"}]}),
        ),
        422,
    );
    assert_error(post(&api, "{\"question\": "), 400);
    assert_error(post(&api, b"{\"question\": \"\xff\xfe\"}".to_vec()), 400);
    assert_error(post(&api, ""), 400);
    assert_error(
        post_json(&api, &json!({"question": "Who?", "article": "missing"})),
        404,
    );
    assert_error(
        post_json(
            &format!("{url}/v1/chat/completions"),
            &json!({"messages": []}),
        ),
        422,
    );
    assert_error(client().get(&api).send().unwrap(), 405);
    assert_error(
        client().get(format!("{url}/api/nothing")).send().unwrap(),
        404,
    );

    // The page, and nothing outside web/.
    let page = client().get(&url).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().unwrap().contains("Ask me anything"));
    for path in [
        "/../Cargo.toml",
        "/..%2fCargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/web/../src/main.rs",
        "/README.md",
    ] {
        let response = raw_get(&url, path);
        assert!(
            !response.contains("[package]") && !response.contains("root:"),
            "{path}: {response}"
        );
        assert!(response.starts_with("HTTP/1.1 4"), "{path}: {response}");
    }

    // Python's official OpenAI client.
    openai_python_client(&url);

    // SIGTERM shuts down cleanly.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}
