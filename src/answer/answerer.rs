//! The whole answer flow, once: stored answer? → prepare (retrieve, pick evidence) →
//! decline? → generate → collect the draft → check and cite → related questions → result.
//! The CLI, the server, the OpenAI endpoint, `eval` and the benchmarks all go through it.
use super::cache::AnswerCache;
use super::compose::{compose, degraded};
use super::generation::{Draft, Generation};
use super::related::{QuestionLog, SuggestionStore};
use super::result::{asked_questions, AnswerEvent, AnswerRequest, AnswerResult, Timings};
use super::retriever::{Prepared, Retriever};
use super::AnswerError;
use crate::index::SearchIndex;
use crate::llm::LanguageModel;
use std::sync::Arc;

/// How many related questions follow an answer.
pub const RELATED_AFTER_ANSWER: usize = 4;

/// What [`Answerer::start`] found.
pub enum Started {
    /// Answered without the model: from the cache, a stored suggestion, or declined.
    Finished(AnswerResult),
    /// The model is writing the draft: read its deltas, then call [`Answerer::finish`].
    Generating(Generation),
}

/// The flow over one retriever and one model, with optional suggestions, an answer cache
/// and a log of readers' questions.
pub struct Answerer {
    retriever: Arc<Retriever>,
    model: Arc<dyn LanguageModel>,
    suggestions: Option<Arc<SuggestionStore>>,
    cache: AnswerCache,
    question_log: Option<Arc<dyn QuestionLog>>,
}

impl Answerer {
    /// The flow with no suggestions, no cache and no log.
    pub fn new(retriever: Arc<Retriever>, model: Arc<dyn LanguageModel>) -> Answerer {
        Answerer {
            retriever,
            model,
            suggestions: None,
            cache: AnswerCache::new(0),
            question_log: None,
        }
    }

    /// Verified suggestions: offered after answers, and answered from their stored answers.
    pub fn with_suggestions(mut self, store: Arc<SuggestionStore>) -> Answerer {
        self.suggestions = Some(store);
        self
    }

    /// Keeps up to `entries` answers in memory (0: none).
    pub fn with_cache(mut self, entries: usize) -> Answerer {
        self.cache = AnswerCache::new(entries);
        self
    }

    /// Records every question answered (for the editors' report, and the suggestable ones
    /// for later readers' suggestions).
    pub fn with_question_log(mut self, log: Arc<dyn QuestionLog>) -> Answerer {
        self.question_log = Some(log);
        self
    }

    fn log(&self, request: &AnswerRequest, result: &AnswerResult) {
        if let Some(log) = &self.question_log {
            log.record(request, result);
        }
    }

    pub fn retriever(&self) -> &Arc<Retriever> {
        &self.retriever
    }

    pub fn index(&self) -> &Arc<SearchIndex> {
        self.retriever.index()
    }

    pub fn model(&self) -> &Arc<dyn LanguageModel> {
        &self.model
    }

    pub fn suggestions(&self) -> Option<&SuggestionStore> {
        self.suggestions.as_deref()
    }

    /// Everything up to the model: a finished answer, or the queued generation of its draft.
    /// Synchronous and cheap (retrieval); the model's queue refuses with `LlmError::Busy`.
    pub fn start(&self, request: &AnswerRequest) -> Result<Started, AnswerError> {
        if let Some(hit) = self.cache.get(request) {
            self.log(request, &hit);
            return Ok(Started::Finished(hit));
        }
        if let Some(stored) = self.stored_answer(request) {
            self.log(request, &stored);
            return Ok(Started::Finished(stored));
        }
        let mut prepared = self.retriever.prepare(request)?;
        if self.retriever.wants_hypothesis(&prepared) {
            prepared = self.with_hypothesis(request, prepared)?;
        }
        if prepared.decline.is_some() {
            return Ok(Started::Finished(self.complete(
                request,
                prepared,
                Draft::default(),
            )));
        }
        match Generation::try_start(
            self.model.as_ref(),
            self.retriever.generate_params(),
            request.clone(),
            prepared,
        ) {
            Ok(generation) => Ok(Started::Generating(generation)),
            Err(refused) => {
                let (e, prepared) = *refused;
                if !e.is_model_failure() {
                    return Err(e);
                }
                Ok(Started::Finished(self.degrade(
                    request,
                    prepared,
                    Draft::default(),
                    &e,
                )))
            }
        }
    }

    /// `prepared` with passages and evidence chosen with the reader's hypothetical answer too
    /// ([`super::hypothesis`]); unchanged when the reader writes none or cannot be asked.
    fn with_hypothesis(
        &self,
        request: &AnswerRequest,
        prepared: Prepared,
    ) -> Result<Prepared, AnswerError> {
        match super::hypothesis::write(self.model.as_ref(), &prepared.query) {
            Ok(Some(h)) => {
                tracing::debug!(hypothesis = %h, "hypothetical answer");
                self.retriever
                    .prepare_with_hypothesis(request, prepared, &h)
            }
            Ok(None) => Ok(prepared),
            Err(e) if e.is_model_failure() => {
                tracing::warn!("no hypothetical answer ({e}): evidence by the question alone");
                Ok(prepared)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks a finished generation's draft, cites it and adds related questions;
    /// `AnswerError::Unfinished` when the model has not finished it.
    pub fn finish(&self, generation: Generation) -> Result<AnswerResult, AnswerError> {
        let (request, mut prepared, mut draft) = generation.into_parts()?;
        let model = self.model.as_ref();
        let looked = super::second_look::take(&self.retriever, model, &mut prepared, &mut draft);
        match looked.and_then(|()| super::judge::settle(model, &mut prepared, &draft)) {
            Ok(()) => Ok(self.complete(&request, prepared, draft)),
            Err(e) if e.is_model_failure() => Ok(self.degrade(&request, prepared, draft, &e)),
            Err(e) => Err(e),
        }
    }

    /// The answer when the model failed while writing the draft (`error`, from
    /// [`Generation::next_delta`] or a deadline): the best evidence quoted, marked `degraded`.
    pub fn finish_degraded(&self, generation: Generation, error: &AnswerError) -> AnswerResult {
        let (request, prepared, draft) = generation.abandon();
        self.degrade(&request, prepared, draft, error)
    }

    /// A degraded result is not cached: once the model is back, the question gets a real
    /// answer.
    fn degrade(
        &self,
        request: &AnswerRequest,
        prepared: Prepared,
        draft: Draft,
        error: &AnswerError,
    ) -> AnswerResult {
        tracing::warn!("the model failed ({error}): the answer quotes its evidence");
        let mut result = degraded(self.retriever.config(), prepared, draft);
        result.related = self.related_for(&result, &asked_questions(request));
        self.log(request, &result);
        result
    }

    /// The answer the flow gives without calling the model: the evidence quoted (or the
    /// decline). For `eval --no-generate`.
    pub fn answer_without_model(
        &self,
        request: &AnswerRequest,
    ) -> Result<AnswerResult, AnswerError> {
        let prepared = self.retriever.prepare(request)?;
        Ok(self.complete(request, prepared, Draft::default()))
    }

    fn complete(&self, request: &AnswerRequest, prepared: Prepared, draft: Draft) -> AnswerResult {
        let mut result = compose(self.retriever.config(), prepared, draft);
        result.related = self.related_for(&result, &asked_questions(request));
        self.cache.put(request, &result);
        self.log(request, &result);
        result
    }

    fn related_for(&self, result: &AnswerResult, asked: &[String]) -> Vec<String> {
        match &self.suggestions {
            Some(store) => store.follow_ups(self.index(), result, asked, RELATED_AFTER_ANSWER),
            None => Vec::new(),
        }
    }

    /// The stored answer of a suggested question, when this one is (asked without history,
    /// since a follow-up may mean something else). A reader's logged question has none: the
    /// current pipeline answers it.
    fn stored_answer(&self, request: &AnswerRequest) -> Option<AnswerResult> {
        if !request.history.is_empty() {
            return None;
        }
        let s = self.suggestions.as_ref()?.find(&request.question)?;
        if s.source == super::related::Source::Reader {
            return None;
        }
        if request.article.as_ref().is_some_and(|a| a != &s.article_id) {
            return None;
        }
        let mut result = s.answer.clone();
        result.precomputed = true;
        result.timings = Timings::default();
        result.related = self.related_for(&result, &asked_questions(request));
        Some(result)
    }

    /// The whole flow from sync code, reporting the sources and the draft's deltas to
    /// `on_event` as they come (a finished answer is one delta).
    pub fn ask_streaming(
        &self,
        request: &AnswerRequest,
        mut on_event: impl FnMut(AnswerEvent),
    ) -> Result<AnswerResult, AnswerError> {
        match self.start(request)? {
            Started::Finished(result) => {
                on_event(AnswerEvent::Sources(result.evidence.clone()));
                on_event(AnswerEvent::Delta(result.answer.clone()));
                Ok(result)
            }
            Started::Generating(mut generation) => {
                on_event(AnswerEvent::Sources(generation.prepared().evidence.clone()));
                loop {
                    match generation.blocking_next_delta() {
                        Ok(Some(delta)) => on_event(AnswerEvent::Delta(delta)),
                        Ok(None) => break,
                        Err(e) if e.is_model_failure() => {
                            return Ok(self.finish_degraded(generation, &e))
                        }
                        Err(e) => return Err(e),
                    }
                }
                self.finish(generation)
            }
        }
    }

    /// The whole flow from sync code.
    pub fn ask(&self, request: &AnswerRequest) -> Result<AnswerResult, AnswerError> {
        self.ask_streaming(request, |_| {})
    }
}
