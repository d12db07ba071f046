//! Turns on the cores, for a server that runs the model and retrieval on the same few cores.
//! The model's threads wait for each other at every product, so a retrieval thread that takes
//! one of them away for a moment stalls the whole step; taking turns, neither runs beside the
//! other. The model takes one turn per forward pass (a prefill chunk, or one decoded token);
//! retrievals that are waiting get [`RETRIEVALS_PER_STEP`] turns between two of the model's,
//! and more while they have had less than an eighth of the time the model's last pass took (a
//! larger reader's passes are longer: three retrievals per pass let its queue of retrievals
//! grow under a spike), and all turns while the model is idle.
//!
//! Off unless [`share`] was called (the server calls it): the command line, `eval` and the
//! tests run as before.
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Retrievals that may run between two of the model's forward passes when both wait.
pub const RETRIEVALS_PER_STEP: usize = 3;

/// Beyond those, retrievals may run while they have had less than the model's last pass
/// divided by this.
const RETRIEVAL_TIME_DIVISOR: u32 = 8;

static TURNS: OnceLock<Turns> = OnceLock::new();

/// Turns are taken from now on, by this process's model and retrievals.
pub fn share() {
    let _ = TURNS.set(Turns::new(RETRIEVALS_PER_STEP));
}

/// The model's turn for one forward pass (`None`: turns are not shared).
pub fn model_turn() -> Option<Turn<'static>> {
    TURNS.get().map(|t| t.take(Who::Model))
}

/// A retrieval's turn (`None`: turns are not shared).
pub fn retrieval_turn() -> Option<Turn<'static>> {
    TURNS.get().map(|t| t.take(Who::Retrieval))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Model,
    Retrieval,
}

pub struct Turns {
    state: Mutex<State>,
    changed: Condvar,
    retrievals_per_step: usize,
}

#[derive(Default)]
struct State {
    running: bool,
    model_waiting: bool,
    retrievals_waiting: usize,
    /// Retrieval turns since the model's last.
    retrievals_since_model: usize,
    /// How long the model's last turn took, and the retrievals' turns since.
    model_took: Duration,
    retrievals_took: Duration,
}

impl State {
    /// Whether the retrievals have had their share since the model's last turn: `k` turns,
    /// and an eighth of the time that turn took.
    fn retrievals_had_their_share(&self, k: usize) -> bool {
        self.retrievals_since_model >= k
            && self.retrievals_took >= self.model_took / RETRIEVAL_TIME_DIVISOR
    }
}

impl Turns {
    fn new(retrievals_per_step: usize) -> Turns {
        Turns {
            state: Mutex::default(),
            changed: Condvar::new(),
            retrievals_per_step: retrievals_per_step.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, who: Who) -> Turn<'_> {
        let k = self.retrievals_per_step;
        let mut s = self.lock();
        match who {
            Who::Model => s.model_waiting = true,
            Who::Retrieval => s.retrievals_waiting += 1,
        }
        loop {
            let wait = s.running
                || match who {
                    Who::Model => s.retrievals_waiting > 0 && !s.retrievals_had_their_share(k),
                    Who::Retrieval => s.model_waiting && s.retrievals_had_their_share(k),
                };
            if !wait {
                break;
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        match who {
            Who::Model => {
                s.model_waiting = false;
                s.retrievals_since_model = 0;
                s.retrievals_took = Duration::ZERO;
            }
            Who::Retrieval => {
                s.retrievals_waiting -= 1;
                s.retrievals_since_model += 1;
            }
        }
        s.running = true;
        Turn {
            turns: self,
            who,
            started: Instant::now(),
        }
    }
}

/// A turn on the cores, given back when dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
    who: Who,
    started: Instant,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let took = self.started.elapsed();
        let mut s = self.turns.lock();
        s.running = false;
        match self.who {
            Who::Model => s.model_took = took,
            Who::Retrieval => s.retrievals_took += took,
        }
        drop(s);
        self.turns.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn waiting_retrievals_get_their_turns_between_model_steps_and_never_run_beside_it() {
        let turns = Turns::new(2);
        let running = AtomicUsize::new(0);
        let log = Mutex::new(Vec::new());
        let first = turns.take(Who::Retrieval);
        log.lock().unwrap().push(Who::Retrieval);
        let run = |who: Who| {
            let _turn = turns.take(who);
            assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two at once");
            log.lock().unwrap().push(who);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
        };
        std::thread::scope(|s| {
            s.spawn(|| run(Who::Model));
            for _ in 0..3 {
                s.spawn(|| run(Who::Retrieval));
            }
            // Everyone waits for the first retrieval's turn.
            while {
                let st = turns.lock();
                !(st.model_waiting && st.retrievals_waiting == 3)
            } {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(first);
        });
        use Who::{Model as M, Retrieval as R};
        // One more retrieval (two since the model's last turn), the model, then the rest.
        assert_eq!(*log.lock().unwrap(), vec![R, R, M, R, R]);
        assert!(!turns.lock().running);
    }

    #[test]
    fn after_a_long_model_pass_waiting_retrievals_get_an_eighth_of_its_time() {
        let turns = Turns::new(1);
        // The model's last pass took 0.8 s.
        {
            let _pass = turns.take(Who::Model);
            std::thread::sleep(Duration::from_millis(800));
        }
        let log = Mutex::new(Vec::new());
        let first = turns.take(Who::Retrieval);
        log.lock().unwrap().push(Who::Retrieval);
        let run = |who: Who| {
            let _turn = turns.take(who);
            log.lock().unwrap().push(who);
            std::thread::sleep(Duration::from_millis(1));
        };
        std::thread::scope(|s| {
            s.spawn(|| run(Who::Model));
            for _ in 0..4 {
                s.spawn(|| run(Who::Retrieval));
            }
            while {
                let st = turns.lock();
                !(st.model_waiting && st.retrievals_waiting == 4)
            } {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(first);
        });
        use Who::{Model as M, Retrieval as R};
        // Not one retrieval per pass: the five take far less than an eighth of its 0.8 s.
        assert_eq!(*log.lock().unwrap(), vec![R, R, R, R, R, M]);
    }
}
