//! Suggested questions: verified, answered from their stored answers, offered after answers,
//! and readers' own questions becoming suggestions.
use super::*;

#[test]
fn suggestions_are_verified_and_answered_from_their_stored_answer() {
    let f = fixture();
    let store = f.answerer.suggestions().unwrap();
    let seed_id = f.answerer.index().articles()[0].id.clone();
    let list = store.for_article(&seed_id, 6);
    assert!(
        list.len() >= 4,
        "only {} suggestions for the seed article",
        list.len()
    );
    for s in &list {
        assert!(related::well_formed(&s.question).is_ok(), "{}", s.question);
        assert!(related::invented(&s.question, f.answerer.index()).is_none());
        assert!(!s.answer.declined, "{}", s.question);
    }
    // At most two generic templates, unless nothing else is left to fill a short list.
    let generic = list.iter().filter(|s| s.is_generic()).count();
    assert!(
        generic <= related::rank::MAX_GENERIC || list.len() <= related::rank::MIN_LIST,
        "{generic} generic suggestions of {}",
        list.len()
    );
    // A model's question is answered from the sentence it was made from.
    for s in list.iter().filter(|s| s.source == related::Source::Model) {
        assert!(
            answered_from_its_sentence(s),
            "{} is answered from another sentence",
            s.question
        );
    }
    // No two on the same sentence or focus.
    for (i, a) in list.iter().enumerate() {
        for b in &list[i + 1..] {
            assert!(a.sentence != b.sentence && a.focus != b.focus);
        }
    }
    // Asking a suggestion answers from the stored answer, without calling the model.
    let before = f.calls.load(Ordering::SeqCst);
    let r = ask(&f, &list[0].question);
    assert_eq!(
        f.calls.load(Ordering::SeqCst),
        before,
        "the model was called"
    );
    assert!(r.precomputed);
    assert_eq!(r.answer, list[0].answer.answer);
    // Its follow-ups never repeat the question just asked.
    let norm = ama::text::normalise(&list[0].question);
    assert!(r.related.iter().all(|q| ama::text::normalise(q) != norm));
}

#[test]
fn related_questions_follow_an_answer_and_a_decline() {
    let f = fixture();
    let r = ask(&f, "Who replaced General Zaluzhny?");
    assert!(
        !r.related.is_empty() && r.related.len() <= 4,
        "{:?}",
        r.related
    );
    let asked = ama::text::normalise("Who replaced General Zaluzhny?");
    assert!(r.related.iter().all(|q| ama::text::normalise(q) != asked));
    let unique: std::collections::HashSet<_> = r.related.iter().collect();
    assert_eq!(unique.len(), r.related.len());
    let declined = ask(&f, "What is the capital of France?");
    assert!(declined.declined);
    assert!(
        !declined.related.is_empty(),
        "a decline must offer answerable questions"
    );
}

#[test]
fn the_question_check_rejects_invented_facts_and_dangling_pronouns() {
    let f = fixture();
    let index = f.answerer.index();
    assert_eq!(
        related::invented("What happened in Kursk in 1997?", index),
        Some("1997".to_string())
    );
    assert_eq!(
        related::invented("Who is General Petrov in Kursk?", index),
        Some("petrov".to_string())
    );
    assert!(related::well_formed("Why did he replace General Zaluzhny?").is_err());
    assert!(related::well_formed("Who replaced General Zaluzhny?").is_ok());
    assert!(related::invented("Who replaced General Zaluzhny?", index).is_none());
}

#[test]
fn readers_answered_questions_become_verified_suggestions() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let log = ama::store::Store::sqlite_in(dir.path()).unwrap();
    let question =
        AnswerRequest::new("What is the explicit goal of the North Korean reinforcements?");
    let answered = f.answerer.ask(&question).unwrap();
    assert!(!answered.declined && !answered.precomputed);
    assert!(related::suggestable(&question, &answered));
    log.record(&question, &answered);
    // Declined questions and follow-ups are recorded (for the editors' report) but are not
    // offered.
    let off_topic = AnswerRequest::new("What is the capital of France?");
    let declined = f.answerer.ask(&off_topic).unwrap();
    assert!(!related::suggestable(&off_topic, &declined));
    log.record(&off_topic, &declined);
    let follow_up = AnswerRequest {
        history: vec![ChatMessage::user("Who leads Russia?")],
        ..question.clone()
    };
    assert!(!related::suggestable(&follow_up, &answered));
    log.record(&follow_up, &answered);
    // Questions recorded earlier: one whose first answer was wrong, one the articles do not
    // answer, and one asked in 1970, too old to offer.
    let earlier = |q: &str, answer: &str, at: i64| {
        log.record_question_at(
            ama::store::QuestionEvent {
                question: q.into(),
                suggestable: true,
                answer: answer.into(),
                ..Default::default()
            },
            at,
        )
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    earlier(
        "Who replaced General Zaluzhny as commander?",
        "Vladimir Putin replaced him [1].",
        now + 1,
    );
    earlier("What is the capital city of France today?", "", now + 2);
    earlier("Who led the defense of Kyiv and Kherson?", "", 1);
    assert!(log.flush(std::time::Duration::from_secs(10)));
    assert_eq!(log.report(10).unwrap().questions, 6);

    let mut store = SuggestionStore::default();
    store.add_reader_questions(f.answerer.retriever(), &log);
    drop(log);
    let readers: Vec<String> = store
        .all()
        .filter(|s| s.source == related::Source::Reader)
        .map(|s| s.question.clone())
        .collect();
    assert_eq!(
        readers,
        vec![
            "Who replaced General Zaluzhny as commander?".to_string(),
            answered.question.clone()
        ]
    );
    let reader_yield = &store.yields.sources[&related::Source::Reader];
    assert_eq!((reader_yield.candidates, reader_yield.kept), (3, 2));
    assert_eq!(
        reader_yield.rejected.values().sum::<usize>(),
        1,
        "{reader_yield:?}"
    );

    // Clicked, a reader's question is answered by the pipeline as it is now: the logged
    // first answer is never served.
    let answerer = Answerer::new(f.answerer.retriever().clone(), f.answerer.model().clone())
        .with_suggestions(Arc::new(store));
    let clicked = answerer
        .ask(&AnswerRequest::new(
            "Who replaced General Zaluzhny as commander?",
        ))
        .unwrap();
    assert!(!clicked.precomputed, "{clicked:?}");
    assert!(!clicked.answer.contains("Putin"), "{}", clicked.answer);
    assert!(clicked.answer.contains("Syrsky"), "{}", clicked.answer);
}
