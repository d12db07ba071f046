//! The cores shared on purpose. The model writes an answer on all the cores, and its threads
//! wait for each other at every product; under a spike, many readers' retrievals and question
//! embeddings would take turns on those cores and slow every answer several times over. With
//! a budget, a few retrievals at a time wait for their turn on the cores, which they take
//! between the model's forward passes ([`crate::llm::turns`]): neither runs beside the other.
//!
//! Measured with `ama bench serve --clients 50 --seconds 60` (docs/benchmarks/
//! 2026-12-06-traffic-spike-60s.md); the earlier budget (one retrieval at a time, below the
//! model's priority at nice 5, beside the model) is measured in 2026-12-06-traffic-spike.md.
use std::sync::{Condvar, Mutex};

/// At most `permits` retrievals at once, each waiting for its turn on the cores when they are
/// shared with the model.
#[derive(Debug)]
pub struct RetrievalBudget {
    free: Mutex<usize>,
    freed: Condvar,
}

impl RetrievalBudget {
    /// Retrievals take turns with the model's forward passes; enough of them wait for a
    /// turn to use every one the model leaves between two of its passes.
    pub fn shared_with_the_model() -> RetrievalBudget {
        crate::llm::turns::share();
        RetrievalBudget::new(2 * crate::llm::turns::RETRIEVALS_PER_STEP)
    }

    pub fn new(permits: usize) -> RetrievalBudget {
        RetrievalBudget {
            free: Mutex::new(permits.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits for a permit, then for a turn on the cores (when they are shared).
    pub fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        drop(free);
        Permit {
            budget: self,
            _turn: crate::llm::turns::retrieval_turn(),
        }
    }
}

/// A turn of retrieval, given back when dropped.
pub struct Permit<'a> {
    budget: &'a RetrievalBudget,
    /// Its turn on the cores, between the model's forward passes.
    _turn: Option<crate::llm::turns::Turn<'static>>,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.budget.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.budget.freed.notify_one();
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
}
