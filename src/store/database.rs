//! The database and its SQL: the pool, the migrations run once before first use, the store's
//! bounds, the batch insert of queued writes and the read of recent questions.
use std::collections::VecDeque;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::OnceCell;

use super::events::{now_secs, Write};
use super::{migrations, Backend, StoreError};
use crate::answer::related::AskedQuestion;

/// Rows older than this are deleted.
pub const KEEP_DAYS: i64 = 180;
/// Newest rows kept per table.
pub const KEEP_ROWS: i64 = 200_000;
/// Rows written per transaction.
const BATCH: usize = 256;

/// A pool of connections, and whether the schema is migrated.
pub(super) struct Database {
    pub(super) backend: Backend,
    pub(super) pool: AnyPool,
    migrated: OnceCell<()>,
}

impl Database {
    /// The pool for `url`, connected lazily: a database that is down now is not an error.
    /// Needs a runtime context (the pool's maintenance tasks are spawned on it).
    /// A connection not had within `connect_timeout` fails the write or read that waits for it.
    pub(super) fn connect_lazy(
        url: &str,
        backend: Backend,
        connect_timeout: Duration,
    ) -> Result<Database, StoreError> {
        let options = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(connect_timeout);
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
        Ok(Database {
            backend,
            pool: options.connect_lazy(url)?,
            migrated: OnceCell::new(),
        })
    }

    /// Migrates the schema and prunes, once; an error when the database cannot be reached.
    pub(super) async fn ready(&self) -> Result<(), StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                let migrator =
                    sqlx::migrate::Migrator::new(migrations::Embedded(self.backend)).await?;
                migrator.run(&self.pool).await?;
                self.prune().await?;
                Ok::<(), StoreError>(())
            })
            .await
            .map(|_| ())
    }

    /// Deletes what is past the store's bounds.
    pub(super) async fn prune(&self) -> Result<(), StoreError> {
        let oldest = now_secs() - KEEP_DAYS * 24 * 3600;
        for (table, at) in [("questions", "asked_at"), ("feedback", "given_at")] {
            sqlx::query(&format!("DELETE FROM {table} WHERE {at} < $1"))
                .bind(oldest)
                .execute(&self.pool)
                .await?;
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET $1)"
            ))
            .bind(KEEP_ROWS)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Writes up to [`BATCH`] of the first queued writes (up to a flush marker) in one
    /// transaction; how many, once committed.
    pub(super) async fn insert_batch(
        &self,
        pending: &VecDeque<Write>,
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
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
                    .bind(crate::text::normalise(&q.question))
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
                    .bind(crate::text::normalise(&f.question))
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
        Ok(n)
    }

    /// The newest suggestable questions asked since `since` (unix seconds), newest first.
    pub(super) async fn recent_questions(
        &self,
        limit: usize,
        since: i64,
    ) -> Result<Vec<AskedQuestion>, StoreError> {
        let rows = sqlx::query(
            "SELECT question, article, asked_at FROM questions \
             WHERE suggestable = 1 AND asked_at >= $1 ORDER BY asked_at DESC, id DESC LIMIT $2",
        )
        .bind(since)
        .bind(limit as i64)
        .fetch_all(&self.pool)
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
    }
}
