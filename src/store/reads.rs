//! Reads for sync callers (the CLI, the answer flow's suggestions): each blocks on the
//! background runtime until the database answers. Not for async threads.
use super::{report, QuestionEvent, Report, Store, StoreError};
use crate::answer::related::{suggestable, AskedQuestion, QuestionLog};
use crate::answer::{AnswerRequest, AnswerResult};

impl Store {
    /// Runs the migrations now (they also run before the first write): an error when the
    /// database cannot be reached.
    pub fn migrate(&self) -> Result<(), StoreError> {
        self.tasks.handle().block_on(self.database.ready())
    }

    /// The newest suggestable questions asked since `since` (unix seconds), newest first.
    pub fn recent_questions(
        &self,
        limit: usize,
        since: i64,
    ) -> Result<Vec<AskedQuestion>, StoreError> {
        self.tasks.handle().block_on(async {
            self.database.ready().await?;
            self.database.recent_questions(limit, since).await
        })
    }

    /// The editors' report: the `limit` most asked, declined and not-useful questions.
    pub fn report(&self, limit: usize) -> Result<Report, StoreError> {
        self.tasks.handle().block_on(async {
            self.database.ready().await?;
            report::build(&self.database.pool, self.database.backend, limit).await
        })
    }
}

impl QuestionLog for Store {
    fn record(&self, request: &AnswerRequest, result: &AnswerResult) {
        self.record_question(QuestionEvent {
            question: request.question.clone(),
            article: request.article.clone(),
            follow_up: !request.history.is_empty(),
            declined: result.declined,
            degraded: result.degraded,
            cached: result.cached,
            precomputed: result.precomputed,
            suggestable: suggestable(request, result),
            answer: result.answer.clone(),
        });
    }

    fn recent(&self, limit: usize, since: i64) -> Vec<AskedQuestion> {
        match self.recent_questions(limit, since) {
            Ok(questions) => questions,
            Err(e) => {
                tracing::warn!("cannot read readers' questions from the store: {e}");
                Vec::new()
            }
        }
    }
}
