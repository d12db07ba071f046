//! What every caller answers with: cached or stored answer? → the grounded flow
//! ([`grounded_answer`](super::grounded_answer)) → related questions → cache and log. The
//! CLI, the server's three answer endpoints, `eval` and the benchmarks all go through
//! [`Answerer::answer`].
use super::cache::AnswerCache;
use super::flow::{announced, answer_prepared, busy_answer, quoted_answer, OnEvent};
use super::in_flight::{follow, Followed, InFlight, Leader, Role};
use super::prepared_cache::PreparedCache;
use super::related::{QuestionLog, SuggestionStore};
use super::result::{asked_questions, AnswerRequest, AnswerResult, Timings};
use super::retriever::Prepared;
use super::retriever::Retriever;
use super::AnswerError;
use crate::index::SearchIndex;
use crate::llm::LanguageModel;
use std::sync::Arc;
use std::time::Instant;

/// How many related questions follow an answer.
pub const RELATED_AFTER_ANSWER: usize = 4;

/// The flow over one retriever and one model, with optional suggestions, an answer cache
/// and a log of readers' questions.
pub struct Answerer {
    retriever: Arc<Retriever>,
    model: Arc<dyn LanguageModel>,
    suggestions: Option<Arc<SuggestionStore>>,
    cache: AnswerCache,
    /// Retrievals of questions asked before, as many as answers are cached.
    prepared: PreparedCache,
    /// Questions being answered now, so that the same one is answered once.
    in_flight: InFlight,
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
            prepared: PreparedCache::new(0),
            in_flight: InFlight::default(),
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
        self.prepared = PreparedCache::new(entries);
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

    /// Answers being made right now.
    #[cfg(test)]
    pub(crate) fn in_flight_answers(&self) -> usize {
        self.in_flight.len()
    }

    /// The whole flow: a cached or stored answer when there is one; the answer another
    /// request is making to the same question right now, followed ([`super::in_flight`]);
    /// otherwise [`super::grounded_answer`] (its events reported to `on_event` as they come),
    /// then related questions; the result is cached (unless degraded) and logged. `deadline`:
    /// when the model must have finished, or the answer quotes its evidence (`None`: no
    /// limit).
    pub fn answer(
        &self,
        request: &AnswerRequest,
        deadline: Option<Instant>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<AnswerResult, AnswerError> {
        self.answer_waiting(request, deadline, None, on_event)
    }

    /// [`Self::answer`] for a reader who cannot watch an answer being written (a plain JSON
    /// request): when the same question is being answered for someone else and its answer is
    /// not ready by `follow_until`, this reader gets the quoted evidence then (`busy`), and
    /// the answer goes on being written for the others and the cache (`None`: follows it to
    /// the end).
    pub fn answer_waiting(
        &self,
        request: &AnswerRequest,
        deadline: Option<Instant>,
        follow_until: Option<Instant>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<AnswerResult, AnswerError> {
        if let Some(known) = self
            .cache
            .get(request)
            .or_else(|| self.stored_answer(request))
        {
            self.log(request, &known);
            return announced(known, on_event);
        }
        let leader = match self.in_flight.join(AnswerCache::key(request)) {
            Role::Lead(leader) => leader,
            Role::Follow(shared) => match follow(&shared, follow_until, on_event) {
                Followed::Answered(result) => {
                    let mut result = *result;
                    result.cached = true;
                    self.log(request, &result);
                    return Ok(result);
                }
                Followed::Left => return Err(AnswerError::Cancelled),
                Followed::Waited => {
                    let result = busy_answer(&self.retriever, self.prepare(request)?);
                    return self.finish_alone(request, result, on_event);
                }
                // The answer it followed failed: this request makes its own.
                Followed::Alone => return self.answer_alone(request, deadline, on_event, None),
            },
        };
        self.answer_alone(request, deadline, on_event, Some(leader))
    }

    /// [`super::grounded_answer`], then related questions, cache and log; its events and
    /// result go to `leader`'s followers too.
    fn answer_alone(
        &self,
        request: &AnswerRequest,
        deadline: Option<Instant>,
        on_event: &mut OnEvent<'_>,
        leader: Option<Leader<'_>>,
    ) -> Result<AnswerResult, AnswerError> {
        let mut reader_here = true;
        let prepared = match self.prepare(request) {
            Ok(prepared) => prepared,
            Err(e) => {
                if let Some(leader) = leader {
                    leader.finish(None);
                }
                return Err(e);
            }
        };
        let answered = answer_prepared(
            &self.retriever,
            self.model.as_ref(),
            prepared,
            deadline,
            &mut |event| {
                if let Some(leader) = &leader {
                    leader.publish(&event);
                }
                reader_here = reader_here && on_event(event);
                // Once this reader has gone, the answer is still made for its followers.
                reader_here || leader.as_ref().is_some_and(Leader::followed)
            },
        );
        let mut result = match answered {
            Ok(result) => result,
            Err(e) => {
                if let Some(leader) = leader {
                    leader.finish(None);
                }
                return Err(e);
            }
        };
        result.related = self.related_for(&result, &asked_questions(request));
        // A degraded answer is not kept: once the model is back, the question gets a real one.
        if !result.degraded {
            self.cache.put(request, &result);
        }
        if let Some(leader) = leader {
            leader.finish(Some(&result));
        }
        self.log(request, &result);
        if !reader_here {
            return Err(AnswerError::Cancelled);
        }
        Ok(result)
    }

    /// Retrieval, evidence and the decision, or those kept from an earlier ask. Only a
    /// question asked on its own is kept: the one many readers ask; a conversation's
    /// follow-up is one reader's.
    fn prepare(&self, request: &AnswerRequest) -> Result<Prepared, AnswerError> {
        if !request.history.is_empty() {
            return self.retriever.prepare(request);
        }
        let key = AnswerCache::key(request);
        if let Some(kept) = self.prepared.get(&key) {
            return Ok(kept);
        }
        let prepared = self.retriever.prepare(request)?;
        self.prepared.put(key, &prepared);
        Ok(prepared)
    }

    /// Whether `request` is a question asked on its own before in this process (its
    /// retrieval kept) whose answer is not cached: then a plain request need not wait for
    /// the model's answer to it ([`Self::quoted_now`]).
    pub fn asked_before(&self, request: &AnswerRequest) -> bool {
        request.history.is_empty()
            && self.prepared.contains(&AnswerCache::key(request))
            && self.cache.get(request).is_none()
    }

    /// The quoted evidence of `request` at once, marked `busy` (the decline if it is one),
    /// with related questions, for a reader who will not wait while its answer is written.
    /// Not logged: the answer being written is, once done.
    pub fn quoted_now(&self, request: &AnswerRequest) -> Result<AnswerResult, AnswerError> {
        let mut result = busy_answer(&self.retriever, self.prepare(request)?);
        result.related = self.related_for(&result, &asked_questions(request));
        Ok(result)
    }

    /// A result made here without the model (not cached): related questions, log, events.
    fn finish_alone(
        &self,
        request: &AnswerRequest,
        mut result: AnswerResult,
        on_event: &mut OnEvent<'_>,
    ) -> Result<AnswerResult, AnswerError> {
        result.related = self.related_for(&result, &asked_questions(request));
        self.log(request, &result);
        announced(result, on_event)
    }

    /// The whole flow from sync code, without a deadline or events.
    pub fn ask(&self, request: &AnswerRequest) -> Result<AnswerResult, AnswerError> {
        self.answer(request, None, &mut |_| true)
    }

    /// The answer the flow gives without calling the model: the evidence quoted (or the
    /// decline). For `eval --no-generate`.
    pub fn answer_without_model(
        &self,
        request: &AnswerRequest,
    ) -> Result<AnswerResult, AnswerError> {
        let mut result = quoted_answer(&self.retriever, request)?;
        result.related = self.related_for(&result, &asked_questions(request));
        self.log(request, &result);
        Ok(result)
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
}
