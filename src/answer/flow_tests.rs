//! The whole flow ([`Answerer::answer`] over [`super::grounded_answer`]) against a scripted
//! model and a small index: the events and their order, the decline before any model call,
//! the cache, and the one policy for a model that fails, stalls, is busy or loses its reader.
use super::testing::{small_index, Script, Scripted};
use super::{AnswerConfig, AnswerError, AnswerEvent, AnswerRequest, Answerer, Retriever};
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
fn a_busy_model_gives_the_quoted_evidence_at_once_and_it_is_not_kept() {
    let (_dir, model, answerer) = answerer(Script::Busy);
    let (busy, events) = answer_with_events(&answerer, QUESTION, None);
    let busy = busy.unwrap();
    assert!(
        busy.busy && busy.degraded && busy.quoted_evidence,
        "{busy:?}"
    );
    assert!(busy.citations[0].quote.contains("Syrsky"), "{busy:?}");
    assert_eq!(deltas(&events), busy.answer);
    model.set(syrsky());
    let again = answerer.ask(&AnswerRequest::new(QUESTION)).unwrap();
    assert!(!again.busy && !again.cached, "{again:?}");
    assert_eq!(model.calls(), 1);
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

#[test]
fn the_same_question_asked_at_once_is_answered_once_and_streamed_to_both() {
    let slow = Script::Write(
        vec!["General ", "Syrsky ", "[1]."],
        Duration::from_millis(150),
    );
    let (_dir, model, answerer) = answerer(slow);
    let answerer = Arc::new(answerer);
    let askers: Vec<_> = [
        "Who replaced General Zaluzhny as commander?",
        "who replaced general zaluzhny as commander",
    ]
    .into_iter()
    .enumerate()
    .map(|(i, q)| {
        let answerer = answerer.clone();
        std::thread::spawn(move || {
            // The second asks while the first is being answered.
            std::thread::sleep(Duration::from_millis(100 * i as u64));
            answer_with_events(&answerer, q, None)
        })
    })
    .collect();
    let answers: Vec<_> = askers.into_iter().map(|a| a.join().unwrap()).collect();
    assert_eq!(model.calls(), 1, "the model wrote the answer once");
    for (result, events) in &answers {
        let result = result.as_ref().unwrap();
        assert!(result.answer.contains("Syrsky"), "{result:?}");
        assert!(matches!(events.first(), Some(AnswerEvent::Sources { .. })));
        assert_eq!(deltas(events), "General Syrsky [1].");
    }
    let (first, second) = (
        answers[0].0.as_ref().unwrap(),
        answers[1].0.as_ref().unwrap(),
    );
    assert!(!first.cached && second.cached);
    assert_eq!(first.answer, second.answer);
    assert!(answerer_is_idle(&answerer));
}

#[test]
fn a_follower_stays_when_the_first_reader_leaves() {
    let slow = Script::Write(
        vec!["General ", "Syrsky ", "[1]."],
        Duration::from_millis(150),
    );
    let (_dir, model, answerer) = answerer(slow);
    let answerer = Arc::new(answerer);
    let leaver = {
        let answerer = answerer.clone();
        std::thread::spawn(move || {
            answerer.answer(&AnswerRequest::new(QUESTION), None, &mut |e| {
                !matches!(e, AnswerEvent::Delta(_))
            })
        })
    };
    std::thread::sleep(Duration::from_millis(60));
    let (stayed, events) = answer_with_events(&answerer, QUESTION, None);
    assert!(matches!(
        leaver.join().unwrap(),
        Err(AnswerError::Cancelled)
    ));
    let stayed = stayed.unwrap();
    assert!(
        stayed.answer.contains("Syrsky") && !stayed.degraded,
        "{stayed:?}"
    );
    assert_eq!(deltas(&events), "General Syrsky [1].");
    assert_eq!(model.calls(), 1);
    assert!(!model.cancelled.load(Ordering::SeqCst));
}

#[test]
fn a_follower_that_cannot_wait_gets_the_evidence_and_the_answer_goes_on_for_the_cache() {
    let slow = Script::Write(
        vec!["General ", "Syrsky ", "[1]."],
        Duration::from_millis(150),
    );
    let (_dir, model, answerer) = answerer(slow);
    let answerer = Arc::new(answerer);
    let leader = {
        let answerer = answerer.clone();
        std::thread::spawn(move || answer_with_events(&answerer, QUESTION, None))
    };
    std::thread::sleep(Duration::from_millis(100));
    // A plain request for the same question, which waits for it until 50 ms from now.
    let until = Some(Instant::now() + Duration::from_millis(50));
    let quoted = answerer
        .answer_waiting(&AnswerRequest::new(QUESTION), None, until, &mut |_| true)
        .unwrap();
    assert!(
        quoted.busy && quoted.degraded && quoted.quoted_evidence && !quoted.cached,
        "{quoted:?}"
    );
    assert!(quoted.citations[0].quote.contains("Syrsky"), "{quoted:?}");
    // Its evidence is the leader's retrieval, kept: none of its own.
    assert_eq!(quoted.timings.retrieval_ms, 0.0);
    // The leader's reader gets the written answer, and so does the next asker, from the cache.
    let (written, _) = leader.join().unwrap();
    let written = written.unwrap();
    assert!(
        !written.degraded && written.answer.contains("Syrsky"),
        "{written:?}"
    );
    let again = answerer.ask(&AnswerRequest::new(QUESTION)).unwrap();
    assert!(again.cached && !again.busy, "{again:?}");
    assert_eq!(model.calls(), 1, "the model wrote the answer once");
    assert!(answerer_is_idle(&answerer));
}

#[test]
fn a_question_asked_before_while_the_model_was_busy_can_be_quoted_at_once() {
    let (_dir, model, answerer) = answerer(Script::Busy);
    let request = AnswerRequest::new(QUESTION);
    assert!(!answerer.asked_before(&request));
    let busy = answerer.ask(&request).unwrap();
    assert!(busy.busy, "{busy:?}");
    // Asked before, not answered by the model yet: its evidence is kept, quoted at once.
    assert!(answerer.asked_before(&request));
    let quoted = answerer.quoted_now(&request).unwrap();
    assert!(
        quoted.busy && quoted.citations[0].quote.contains("Syrsky"),
        "{quoted:?}"
    );
    assert_eq!(quoted.timings.retrieval_ms, 0.0);
    // Once the model has written it, the cache answers: nothing to quote.
    model.set(syrsky());
    assert!(!answerer.ask(&request).unwrap().busy);
    assert!(!answerer.asked_before(&request));
    // A follow-up in a conversation is one reader's: its retrieval is not kept.
    let follow_up = AnswerRequest {
        history: vec![crate::llm::ChatMessage::user("Who is Zaluzhny?")],
        ..AnswerRequest::new(QUESTION)
    };
    answerer.ask(&follow_up).unwrap();
    assert!(!answerer.asked_before(&follow_up));
}

fn answerer_is_idle(answerer: &Answerer) -> bool {
    answerer.in_flight_answers() == 0
}

#[test]
fn a_passage_read_whole_is_cited_at_the_sentence_holding_the_answer() {
    let (_dir, index) = small_index();
    let model = Scripted::new(Script::Write(vec!["Istanbul"], Duration::ZERO));
    let config = AnswerConfig {
        evidence_sentences: 1,
        model_sentences: 1,
        passage_below_coverage: 1.01,
        passages_read: 1,
        ..AnswerConfig::default()
    };
    let retriever = Arc::new(Retriever::new(index, config));
    let request = AnswerRequest::new("Where do ships from the grain exports harbour Odesa go?");
    let prepared = retriever.prepare(&request).unwrap();
    // The best sentence is shown; the reader reads it first, then the rest of its passage
    // (here the whole short article) in the article's order.
    assert_eq!(prepared.shown, 1, "{prepared:?}");
    assert!(prepared.evidence[0].quote.contains("Odesa"));
    let read = read_quotes(&prepared);
    assert_eq!(
        read,
        [
            "The harbour of Odesa handles most of the grain exports.",
            "General Syrsky replaced General Zaluzhny as commander in February.",
            "Zaluzhny had led the defence of Kyiv for two years.",
            "Ships leave it every day for Istanbul."
        ]
    );
    let answerer = Answerer::new(retriever, model);
    let (result, events) = answer_with_events(&answerer, &request.question, None);
    let result = result.unwrap();
    // Before the answer only the shown evidence went out; the answer cites the sentence it
    // came from (the read passage's fourth sentence), added to the shown evidence and
    // numbered on.
    match events.first() {
        Some(AnswerEvent::Sources { evidence, .. }) => assert_eq!(evidence.len(), 1),
        other => panic!("the sources come first: {other:?}"),
    }
    assert_eq!(result.answer, "Istanbul [2].");
    assert_eq!(result.evidence.len(), 2);
    assert_eq!(result.citations.len(), 1);
    assert_eq!(result.citations[0].number, 2);
    assert!(result.citations[0].quote.contains("Istanbul"));
}

#[test]
fn the_reader_reads_the_best_sentence_then_the_two_best_passages_in_the_articles_order() {
    let (_dir, index) = small_index();
    let config = AnswerConfig {
        evidence_sentences: 1,
        model_sentences: 1,
        passage_below_coverage: 1.01,
        passages_read: 2,
        ..AnswerConfig::default()
    };
    let retriever = Retriever::new(index, config);
    let prepared = retriever
        .prepare(&AnswerRequest::new(
            "Which bakery in Lyon bakes loaves for the ships to Istanbul?",
        ))
        .unwrap();
    let read = read_quotes(&prepared);
    // The best sentence (the bakery's opening) and the one after it that refers back to it
    // first, then the rest of the best passage (none left) and the next one (the war
    // article's), whole and in its article's order; every sentence once.
    assert_eq!(
        read,
        [
            "The bakery opened in 1921 on the Rue Merciere in Lyon.",
            "It bakes four hundred loaves every morning.",
            "General Syrsky replaced General Zaluzhny as commander in February.",
            "Zaluzhny had led the defence of Kyiv for two years.",
            "The harbour of Odesa handles most of the grain exports.",
            "Ships leave it every day for Istanbul."
        ],
        "{prepared:?}"
    );
    // Only the best sentence is shown before the answer.
    assert_eq!(prepared.shown, 1);
}

/// The sentences the reader reads, in reading order.
fn read_quotes(prepared: &crate::answer::Prepared) -> Vec<&str> {
    prepared
        .read_evidence()
        .iter()
        .map(|e| e.quote.as_str())
        .collect()
}
