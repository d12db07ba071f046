//! Whether the database is up, and the store's state as `/readyz` shows it.
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::{Backend, Store};
use crate::health::{Health, HealthChange};

/// One failure makes the database down: writes then wait in memory and are retried.
pub(super) const DOWN_AFTER: u32 = 1;

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

impl Store {
    pub fn status(&self) -> StoreStatus {
        let health = self.health.snapshot();
        StoreStatus {
            backend: match self.database.backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            }
            .into(),
            state: health.state.as_str().into(),
            last_error: health.last_error,
            pending: self.counters.pending.load(Ordering::SeqCst),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            written: self.counters.written.load(Ordering::Relaxed),
        }
    }
}

/// The database took a batch.
pub(super) fn note_success(health: &Health) {
    if health.succeeded() == HealthChange::CameBack {
        tracing::info!("the database is back");
    }
}

/// The database failed with `error`.
pub(super) fn note_failure(health: &Health, error: &str) {
    if health.failed(error) == HealthChange::WentDown {
        tracing::warn!("the database is unavailable ({error}); writes wait and are retried");
    }
}
