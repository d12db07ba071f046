//! The store of what readers do: their questions (with whether each was declined, degraded
//! or served from the answer cache), their feedback, and what the editors' report reads.
//!
//! - **SQLite** in the data folder by default (`data/ama.sqlite`, WAL mode: embedded, nothing
//!   to start), **PostgreSQL** with a `postgres://` URL so that replicas share one store.
//!   Both through `sqlx` (its `Any` driver, runtime queries); the schema is migrated at
//!   start with sqlx's migrator ([`migrations`]).
//! - Writes never hold up an answer: they go to a bounded queue that one task writes in
//!   batches. A database that is down (or not up yet) is retried with backoff; meanwhile up
//!   to [`MAX_PENDING`] writes wait in memory, and beyond that further writes are dropped and
//!   counted. `/readyz` shows the state ([`StoreStatus`]).
//! - Bounded: questions and feedback older than [`KEEP_DAYS`] days, or beyond the newest
//!   [`KEEP_ROWS`] of each, are deleted at start and then hourly.
//!
//! The store's tasks run on the process's background runtime ([`crate::runtime`]), so sync
//! callers (the CLI, the answer flow) and the server use it alike; they end when the store is
//! dropped.
//!
//! One concern a file: `open` (the URL and the data folder), `database` (the pool, the
//! migrations and bounds, the SQL), `events` (what is recorded), `queue` (the queue and its
//! writer task), `reads` (blocking reads), `status` (up or down, for `/readyz`) and
//! [`report`] (the editors' report).
mod database;
mod events;
pub mod migrations;
mod open;
mod queue;
mod reads;
pub mod report;
mod status;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

pub use database::{KEEP_DAYS, KEEP_ROWS};
pub use events::{FeedbackEvent, QuestionEvent};
pub use open::{StoreOptions, SQLITE_FILE};
pub use queue::MAX_PENDING;
pub use report::{Report, ReportRow};
pub use status::StoreStatus;

use crate::health::Health;
use crate::runtime::BackgroundTasks;
use database::Database;
use events::Write;
use queue::QueueCounters;

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

/// The store: the database, the queue of writes and the writer task that empties it.
pub struct Store {
    database: Arc<Database>,
    queue: mpsc::UnboundedSender<Write>,
    counters: Arc<QueueCounters>,
    health: Arc<Health>,
    /// The writer: it ends with the store.
    tasks: BackgroundTasks,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.database.backend
    }
}
