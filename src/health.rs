//! Up or down: one tracker of a backend's successes and failures in a row, shared by the
//! remote model server ([`crate::llm::remote`]) and the database ([`crate::store`]).
//!
//! A backend is *starting* until its first outcome, *down* after a set number of failures in
//! a row, and *up* otherwise. [`Health::succeeded`] and [`Health::failed`] say when the state
//! changes, so that each owner logs the change in its own words.
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where a backend stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Nothing has succeeded or failed yet.
    Starting,
    Up,
    /// Failed at least the tracker's `down_after` times in a row.
    Down,
}

impl HealthState {
    /// `starting`, `up` or `down`, as `/readyz` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Up => "up",
            HealthState::Down => "down",
        }
    }
}

/// What an outcome did to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the owner logs when the backend goes down or comes back"]
pub enum HealthChange {
    Unchanged,
    /// This failure made the backend down.
    WentDown,
    /// This success ended a time down.
    CameBack,
}

/// The tracker's figures at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSnapshot {
    pub state: HealthState,
    pub failures_in_a_row: u32,
    pub last_error: Option<String>,
    /// Since the last success.
    pub since_ok: Option<Duration>,
}

#[derive(Debug, Default)]
struct Record {
    /// Anything succeeded or failed yet.
    seen: bool,
    failures_in_a_row: u32,
    last_error: Option<String>,
    last_ok: Option<Instant>,
}

impl Record {
    fn state(&self, down_after: u32) -> HealthState {
        if self.failures_in_a_row >= down_after {
            HealthState::Down
        } else if self.seen {
            HealthState::Up
        } else {
            HealthState::Starting
        }
    }
}

/// Successes and failures of one backend.
#[derive(Debug)]
pub struct Health {
    down_after: u32,
    record: Mutex<Record>,
}

impl Health {
    /// A tracker that counts the backend down after `down_after` failures in a row (at least
    /// one).
    pub fn new(down_after: u32) -> Health {
        Health {
            down_after: down_after.max(1),
            record: Mutex::new(Record::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A generation, write or probe succeeded.
    pub fn succeeded(&self) -> HealthChange {
        let mut record = self.lock();
        let was = record.state(self.down_after);
        record.seen = true;
        record.failures_in_a_row = 0;
        record.last_ok = Some(Instant::now());
        if was == HealthState::Down {
            HealthChange::CameBack
        } else {
            HealthChange::Unchanged
        }
    }

    /// A generation, write or probe failed with `error`.
    pub fn failed(&self, error: &str) -> HealthChange {
        let mut record = self.lock();
        let was = record.state(self.down_after);
        record.seen = true;
        record.failures_in_a_row = record.failures_in_a_row.saturating_add(1);
        record.last_error = Some(error.to_string());
        if was != HealthState::Down && record.state(self.down_after) == HealthState::Down {
            HealthChange::WentDown
        } else {
            HealthChange::Unchanged
        }
    }

    pub fn is_down(&self) -> bool {
        self.lock().state(self.down_after) == HealthState::Down
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        let record = self.lock();
        HealthSnapshot {
            state: record.state(self.down_after),
            failures_in_a_row: record.failures_in_a_row,
            last_error: record.last_error.clone(),
            since_ok: record.last_ok.map(|t| t.elapsed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_failures_in_a_row_and_up_at_the_first_success() {
        let health = Health::new(3);
        assert_eq!(health.snapshot().state, HealthState::Starting);
        assert_eq!(health.failed("refused"), HealthChange::Unchanged);
        assert_eq!(health.snapshot().state, HealthState::Up);
        assert_eq!(health.failed("refused"), HealthChange::Unchanged);
        assert_eq!(health.failed("timed out"), HealthChange::WentDown);
        assert!(health.is_down());
        assert_eq!(health.failed("timed out"), HealthChange::Unchanged);
        let down = health.snapshot();
        assert_eq!(down.failures_in_a_row, 4);
        assert_eq!(down.last_error.as_deref(), Some("timed out"));
        assert_eq!(down.since_ok, None);
        assert_eq!(health.succeeded(), HealthChange::CameBack);
        let up = health.snapshot();
        assert_eq!((up.state, up.failures_in_a_row), (HealthState::Up, 0));
        assert!(up.since_ok.is_some());
        // The last error stays for the status page.
        assert_eq!(up.last_error.as_deref(), Some("timed out"));
    }

    #[test]
    fn one_failure_is_enough_when_the_tracker_says_so() {
        let health = Health::new(1);
        assert_eq!(health.failed("no database"), HealthChange::WentDown);
        assert_eq!(health.failed("no database"), HealthChange::Unchanged);
        assert_eq!(health.succeeded(), HealthChange::CameBack);
        assert_eq!(health.succeeded(), HealthChange::Unchanged);
        assert_eq!(HealthState::Down.as_str(), "down");
    }
}
