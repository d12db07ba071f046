//! The whole flow ([`Answerer::answer`] over [`super::grounded_answer`]) against a scripted
//! model and a small index: the events and their order, the decline before any model call,
//! the cache, and the one policy for a model that fails, stalls, is busy or loses its reader.
use super::testing::{small_index, Script, Scripted};
use super::{AnswerConfig, AnswerError, AnswerEvent, AnswerRequest, Answerer, Retriever};
use crate::llm::LlmError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const QUESTION: &str = "Who replaced General Zaluzhny as commander?";

fn answerer(script: Script) -> (tempfile::TempDir, Arc<Scripted>, Answerer) {
    let (dir, index) = small_index();
    let model = Scripted::new(script);
    let retriever = Arc::new(Retriever::new(index, AnswerConfig::default()));
    let answerer = Answerer::new(retriever, model.clone()).with_cache(8);
    (dir, model, answerer)
}

fn syrsky() -> Script {
    Script::Write(vec!["General ", "Syrsky ", "[1]."], Duration::ZERO)
}

/// The result and the events it was announced with.
fn answer_with_events(
    answerer: &Answerer,
    question: &str,
    deadline: Option<Instant>,
) -> (Result<super::AnswerResult, AnswerError>, Vec<AnswerEvent>) {
    let mut events = Vec::new();
    let result = answerer.answer(&AnswerRequest::new(question), deadline, &mut |e| {
        events.push(e);
        true
    });
    (result, events)
}

fn deltas(events: &[AnswerEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            AnswerEvent::Delta(d) => Some(d.as_str()),
            AnswerEvent::Sources { .. } => None,
        })
        .collect()
}

#[test]
fn sources_come_first_then_the_draft_and_the_answer_cites_its_evidence() {
    let (_dir, model, answerer) = answerer(syrsky());
    let (result, events) = answer_with_events(&answerer, QUESTION, None);
    let result = result.unwrap();
    match events.first() {
        Some(AnswerEvent::Sources { evidence, query }) => {
            assert!(evidence[0].quote.contains("Syrsky"), "{evidence:?}");
            assert_eq!(query, QUESTION);
        }
        other => panic!("the sources come first: {other:?}"),
    }
    assert_eq!(deltas(&events), "General Syrsky [1].");
    assert_eq!(result.draft, "General Syrsky [1].");
    assert!(!result.declined && !result.degraded, "{result:?}");
    assert!(result.answer.contains("Syrsky"), "{}", result.answer);
    assert!(result.citations[0].quote.contains("Syrsky"));
    assert_eq!(result.tokens.completion, 3);
    assert_eq!(model.calls(), 1);

    // Asked again (in other case and spacing), it comes from the cache: no second call.
    let (again, events) = answer_with_events(
        &answerer,
        "who replaced general zaluzhny as commander ?",
        None,
    );
    let again = again.unwrap();
    assert!(again.cached, "{again:?}");
    assert_eq!(again.answer, result.answer);
    assert!(matches!(events.first(), Some(AnswerEvent::Sources { .. })));
    assert_eq!(deltas(&events), result.answer);
    assert_eq!(model.calls(), 1);
}

#[test]
fn a_question_the_articles_do_not_answer_is_declined_before_the_model() {
    let (_dir, model, answerer) = answerer(syrsky());
    let (result, events) =
        answer_with_events(&answerer, "What is the boiling point of ethanol?", None);
    let result = result.unwrap();
    assert!(result.declined, "{result:?}");
    assert!(result.decline_reason.is_some());
    assert_eq!(result.answer, super::DECLINE_TEXT);
    assert_eq!(deltas(&events), super::DECLINE_TEXT);
    assert_eq!(model.calls(), 0);
}

#[test]
fn a_model_that_stops_early_gives_the_quoted_evidence_and_is_not_cached() {
    let (_dir, model, answerer) = answerer(Script::CutOff("General "));
    let (result, events) = answer_with_events(&answerer, QUESTION, None);
    let result = result.unwrap();
    assert!(result.degraded && result.quoted_evidence, "{result:?}");
    assert!(result.answer.starts_with('“'), "{}", result.answer);
    assert!(result.citations[0].quote.contains("Syrsky"));
    // What was streamed is replaced.
    assert_eq!(deltas(&events), "General ");
    assert!(result.revised);
    // Once the model is back, the question gets a real answer.
    model.set(syrsky());
    let (again, _) = answer_with_events(&answerer, QUESTION, None);
    let again = again.unwrap();
    assert!(!again.degraded && !again.cached, "{again:?}");
    assert_eq!(model.calls(), 2);
}

#[test]
fn a_model_still_writing_at_the_deadline_gives_the_quoted_evidence() {
    let slow = Script::Write(vec!["General ", "Syrsky"], Duration::from_secs(3));
    let (_dir, _model, answerer) = answerer(slow);
    let began = Instant::now();
    let (result, _) = answer_with_events(
        &answerer,
        QUESTION,
        Some(began + Duration::from_millis(100)),
    );
    let result = result.unwrap();
    assert!(result.degraded, "{result:?}");
    assert!(result.answer.starts_with('“'), "{}", result.answer);
    // It did not wait for the model's first word.
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn a_busy_model_is_an_error_and_a_question_it_need_not_read_is_still_answered() {
    let (_dir, model, answerer) = answerer(Script::Busy);
    let busy = answerer.ask(&AnswerRequest::new(QUESTION));
    assert!(
        matches!(busy, Err(AnswerError::Model(LlmError::Busy))),
        "{busy:?}"
    );
    let declined = answerer
        .ask(&AnswerRequest::new("What is the boiling point of ethanol?"))
        .unwrap();
    assert!(declined.declined);
    assert_eq!(model.calls(), 0);
}

#[test]
fn a_reader_that_leaves_cancels_the_generation() {
    let slow = Script::Write(
        vec!["General ", "Syrsky ", "[1]."],
        Duration::from_millis(30),
    );
    let (_dir, model, answerer) = answerer(slow);
    let result = answerer.answer(&AnswerRequest::new(QUESTION), None, &mut |e| {
        !matches!(e, AnswerEvent::Delta(_))
    });
    assert!(matches!(result, Err(AnswerError::Cancelled)), "{result:?}");
    let waited = Instant::now();
    while !model.cancelled.load(Ordering::SeqCst) {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "the model went on writing"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_unknown_article_is_an_error() {
    let (_dir, _model, answerer) = answerer(syrsky());
    let request = AnswerRequest {
        article: Some("no-such-article".into()),
        ..AnswerRequest::new(QUESTION)
    };
    let err = answerer.ask(&request).unwrap_err();
    assert!(matches!(err, AnswerError::UnknownArticle(_)), "{err:?}");
}
