//! The answer pipeline on the seed article with the real model.
use ama::answer::question_kind::Asked;
use ama::answer::related::{self, QuestionLog, StoreOptions, SuggestionStore};
use ama::answer::{AnswerConfig, AnswerEvent, AnswerRequest, Answerer, Retriever};
use ama::assemble::{assemble, Config, ModelSource};
use ama::bench::retrieval::read_questions;
use ama::index::{self, IndexOptions};
use ama::llm::{
    self, ChatMessage, EngineOptions, GenStream, GenerateParams, LanguageModel, LlmError, Role,
    WorkerOptions,
};
use ama::text::contains_normalised;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Fixture {
    answerer: Answerer,
    calls: Arc<AtomicUsize>,
    _data: tempfile::TempDir,
}

/// The real model, counting the generations asked of it.
struct Counting {
    inner: Arc<dyn LanguageModel>,
    calls: Arc<AtomicUsize>,
}

impl LanguageModel for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerateParams,
    ) -> Result<GenStream, LlmError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.generate(messages, params)
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn context_length(&self) -> usize {
        self.inner.context_length()
    }
}

/// The fixture, borrowed by one test at a time with the suite's heavy lock.
struct Borrowed {
    fixture: MutexGuard<'static, Fixture>,
    _heavy: MutexGuard<'static, ()>,
}

impl std::ops::Deref for Borrowed {
    type Target = Fixture;
    fn deref(&self) -> &Fixture {
        &self.fixture
    }
}

/// One index and one model for the whole test binary, used by one test at a time (parallel
/// generations would only fight over the two cores).
fn fixture() -> Borrowed {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    let heavy = crate::common::heavy();
    let cell = FIXTURE.get_or_init(|| {
        let data = tempfile::tempdir().unwrap();
        let (index, _) =
            index::ensure_index(&repo().join("seeds"), data.path(), &IndexOptions::default())
                .unwrap();
        let path = ama::fetch::ensure_smollm2(&repo().join("models"))
            .unwrap_or_else(|e| panic!("the default model is needed: {e}"));
        let model = llm::load_model(&path, &EngineOptions::default(), WorkerOptions::default())
            .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
        let calls = Arc::new(AtomicUsize::new(0));
        let model: Arc<dyn LanguageModel> = Arc::new(Counting {
            inner: model,
            calls: calls.clone(),
        });
        let retriever = Arc::new(Retriever::new(
            Arc::new(index),
            AnswerConfig::for_model(model.name()),
        ));
        let articles: Vec<_> = retriever.index().articles().iter().collect();
        // The run's shared cache: the same entries the test servers use.
        let options = StoreOptions {
            cache_dir: crate::common::suggestions_cache(),
            use_model: true,
            prune_stale: false,
            read_only: false,
        };
        let store = SuggestionStore::build(
            &retriever,
            model.as_ref(),
            &articles,
            &options,
            &Default::default(),
        );
        let answerer = Answerer::new(retriever, model).with_suggestions(Arc::new(store));
        Mutex::new(Fixture {
            answerer,
            calls,
            _data: data,
        })
    });
    Borrowed {
        fixture: cell.lock().unwrap_or_else(|p| p.into_inner()),
        _heavy: heavy,
    }
}

fn ask(f: &Fixture, question: &str) -> ama::answer::AnswerResult {
    f.answerer.ask(&AnswerRequest::new(question)).unwrap()
}

#[test]
fn a_right_answer_cites_the_supporting_sentence() {
    let f = fixture();
    let r = ask(&f, "Who replaced General Zaluzhny?");
    assert!(!r.declined);
    assert!(r.answer.contains("Syrsky"), "{}", r.answer);
    assert!(r.answer.contains("[1]"), "{}", r.answer);
    let c = &r.citations[0];
    let article = f.answerer.index().article(&c.article_id).unwrap();
    let highlighted = &article.text[c.highlight.clone()];
    assert_eq!(highlighted, c.quote);
    assert!(
        highlighted.contains("was replaced by the seasoned General Syrsky"),
        "{highlighted}"
    );
    // The highlight lies inside the cited passage.
    assert!(c.passage_range.start <= c.highlight.start && c.highlight.end <= c.passage_range.end);
    assert_eq!(&article.text[c.passage_range.clone()], c.passage_text);
    assert!(r.timings.ttft_ms > 0.0 && r.timings.total_ms >= r.timings.ttft_ms);
    assert!(r.tokens.prompt > 0 && r.tokens.completion > 0);
}

#[test]
fn an_off_topic_question_is_declined_without_calling_the_model() {
    let f = fixture();
    for q in [
        "What is the capital of France?",
        "How do I bake sourdough bread?",
    ] {
        let r = ask(&f, q);
        assert!(r.declined, "{q}: {}", r.answer);
        assert!(r.decline_reason.is_some());
        assert!(r.citations.is_empty());
        assert_eq!(r.tokens.completion, 0, "the model was called for {q}");
    }
}

#[test]
fn a_question_naming_what_the_articles_never_mention_is_declined() {
    let f = fixture();
    // Near the article in topic and words, but about someone it never names.
    let r = ask(&f, "What did Angela Merkel say about the Kursk incursion?");
    assert!(r.declined, "{}", r.answer);
    let why = r.decline_reason.clone().unwrap_or_default();
    assert!(why.contains("never mention Angela Merkel"), "{why}");
    assert_eq!(r.tokens.completion, 0);
    // The same question about someone it names is answered.
    let r = ask(&f, "Who did General Syrsky replace?");
    assert!(!r.declined, "{r:?}");
}

#[test]
fn a_follow_up_is_resolved_through_the_history() {
    let f = fixture();
    let first = ask(&f, "Where did General Zaluzhny lead Ukraine's defense?");
    let history = vec![
        ChatMessage::new(Role::User, first.question.clone()),
        ChatMessage::new(Role::Assistant, first.answer.clone()),
    ];
    let r = f
        .answerer
        .ask(&AnswerRequest {
            question: "Who replaced him?".into(),
            history,
            article: None,
        })
        .unwrap();
    assert!(!r.declined, "{r:?}");
    assert!(r.query.to_lowercase().contains("zaluzhny"), "{}", r.query);
    assert!(
        r.evidence
            .iter()
            .any(|e| e.quote.contains("General Syrsky")),
        "{:?}",
        r.evidence
    );
}

#[test]
fn streaming_sends_sources_first_and_deltas_that_make_the_draft() {
    let f = fixture();
    let mut events = Vec::new();
    let r = f
        .answerer
        .answer(
            &AnswerRequest {
                question: "Which port does Russia consider non-negotiable?".into(),
                ..AnswerRequest::default()
            },
            None,
            &mut |e| {
                events.push(e);
                true
            },
        )
        .unwrap();
    assert!(
        matches!(events.first(), Some(AnswerEvent::Sources { evidence, .. }) if !evidence.is_empty())
    );
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            AnswerEvent::Delta(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, r.draft);
    assert!(r.answer.contains("Mariupol") || r.evidence[0].quote.contains("Mariupol"));
}

#[test]
fn an_unknown_article_is_an_error() {
    let f = fixture();
    let err = f
        .answerer
        .ask(&AnswerRequest {
            question: "Who replaced General Zaluzhny?".into(),
            article: Some("no-such-article".into()),
            ..AnswerRequest::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("no-such-article"));
}

/// What the seed question set gives: answers right, right in answer or evidence, answerable
/// ones declined, answerable questions, off-topic ones, off-topic ones declined.
struct SeedFigures {
    right: usize,
    with_evidence: usize,
    declined_answerable: usize,
    answerable: usize,
    off: usize,
    off_declined: usize,
}

fn seed_set(answerer: &Answerer) -> SeedFigures {
    let questions = read_questions(Path::new(&repo().join("tests/seed_questions.jsonl"))).unwrap();
    let mut f = SeedFigures {
        right: 0,
        with_evidence: 0,
        declined_answerable: 0,
        answerable: 0,
        off: 0,
        off_declined: 0,
    };
    for q in &questions {
        let r = answerer
            .ask(&AnswerRequest::new(q.question.as_str()))
            .unwrap();
        if q.answerable {
            f.answerable += 1;
            let in_answer = q.answers.iter().any(|g| contains_normalised(&r.answer, g));
            let in_evidence = q
                .answers
                .iter()
                .any(|g| r.evidence.iter().any(|e| contains_normalised(&e.quote, g)));
            f.right += usize::from(in_answer && !r.declined);
            f.with_evidence += usize::from((in_answer || in_evidence) && !r.declined);
            f.declined_answerable += usize::from(r.declined);
            if !in_answer {
                eprintln!("miss: {} → {} (gold {:?})", q.question, r.answer, q.answers);
            }
        } else {
            f.off += 1;
            f.off_declined += usize::from(r.declined);
        }
    }
    eprintln!(
        "seed set ({}): {}/{} answers right, {}/{} right in answer or evidence, {} wrongly declined; off-topic declined {}/{}",
        answerer.model().name(),
        f.right,
        f.answerable,
        f.with_evidence,
        f.answerable,
        f.declined_answerable,
        f.off_declined,
        f.off
    );
    assert!(f.answerable >= 25 && f.off >= 5);
    f
}

/// The seed question set (tests/seed_questions.jsonl): 27 questions with expected answers
/// and 5 off-topic ones, with the small reader (SmolLM2). Prints the figures; fails if quality
/// regresses below the floor.
#[test]
fn the_seed_question_set() {
    let fixture = fixture();
    let f = seed_set(&fixture.answerer);
    assert_eq!(f.off_declined, f.off);
    assert!(
        f.declined_answerable <= 2,
        "{} answerable declined",
        f.declined_answerable
    );
    assert!(
        f.with_evidence + 3 >= f.answerable,
        "{}/{}",
        f.with_evidence,
        f.answerable
    );
    assert!(
        f.right * 10 >= f.answerable * 7,
        "{}/{}",
        f.right,
        f.answerable
    );
}

/// The seed article indexed with sentence vectors, and the default reader (Qwen2.5-Coder-0.5B)
/// with its default settings; the folder holds the index.
fn default_reader() -> (tempfile::TempDir, Arc<Retriever>, Arc<dyn LanguageModel>) {
    default_reader_over(&repo().join("seeds"))
}

/// [`default_reader`] over the articles of `corpus`, assembled as the product does (without
/// suggestions).
fn default_reader_over(
    corpus: &Path,
) -> (tempfile::TempDir, Arc<Retriever>, Arc<dyn LanguageModel>) {
    let data = tempfile::tempdir().unwrap();
    let path = crate::common::llm_harness::default_reader();
    let config = Config {
        corpus: corpus.to_path_buf(),
        data: data.path().to_path_buf(),
        models_dir: repo().join("models"),
        model: ModelSource::Local {
            model: Some(path.to_string_lossy().into_owned()),
            engine: EngineOptions::default(),
            worker: WorkerOptions::default(),
        },
        suggest_articles: Some(0),
        ..Config::default()
    };
    let answerer = assemble(&config, None, &Default::default())
        .unwrap_or_else(|e| panic!("assembling the default reader: {e}"));
    let retriever = answerer.retriever().clone();
    assert_eq!(
        retriever.config().prompt,
        ama::answer::prompt::PromptStyle::Phrase
    );
    assert!(retriever.embedder().is_some());
    (data, retriever, answerer.model().clone())
}

/// A follow-up's pronoun is read as what the flow's own previous answer named: "How many
/// packages did it get?" after "Setanta Sports" is read "… did Setanta Sports get?". Read
/// as typed, the reader answers "Six" (the packages on offer) from the same sentence.
#[test]
fn a_follow_ups_pronoun_is_read_as_what_the_previous_answer_named() {
    let _heavy = crate::common::heavy();
    let corpus = tempfile::tempdir().unwrap();
    let article = "sky-united-kingdom.txt";
    std::fs::copy(
        repo().join("../shared/bench/squad/articles").join(article),
        corpus.path().join(article),
    )
    .unwrap();
    let (_data, retriever, model) = default_reader_over(corpus.path());
    let answerer = Answerer::new(retriever, model);
    let first = answerer
        .ask(&AnswerRequest::new(
            "Which Irish broadcaster was awarded Premier League packages in May 2006?",
        ))
        .unwrap();
    assert!(first.answer.contains("Setanta"), "{first:?}");
    let follow_up = AnswerRequest {
        question: "How many packages did it get?".into(),
        history: vec![
            ChatMessage::user(first.question.clone()),
            ChatMessage::new(Role::Assistant, first.answer.clone()),
        ],
        article: None,
    };
    let r = answerer.ask(&follow_up).unwrap();
    assert!(!r.declined, "{r:?}");
    assert!(
        r.answer.to_lowercase().contains("two"),
        "{} (draft {:?})",
        r.answer,
        r.draft
    );
    assert!(r.query.contains("Setanta"), "{}", r.query);
}

/// The same set with the default reader and the default hybrid index: it answers with the
/// shortest phrase of its evidence, and its "not stated" declines.
#[test]
fn the_seed_question_set_with_the_default_reader() {
    let _heavy = crate::common::heavy();
    let (_data, retriever, model) = default_reader();
    let answerer = Answerer::new(retriever, model);
    let f = seed_set(&answerer);
    assert_eq!(f.off_declined, f.off);
    assert!(
        f.declined_answerable <= 1,
        "{} answerable declined",
        f.declined_answerable
    );
    // Measured: 26 of 27 right (SmolLM2: 21).
    assert!(f.right + 2 >= f.answerable, "{}/{}", f.right, f.answerable);
}

/// The default reader's list for the seed article: 8 questions, most written by the reader,
/// at most 2 generic templates, each of the reader's answered from the sentence it was made
/// from and asking for the kind of answer its stored answer gives.
#[test]
fn the_default_reader_suggests_specific_questions_for_the_seed_article() {
    let _heavy = crate::common::heavy();
    let (_data, retriever, model) = default_reader();
    let articles: Vec<_> = retriever.index().articles().iter().collect();
    let options = StoreOptions {
        cache_dir: crate::common::suggestions_cache(),
        use_model: true,
        prune_stale: false,
        read_only: false,
    };
    let store = SuggestionStore::build(
        &retriever,
        model.as_ref(),
        &articles,
        &options,
        &Default::default(),
    );
    let list = store.for_article(&articles[0].id, related::rank::ARTICLE_LIST);
    let questions: Vec<&str> = list.iter().map(|s| s.question.as_str()).collect();
    assert_eq!(list.len(), related::rank::ARTICLE_LIST, "{questions:#?}");
    let generic = list.iter().filter(|s| s.is_generic()).count();
    assert!(generic <= related::rank::MAX_GENERIC, "{questions:#?}");
    let written = list
        .iter()
        .filter(|s| s.source == related::Source::Model)
        .count();
    // Measured: 6 on AVX-512 (the focus a template shares with a written question is a
    // clash; two written questions from different sentences may share one). Other kernels
    // round differently and the reader's questions differ a little.
    assert!(written >= 4, "{questions:#?}");
    for s in list.iter().filter(|s| s.source == related::Source::Model) {
        assert!(!s.answer.declined, "{}", s.question);
        // None places a name where its source does not ("… Mariupol in Russia?").
        let source = &articles[0].text[s.sentence.clone()];
        assert_eq!(
            related::premise::misplaced(&s.question, source),
            None,
            "{}",
            s.question
        );
        assert!(
            s.answer
                .citations
                .iter()
                .any(|e| e.article_id == s.article_id
                    && e.highlight.start <= s.sentence.start
                    && s.sentence.end <= e.highlight.end),
            "{} is answered from another sentence",
            s.question
        );
        // "When", "How many" and "How long" questions are answered with a number or a date.
        if matches!(
            ama::answer::question_kind::asks_for(&s.question),
            Some(Asked::Time | Asked::Quantity | Asked::Duration)
        ) {
            assert!(
                s.answer.answer.chars().any(|c| c.is_ascii_digit())
                    || ama::answer::question_kind::is_time(&s.answer.answer),
                "{} → {}",
                s.question,
                s.answer.answer
            );
        }
    }
}

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
            s.answer
                .citations
                .iter()
                .any(|e| e.article_id == s.article_id
                    && e.highlight.start <= s.sentence.start
                    && s.sentence.end <= e.highlight.end),
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

/// One error policy: a model whose stream ends without saying it is done never gives an
/// answer built from half a draft: the flow streams what it got, then answers with the
/// quoted evidence, marked degraded.
#[test]
fn a_stream_that_ends_early_is_an_error_not_an_answer() {
    let f = fixture();
    let cut = Arc::new(CutOff {
        inner: f.answerer.model().clone(),
    });
    let answerer = Answerer::new(f.answerer.retriever().clone(), cut);
    let request = AnswerRequest::new("Who replaced General Zaluzhny?");
    // The whole flow degrades: the evidence, quoted and cited, nothing of the half draft.
    let degraded = answerer.ask(&request).unwrap();
    assert!(degraded.degraded, "{degraded:?}");
    assert!(degraded.quoted_evidence && !degraded.citations.is_empty());
    assert!(degraded.answer.starts_with('“'), "{}", degraded.answer);
    // The half draft was streamed, and the result says it is replaced.
    let mut deltas = Vec::new();
    let streamed = answerer
        .answer(&request, None, &mut |e| {
            if let AnswerEvent::Delta(d) = e {
                deltas.push(d);
            }
            true
        })
        .unwrap();
    assert!(deltas.iter().any(|d| !d.is_empty()), "{deltas:?}");
    assert!(streamed.degraded && streamed.revised, "{streamed:?}");
    // A declined question never reaches the model, so it still answers.
    let declined = answerer
        .ask(&AnswerRequest::new("What is the capital of France?"))
        .unwrap();
    assert!(declined.declined);
}

/// The real model, cut off after its first delta (the stream closes without `Done`).
struct CutOff {
    inner: Arc<dyn LanguageModel>,
}

impl LanguageModel for CutOff {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerateParams,
    ) -> Result<GenStream, LlmError> {
        let mut stream = self.inner.generate(messages, params)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        std::thread::spawn(move || {
            while let Some(event) = stream.blocking_recv() {
                if let ama::llm::GenEvent::Delta(d) = event {
                    let _ = tx.blocking_send(ama::llm::GenEvent::Delta(d));
                    return; // dropping both ends cancels the real generation
                }
            }
        });
        Ok(GenStream::new(rx))
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn context_length(&self) -> usize {
        self.inner.context_length()
    }
}
