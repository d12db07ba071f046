//! The model writing a draft: the one policy for reading its stream. A stream that ends
//! before the model says it is done, or with an error, or that is still running at the
//! deadline, never becomes half an answer.
use super::AnswerError;
use crate::llm::{GenEvent, GenStream, GenSummary, LlmError, Received};
use std::time::Instant;

/// What the model wrote.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub text: String,
    /// From the request to the first delta.
    pub ttft_ms: f64,
    /// The model's usage and timings, once it has finished.
    pub summary: Option<GenSummary>,
}

/// Why a draft was not finished.
#[derive(Debug)]
pub enum Interruption {
    /// The model failed, or its stream ended before it said it was done.
    Failed(AnswerError),
    /// The model was still writing at the deadline.
    Deadline,
    /// The caller stopped listening.
    Cancelled,
}

/// A draft the model did not finish: what it wrote, and why it stopped.
#[derive(Debug)]
pub struct Unfinished {
    pub partial: Draft,
    pub why: Interruption,
}

fn unfinished(partial: Draft, why: Interruption) -> Box<Unfinished> {
    Box::new(Unfinished { partial, why })
}

/// Reads the whole draft from `stream`, passing each delta to `on_delta` (which returns false
/// once its reader has gone). `started` is when the request began (for the time to the first
/// token). On an interruption, the draft so far comes back with why.
pub fn read(
    mut stream: GenStream,
    started: Instant,
    deadline: Option<Instant>,
    on_delta: &mut dyn FnMut(&str) -> bool,
) -> Result<Draft, Box<Unfinished>> {
    let mut draft = Draft::default();
    loop {
        let event = match stream.recv_until(deadline) {
            Received::Event(event) => event,
            Received::Closed => {
                return Err(unfinished(
                    draft,
                    Interruption::Failed(AnswerError::Unfinished),
                ));
            }
            Received::TimedOut => return Err(unfinished(draft, Interruption::Deadline)),
        };
        match event {
            GenEvent::Delta(d) => {
                if draft.text.is_empty() {
                    draft.ttft_ms = crate::millis(started.elapsed());
                }
                draft.text.push_str(&d);
                if !on_delta(&d) {
                    return Err(unfinished(draft, Interruption::Cancelled));
                }
            }
            GenEvent::Done(summary) => {
                draft.summary = Some(summary);
                return Ok(draft);
            }
            GenEvent::Error(e) => {
                let e = AnswerError::Model(LlmError::Inference(e));
                return Err(unfinished(draft, Interruption::Failed(e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::FinishReason;
    use std::time::Duration;

    fn summary() -> GenSummary {
        GenSummary {
            prompt_tokens: 3,
            completion_tokens: 2,
            prompt_trimmed: false,
            finish_reason: FinishReason::Stop,
            ttft_ms: 1.0,
            total_ms: 2.0,
            prefill_tok_s: 1.0,
            decode_tok_s: 1.0,
            decode_passes: 0,
        }
    }

    /// A stream that sends `events` and then closes.
    fn stream(events: Vec<GenEvent>) -> GenStream {
        let (tx, rx) = tokio::sync::mpsc::channel(events.len().max(1));
        for e in events {
            tx.try_send(e).unwrap();
        }
        GenStream::new(rx)
    }

    fn read_all(s: GenStream) -> Result<Draft, Box<Unfinished>> {
        read(s, Instant::now(), None, &mut |_| true)
    }

    #[test]
    fn a_finished_stream_gives_the_whole_draft() {
        let mut deltas = Vec::new();
        let s = stream(vec![
            GenEvent::Delta("General ".into()),
            GenEvent::Delta("Syrsky.".into()),
            GenEvent::Done(summary()),
        ]);
        let draft = read(s, Instant::now(), None, &mut |d| {
            deltas.push(d.to_string());
            true
        })
        .unwrap();
        assert_eq!(deltas, ["General ", "Syrsky."]);
        assert_eq!(draft.text, "General Syrsky.");
        assert_eq!(draft.summary.map(|s| s.completion_tokens), Some(2));
    }

    #[test]
    fn a_stream_that_ends_early_or_fails_is_an_interruption() {
        let cut = read_all(stream(vec![GenEvent::Delta("General ".into())]));
        let cut = cut.unwrap_err();
        assert_eq!(cut.partial.text, "General ");
        assert!(matches!(
            cut.why,
            Interruption::Failed(AnswerError::Unfinished)
        ));

        let failed = read_all(stream(vec![GenEvent::Error("out of memory".into())]));
        match failed.map_err(|u| u.why) {
            Err(Interruption::Failed(e)) => assert!(e.to_string().contains("out of memory")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reader_that_leaves_cancels_and_a_silent_model_meets_the_deadline() {
        let s = stream(vec![
            GenEvent::Delta("General ".into()),
            GenEvent::Delta("Syrsky.".into()),
        ]);
        let left = read(s, Instant::now(), None, &mut |_| false);
        assert!(matches!(
            left.map_err(|u| u.why),
            Err(Interruption::Cancelled)
        ));

        // The sender stays open and says nothing: the deadline ends the wait.
        let (tx, rx) = tokio::sync::mpsc::channel::<GenEvent>(1);
        let began = Instant::now();
        let deadline = Some(began + Duration::from_millis(50));
        let late = read(GenStream::new(rx), began, deadline, &mut |_| true);
        assert!(matches!(
            late.map_err(|u| u.why),
            Err(Interruption::Deadline)
        ));
        assert!(began.elapsed() >= Duration::from_millis(50));

        // A delta sent from another thread wakes the reader.
        let (tx2, rx2) = tokio::sync::mpsc::channel::<GenEvent>(1);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx2.blocking_send(GenEvent::Done(summary())).unwrap();
        });
        let deadline = Some(Instant::now() + Duration::from_secs(10));
        assert!(read(GenStream::new(rx2), Instant::now(), deadline, &mut |_| true).is_ok());
        sender.join().unwrap();
        drop(tx);
    }
}
