//! The queue of writes and its one writer task: recording never blocks, and the writer
//! commits batches, retrying with backoff while the database fails.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::database::Database;
use super::events::{now_secs, FeedbackEvent, QuestionEvent, Write};
use super::status::{note_failure, note_success};
use super::Store;
use crate::health::Health;

/// Writes kept in memory while the database is unreachable.
pub const MAX_PENDING: usize = 10_000;

/// The queue's figures, as `/readyz` shows them.
#[derive(Debug, Default)]
pub(super) struct QueueCounters {
    /// Writes waiting for the database.
    pub(super) pending: AtomicUsize,
    /// Writes dropped because too many were waiting.
    pub(super) dropped: AtomicU64,
    pub(super) written: AtomicU64,
}

impl Store {
    fn send(&self, write: Write) {
        let pending = self.counters.pending.fetch_add(1, Ordering::SeqCst);
        if pending >= MAX_PENDING {
            self.counters.pending.fetch_sub(1, Ordering::SeqCst);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.queue.send(write).is_err() {
            self.counters.pending.fetch_sub(1, Ordering::SeqCst);
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
        rx.recv_timeout(within).is_ok() && self.counters.pending.load(Ordering::SeqCst) == 0
    }
}

/// The one writer: batches of queued writes, retried with backoff while the database fails.
pub(super) async fn writer(
    database: Arc<Database>,
    mut rx: mpsc::UnboundedReceiver<Write>,
    health: Arc<Health>,
    counters: Arc<QueueCounters>,
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
            database.ready().await?;
            database.insert_batch(&pending).await
        }
        .await;
        match result {
            Ok(written) => {
                // They leave the queue only once committed.
                pending.drain(..written);
                counters.pending.fetch_sub(written, Ordering::SeqCst);
                counters
                    .written
                    .fetch_add(written as u64, Ordering::Relaxed);
                note_success(&health);
                backoff = Duration::from_millis(200);
                if last_prune.elapsed() > Duration::from_secs(3600) {
                    last_prune = Instant::now();
                    if let Err(e) = database.prune().await {
                        tracing::warn!("pruning the store: {e}");
                    }
                }
            }
            Err(e) => {
                note_failure(&health, &e.to_string());
                // Flushes waiting on a dead database give up rather than hang, those queued
                // behind the held writes too (the writes stay queued).
                for f in waiting_flush.drain(..) {
                    drop(f);
                }
                pending.retain(|w| !matches!(w, Write::Flush(_)));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
