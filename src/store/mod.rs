//! The store of what readers do: their questions (with whether each was declined, degraded
//! or served from the answer cache), their feedback, and what the editors' report reads.
//!
//! - **SQLite** in the data folder by default (`data/ama.sqlite`, WAL mode: embedded, nothing
//!   to start), **PostgreSQL** with a `postgres://` URL so that replicas share one store.
//!   Both through `sqlx` (its `Any` driver, runtime queries); the schema is migrated at
//!   start with sqlx's migrator ([`migrations`]).
//! - Writes never hold up an answer: they go to a bounded queue that one task writes in
//!   batches. A database that is down (or not up yet) is retried with backoff; meanwhile up
//!   to [`MAX_PENDING`] writes wait in memory, and beyond that the oldest are dropped and
//!   counted. `/readyz` shows the state ([`StoreStatus`]).
//! - Bounded: questions and feedback older than [`KEEP_DAYS`] days, or beyond the newest
//!   [`KEEP_ROWS`] of each, are deleted at start and then hourly.
//!
//! The store has a small runtime of its own, so sync callers (the CLI, the answer flow) and
//! the server use it alike.
pub mod migrations;
pub mod report;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::mpsc;

pub use report::{Report, ReportRow};

use crate::answer::related::{suggestable, AskedQuestion, QuestionLog};
use crate::answer::{AnswerRequest, AnswerResult};

/// The SQLite file in a data folder.
pub const SQLITE_FILE: &str = "ama.sqlite";
/// Writes kept in memory while the database is unreachable.
pub const MAX_PENDING: usize = 10_000;
/// Rows older than this are deleted.
pub const KEEP_DAYS: i64 = 180;
/// Newest rows kept per table.
pub const KEEP_ROWS: i64 = 200_000;
/// Rows written per transaction.
const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?}: use postgres://… or sqlite://…")]
    Url(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the store has stopped")]
    Stopped,
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A reader's question, as the flow answered it.
#[derive(Debug, Clone, Default)]
pub struct QuestionEvent {
    pub question: String,
    /// The article the reader was on.
    pub article: Option<String>,
    /// Asked after earlier turns of a conversation.
    pub follow_up: bool,
    pub declined: bool,
    pub degraded: bool,
    /// Served from the answer cache.
    pub cached: bool,
    /// A suggested question's prepared answer.
    pub precomputed: bool,
    /// May be offered to later readers (once verified again): see
    /// [`crate::answer::related::suggestable`].
    pub suggestable: bool,
    pub answer: String,
}

/// A reader's verdict on an answer.
#[derive(Debug, Clone, Default)]
pub struct FeedbackEvent {
    pub question: String,
    pub answer: String,
    pub useful: bool,
    pub comment: Option<String>,
}

enum Write {
    Question(QuestionEvent, i64),
    Feedback(FeedbackEvent, i64),
    /// Answered once everything queued before it is written (or the wait gave up).
    Flush(std::sync::mpsc::Sender<()>),
}

/// The store's state, as `/readyz` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoreStatus {
    #[schema(example = "sqlite")]
    pub backend: String,
    /// `up`, `down` (writes wait in memory and are retried) or `starting`.
    #[schema(example = "up")]
    pub state: String,
    pub last_error: Option<String>,
    /// Writes waiting for the database.
    pub pending: usize,
    /// Writes dropped because too many were waiting.
    pub dropped: u64,
    pub written: u64,
}

#[derive(Debug, Default)]
struct Health {
    state: Mutex<HealthState>,
    pending: std::sync::atomic::AtomicUsize,
    dropped: AtomicU64,
    written: AtomicU64,
}

#[derive(Debug, Default)]
struct HealthState {
    up: Option<bool>,
    last_error: Option<String>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn ok(&self) {
        let mut s = self.lock();
        if s.up == Some(false) {
            tracing::info!("the database is back");
        }
        s.up = Some(true);
    }
    fn failed(&self, e: &str) {
        let mut s = self.lock();
        if s.up != Some(false) {
            tracing::warn!("the database is unavailable ({e}); writes wait and are retried");
        }
        s.up = Some(false);
        s.last_error = Some(e.to_string());
    }
}

/// The store: a pool, the writer task and the runtime they run on.
pub struct Store {
    backend: Backend,
    pool: AnyPool,
    queue: mpsc::UnboundedSender<Write>,
    health: Arc<Health>,
    migrated: Arc<tokio::sync::OnceCell<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// The SQLite store in `data` (created when missing).
    pub fn sqlite_in(data: &Path) -> Result<Store, StoreError> {
        let path = std::path::absolute(data.join(SQLITE_FILE)).map_err(StoreError::Runtime)?;
        Store::open(&format!("sqlite://{}?mode=rwc", path.display()))
    }

    /// The store at `url` (`postgres://…`, `postgresql://…` or `sqlite://…`). Connects lazily:
    /// a database that is down at start is not an error (writes wait, reads fail).
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Url(redact(url)));
        };
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("store")
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        let pool = {
            let _entered = runtime.enter();
            let options = AnyPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(3));
            let options = match backend {
                // Readers and the writer at once, across processes.
                Backend::Sqlite => options.after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                }),
                Backend::Postgres => options,
            };
            options.connect_lazy(url)?
        };
        let health = Arc::new(Health::default());
        let migrated = Arc::new(tokio::sync::OnceCell::new());
        let (queue, rx) = mpsc::unbounded_channel();
        runtime.spawn(writer(
            pool.clone(),
            backend,
            rx,
            health.clone(),
            migrated.clone(),
        ));
        let store = Store {
            backend,
            pool,
            queue,
            health,
            migrated,
            runtime: Some(runtime),
        };
        tracing::info!(backend = ?backend, url = redact(url), "store");
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, StoreError> {
        self.runtime.as_ref().ok_or(StoreError::Stopped)
    }

    /// Runs the migrations now (they also run before the first write): an error when the
    /// database cannot be reached.
    pub fn migrate(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let backend = self.backend;
        let migrated = self.migrated.clone();
        self.runtime()?
            .block_on(async move { ensure_migrated(&pool, backend, &migrated).await })
    }

    fn send(&self, write: Write) {
        let pending = self.health.pending.fetch_add(1, Ordering::SeqCst);
        if pending >= MAX_PENDING {
            self.health.pending.fetch_sub(1, Ordering::SeqCst);
            self.health.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.queue.send(write).is_err() {
            self.health.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Queues a question (never blocks).
    pub fn record_question(&self, event: QuestionEvent) {
        self.record_question_at(event, now_secs());
    }

    /// Queues a question asked at `asked_at` (unix seconds): for imports of older logs.
    pub fn record_question_at(&self, event: QuestionEvent, asked_at: i64) {
        self.send(Write::Question(event, asked_at));
    }

    /// Queues a verdict (never blocks).
    pub fn record_feedback(&self, event: FeedbackEvent) {
        self.send(Write::Feedback(event, now_secs()));
    }

    /// Waits up to `within` for the queued writes to reach the database; false if they did
    /// not (they stay queued). Not for async threads.
    pub fn flush(&self, within: Duration) -> bool {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.queue.send(Write::Flush(tx)).is_err() {
            return false;
        }
        rx.recv_timeout(within).is_ok() && self.health.pending.load(Ordering::SeqCst) == 0
    }

    /// The newest suggestable questions asked since `since` (unix seconds), newest first.
    pub fn recent_questions(
        &self,
        limit: usize,
        since: i64,
    ) -> Result<Vec<AskedQuestion>, StoreError> {
        let pool = self.pool.clone();
        let backend = self.backend;
        let migrated = self.migrated.clone();
        self.runtime()?.block_on(async move {
            ensure_migrated(&pool, backend, &migrated).await?;
            let rows = sqlx::query(
                "SELECT question, article, asked_at FROM questions \
                 WHERE suggestable = 1 AND asked_at >= $1 ORDER BY asked_at DESC, id DESC LIMIT $2",
            )
            .bind(since)
            .bind(limit as i64)
            .fetch_all(&pool)
            .await?;
            rows.iter()
                .map(|r: &AnyRow| {
                    Ok(AskedQuestion {
                        question: r.try_get("question")?,
                        article: r.try_get("article")?,
                        asked_at: r.try_get("asked_at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// The editors' report: the `limit` most asked, declined and not-useful questions.
    pub fn report(&self, limit: usize) -> Result<Report, StoreError> {
        let pool = self.pool.clone();
        let backend = self.backend;
        let migrated = self.migrated.clone();
        self.runtime()?.block_on(async move {
            ensure_migrated(&pool, backend, &migrated).await?;
            report::build(&pool, backend, limit).await
        })
    }

    pub fn status(&self) -> StoreStatus {
        let s = self.health.lock();
        StoreStatus {
            backend: match self.backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            }
            .into(),
            state: match s.up {
                None => "starting",
                Some(true) => "up",
                Some(false) => "down",
            }
            .into(),
            last_error: s.last_error.clone(),
            pending: self.health.pending.load(Ordering::SeqCst),
            dropped: self.health.dropped.load(Ordering::Relaxed),
            written: self.health.written.load(Ordering::Relaxed),
        }
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

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

async fn ensure_migrated(
    pool: &AnyPool,
    backend: Backend,
    migrated: &tokio::sync::OnceCell<()>,
) -> Result<(), StoreError> {
    migrated
        .get_or_try_init(|| async {
            let migrator = sqlx::migrate::Migrator::new(migrations::Embedded(backend)).await?;
            migrator.run(pool).await?;
            prune(pool).await?;
            Ok::<(), StoreError>(())
        })
        .await
        .map(|_| ())
}

/// Deletes what is past the store's bounds.
async fn prune(pool: &AnyPool) -> Result<(), StoreError> {
    let oldest = now_secs() - KEEP_DAYS * 24 * 3600;
    for (table, at) in [("questions", "asked_at"), ("feedback", "given_at")] {
        sqlx::query(&format!("DELETE FROM {table} WHERE {at} < $1"))
            .bind(oldest)
            .execute(pool)
            .await?;
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET $1)"
        ))
        .bind(KEEP_ROWS)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// The one writer: batches of queued writes, retried with backoff while the database fails.
async fn writer(
    pool: AnyPool,
    backend: Backend,
    mut rx: mpsc::UnboundedReceiver<Write>,
    health: Arc<Health>,
    migrated: Arc<tokio::sync::OnceCell<()>>,
) {
    let mut pending: VecDeque<Write> = VecDeque::new();
    let mut waiting_flush: Vec<std::sync::mpsc::Sender<()>> = Vec::new();
    let mut backoff = Duration::from_millis(200);
    let mut last_prune = Instant::now();
    loop {
        if pending.is_empty() {
            for f in waiting_flush.drain(..) {
                let _ = f.send(());
            }
            match rx.recv().await {
                Some(w) => pending.push_back(w),
                None => return,
            }
        }
        while let Ok(w) = rx.try_recv() {
            pending.push_back(w);
        }
        // Flush markers are answered once what came before them is written.
        while let Some(Write::Flush(_)) = pending.front() {
            if let Some(Write::Flush(f)) = pending.pop_front() {
                waiting_flush.push(f);
            }
        }
        if pending.is_empty() {
            continue;
        }
        let result = async {
            ensure_migrated(&pool, backend, &migrated).await?;
            write_batch(&pool, &mut pending, &health).await
        }
        .await;
        match result {
            Ok(()) => {
                health.ok();
                backoff = Duration::from_millis(200);
                if last_prune.elapsed() > Duration::from_secs(3600) {
                    last_prune = Instant::now();
                    if let Err(e) = prune(&pool).await {
                        tracing::warn!("pruning the store: {e}");
                    }
                }
            }
            Err(e) => {
                health.failed(&e.to_string());
                // Flushes waiting on a dead database give up rather than hang.
                for f in waiting_flush.drain(..) {
                    drop(f);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Writes up to [`BATCH`] queued writes in one transaction; they leave the queue only once
/// committed.
async fn write_batch(
    pool: &AnyPool,
    pending: &mut VecDeque<Write>,
    health: &Health,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let mut n = 0;
    for write in pending.iter().take(BATCH) {
        match write {
            Write::Question(q, at) => {
                sqlx::query(
                    "INSERT INTO questions (asked_at, question, normalised, article, follow_up, \
                     declined, degraded, cached, precomputed, suggestable, answer) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(*at)
                .bind(&q.question)
                .bind(crate::answer::text::normalise(&q.question))
                .bind(&q.article)
                .bind(q.follow_up as i32)
                .bind(q.declined as i32)
                .bind(q.degraded as i32)
                .bind(q.cached as i32)
                .bind(q.precomputed as i32)
                .bind(q.suggestable as i32)
                .bind(&q.answer)
                .execute(&mut *tx)
                .await?;
            }
            Write::Feedback(f, at) => {
                sqlx::query(
                    "INSERT INTO feedback (given_at, question, normalised, answer, useful, comment) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(*at)
                .bind(&f.question)
                .bind(crate::answer::text::normalise(&f.question))
                .bind(&f.answer)
                .bind(f.useful as i32)
                .bind(&f.comment)
                .execute(&mut *tx)
                .await?;
            }
            Write::Flush(_) => break,
        }
        n += 1;
    }
    tx.commit().await?;
    pending.drain(..n);
    health.pending.fetch_sub(n, Ordering::SeqCst);
    health.written.fetch_add(n as u64, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
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
        // Nothing listens on port 9 of loopback.
        let store = Store::open("postgres://ama@127.0.0.1:9/ama").unwrap();
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
}
