//! The worker thread serving the tiny model: generations in turn, and its stream read from
//! async code.
use ama::llm::{load_model, ChatMessage, FinishReason, GenerateParams, WeightsMode, WorkerOptions};

use super::fixture::{opts, tiny};

#[test]
fn worker_serves_the_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny(dir.path(), false);
    let model = load_model(
        &path,
        &opts(WeightsMode::AsShipped),
        WorkerOptions::default(),
    )
    .unwrap();
    assert_eq!(model.name(), "tiny");
    assert_eq!(
        model.count_tokens("hello"),
        2,
        "h+e→he, l+l→ll, he+ll→hell, then o"
    );
    let params = GenerateParams {
        max_tokens: 10,
        temperature: 1.0,
        seed: 3,
        ..Default::default()
    };
    let (a, sa) = model
        .generate(vec![ChatMessage::user("hi")], params.clone())
        .unwrap()
        .collect_blocking()
        .unwrap();
    let (b, sb) = model
        .generate(vec![ChatMessage::user("hi")], params)
        .unwrap()
        .collect_blocking()
        .unwrap();
    assert_eq!(a, b, "same seed, same text");
    assert_eq!(sa.completion_tokens, sb.completion_tokens);
    assert!(matches!(
        sa.finish_reason,
        FinishReason::Stop | FinishReason::Length
    ));
}

#[test]
fn stream_is_usable_from_async_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny(dir.path(), false);
    // A one-event buffer: the worker waits for the async reader after every delta.
    let worker = WorkerOptions {
        queue_capacity: 1,
        stream_buffer: 1,
    };
    let model = load_model(&path, &opts(WeightsMode::AsShipped), worker).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        // Random weights: sample (greedy may hit a control token at once).
        let params = GenerateParams {
            max_tokens: 10,
            temperature: 1.0,
            seed: 11,
            ..Default::default()
        };
        for _ in 0..2 {
            let mut stream = model
                .generate(vec![ChatMessage::user("hi")], params.clone())
                .unwrap();
            let (mut deltas, mut done) = (0, None);
            while let Some(event) = stream.recv().await {
                match event {
                    ama::llm::GenEvent::Delta(_) => deltas += 1,
                    ama::llm::GenEvent::Done(s) => done = Some(s),
                    ama::llm::GenEvent::Error(e) => panic!("{e}"),
                }
            }
            let summary = done.expect("a Done event ends the stream");
            assert!(summary.completion_tokens <= 10);
            assert!(deltas <= summary.completion_tokens + 1);
        }
        // A stream dropped after its first event does not wedge the worker.
        let mut stream = model
            .generate(vec![ChatMessage::user("hi")], params.clone())
            .unwrap();
        assert!(stream.recv().await.is_some());
        drop(stream);
        let mut next = model
            .generate(vec![ChatMessage::user("hi")], params)
            .unwrap();
        let mut ended = false;
        while let Some(event) = next.recv().await {
            ended |= matches!(event, ama::llm::GenEvent::Done(_));
        }
        assert!(ended);
    });
}
