//! Opening the store: which database a URL names, the SQLite file in a data folder, and the
//! writer started on the background runtime.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::database::Database;
use super::queue::{writer, QueueCounters};
use super::status::DOWN_AFTER;
use super::{Backend, Store, StoreError};
use crate::health::Health;
use crate::runtime::BackgroundTasks;

/// The SQLite file in a data folder.
pub const SQLITE_FILE: &str = "ama.sqlite";

/// How long the store waits on its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long a write or a read waits for a connection before it fails (a write is then
    /// held and retried, and the database reported down; a read is an error). The default
    /// rides out a busy pool; a caller that must know soon (a probe, a dead database in a
    /// test) passes less.
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            connect_timeout: Duration::from_secs(3),
        }
    }
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
        Store::open_with(url, StoreOptions::default())
    }

    /// The store at `url`, as [`Store::open`], waiting on its database as `options` say.
    pub fn open_with(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let backend = backend_of(url)?;
        sqlx::any::install_default_drivers();
        let tasks = BackgroundTasks::start().map_err(StoreError::Runtime)?;
        let database = {
            let _entered = tasks.handle().enter();
            Arc::new(Database::connect_lazy(
                url,
                backend,
                options.connect_timeout,
            )?)
        };
        let health = Arc::new(Health::new(DOWN_AFTER));
        let counters = Arc::new(QueueCounters::default());
        let (queue, rx) = mpsc::unbounded_channel();
        tasks.spawn(writer(
            database.clone(),
            rx,
            health.clone(),
            counters.clone(),
        ));
        tracing::info!(backend = ?backend, url = redact(url), "store");
        Ok(Store {
            database,
            queue,
            counters,
            health,
            tasks,
        })
    }
}

/// The database a URL names.
fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(StoreError::Url(redact(url)))
    }
}

/// The URL without its password.
pub(super) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
