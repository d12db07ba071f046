//! The store end to end on SQLite, and a PostgreSQL that is not there.
use std::time::Duration;

use super::open::redact;
use super::*;

#[test]
fn questions_and_feedback_are_written_read_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite_in(dir.path()).unwrap();
    store.migrate().unwrap();
    for (question, declined) in [
        ("Who replaced Zaluzhny?", false),
        ("who replaced  Zaluzhny", false),
        ("What is the weather?", true),
    ] {
        store.record_question(QuestionEvent {
            question: question.into(),
            declined,
            suggestable: !declined,
            answer: "General Syrsky [1].".into(),
            ..QuestionEvent::default()
        });
    }
    store.record_feedback(FeedbackEvent {
        question: "Who replaced Zaluzhny?".into(),
        answer: "Wrong [1].".into(),
        useful: false,
        comment: Some("it was Syrsky".into()),
    });
    assert!(store.flush(Duration::from_secs(10)));
    assert_eq!(store.status().state, "up");
    assert_eq!(store.status().written, 4);

    let recent = store.recent_questions(10, 0).unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].question, "who replaced  Zaluzhny");

    let report = store.report(10).unwrap();
    assert_eq!(report.questions, 3);
    assert_eq!(report.most_asked[0].count, 2, "{report:?}");
    assert_eq!(report.declined.len(), 1);
    assert_eq!(report.declined[0].question, "What is the weather?");
    assert_eq!(report.not_useful[0].count, 1);
    assert_eq!(
        report.not_useful[0].comment.as_deref(),
        Some("it was Syrsky")
    );

    // Reopened: the migrations are not run twice, and the rows are there.
    drop(store);
    let again = Store::sqlite_in(dir.path()).unwrap();
    assert_eq!(again.report(10).unwrap().questions, 3);
}

#[test]
fn a_database_that_is_down_holds_the_writes_and_says_so() {
    // Nothing listens on port 9 of loopback. A connection is given up on after 200 ms
    // instead of the default 3 s: each attempt fails at once, the wait is all there is.
    let options = StoreOptions {
        connect_timeout: Duration::from_millis(200),
    };
    let store = Store::open_with("postgres://ama@127.0.0.1:9/ama", options).unwrap();
    store.record_question(QuestionEvent {
        question: "Who?".into(),
        ..QuestionEvent::default()
    });
    assert!(!store.flush(Duration::from_secs(5)));
    let status = store.status();
    assert_eq!(status.state, "down", "{status:?}");
    assert_eq!(status.pending, 1);
    assert!(status.last_error.is_some());
    assert!(store.recent_questions(5, 0).is_err());
    assert!(matches!(Store::open("mysql://x"), Err(StoreError::Url(_))));
    assert_eq!(
        redact("postgres://ama:secret@db/ama"),
        "postgres://ama:***@db/ama"
    );
}
