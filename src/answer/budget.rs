//! The cores shared on purpose. The model writes an answer on all the cores, and its threads
//! wait for each other at every product; under a spike, many readers' retrievals and question
//! embeddings would take turns on those cores and slow every answer several times over. With
//! a budget, retrieval runs a few at a time (one core's worth) and below the model's priority
//! (nice 5, on Linux), so the model keeps most of its speed and retrieval takes what is left.
//!
//! Measured with `ama bench serve --clients 50 --seconds 30` (docs/benchmarks/
//! 2026-12-06-traffic-spike.md): 15 model answers in 32 s without it, 55 with it at nice 5
//! (retrieval p50 0.8 s), 70 at nice 10 (retrieval p50 1.2 s).
use std::sync::{Condvar, Mutex};

/// Nice value of a thread doing retrieval under the budget.
const RETRIEVAL_NICE: i32 = 5;

/// At most `permits` retrievals at once, each on a thread below the model's priority.
#[derive(Debug)]
pub struct RetrievalBudget {
    free: Mutex<usize>,
    freed: Condvar,
}

impl RetrievalBudget {
    /// One retrieval at a time for each core the model can spare (at least one).
    pub fn shared_with_the_model() -> RetrievalBudget {
        // The kernels' pool must start now, from a thread at normal priority: a thread
        // spawned by a lowered one would inherit its nice value, and the model uses the pool.
        let _ = candle_core::utils::barrier_pool();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        RetrievalBudget::new(cores.saturating_sub(1).max(1))
    }

    pub fn new(permits: usize) -> RetrievalBudget {
        RetrievalBudget {
            free: Mutex::new(permits.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits for a turn; the calling thread runs below the model's priority from now on.
    pub fn acquire(&self) -> Permit<'_> {
        lower_this_thread();
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Permit { budget: self }
    }
}

/// A turn of retrieval, given back when dropped.
pub struct Permit<'a> {
    budget: &'a RetrievalBudget,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.budget.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.budget.freed.notify_one();
    }
}

/// Lowers the calling thread's priority to [`RETRIEVAL_NICE`], once per thread (threads of
/// Linux have their own nice values; elsewhere nothing changes).
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        thread_local! {
            static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        if LOWERED.with(|l| l.replace(true)) {
            return;
        }
        // SAFETY: two system calls about this thread alone; a failure leaves it as it was.
        let done = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            libc::setpriority(libc::PRIO_PROCESS, tid, now.max(RETRIEVAL_NICE))
        };
        if done != 0 {
            tracing::debug!("could not lower a retrieval thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn no_more_than_the_permits_run_at_once() {
        let budget = Arc::new(RetrievalBudget::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (budget, running, most) = (budget.clone(), running.clone(), most.clone());
                std::thread::spawn(move || {
                    let _turn = budget.acquire();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(*budget.free.lock().unwrap(), 2);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_retrieval_thread_runs_below_normal_priority() {
        let budget = RetrievalBudget::new(1);
        let nice = std::thread::spawn(move || {
            let _turn = budget.acquire();
            // SAFETY: reads this thread's own nice value.
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, tid)
            }
        })
        .join()
        .unwrap();
        assert!(nice >= RETRIEVAL_NICE, "nice {nice}");
    }
}
