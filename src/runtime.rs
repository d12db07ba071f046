//! The one background runtime of the process: the remote model's client and the store's
//! writer run their tasks here, so sync callers (the CLI, `eval`, the answer flow) and the
//! server use them alike.
//!
//! Created on first use and never shut down. Its owners group their tasks in
//! [`BackgroundTasks`], which ends them when dropped (as a runtime of their own would have).
//! [`Handle::block_on`] is for plain threads and `spawn_blocking` threads only: from async
//! code it panics.
use std::future::Future;
use std::io;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;

/// Worker threads: the tasks only wait on sockets and timers.
const WORKER_THREADS: usize = 2;

/// The runtime, or why it could not start (kept: a second try would fail alike).
static RUNTIME: OnceLock<Result<Runtime, (io::ErrorKind, String)>> = OnceLock::new();

/// The background runtime's handle; starts it on first use.
pub fn handle() -> io::Result<Handle> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("ama-background")
            .enable_all()
            .build()
            .map_err(|e| (e.kind(), e.to_string()))
    });
    match runtime {
        Ok(runtime) => Ok(runtime.handle().clone()),
        Err((kind, message)) => Err(io::Error::new(*kind, message.clone())),
    }
}

/// Tasks of one owner on the background runtime; dropping this ends them (at their next
/// wait), and never blocks, so it may be dropped on an async thread.
#[derive(Debug)]
pub struct BackgroundTasks {
    handle: Handle,
    /// Never sent: its drop is the signal.
    stop: watch::Sender<()>,
}

impl BackgroundTasks {
    /// A new group on the background runtime (started if need be).
    pub fn start() -> io::Result<BackgroundTasks> {
        let (stop, _) = watch::channel(());
        Ok(BackgroundTasks {
            handle: handle()?,
            stop,
        })
    }

    /// The runtime's handle: to block on a future from a plain thread, or to enter its
    /// context.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `task` until it ends or this group is dropped.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut stopped = self.stop.subscribe();
        self.handle.spawn(async move {
            tokio::select! {
                () = task => {}
                // Only an error: the sender is dropped, never sent to.
                _ = stopped.changed() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tasks_end_with_their_group_and_the_runtime_is_shared() {
        let first = BackgroundTasks::start().unwrap();
        let second = BackgroundTasks::start().unwrap();
        assert_eq!(first.handle().id(), second.handle().id());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        first.spawn(async move {
            let _alive = tx;
            std::future::pending::<()>().await;
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(100)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        drop(first);
        // The task ended, dropping its sender.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
        assert_eq!(second.handle().block_on(async { 7 }), 7);
    }
}
