//! Questions in flight, answered once. A reader asking a question that another reader's
//! request is answering right now (the same key as the answer cache: normalised words,
//! article, conversation) follows that answer: it receives the events already sent and
//! those still to come, then the same result, and the model writes it only once. A follower
//! that cannot wait for the whole answer (a plain JSON request) follows it until a bound, then
//! answers without it.
use super::result::{AnswerEvent, AnswerResult};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// The answers being made, by key.
#[derive(Default)]
pub struct InFlight {
    answers: Mutex<HashMap<String, Arc<Shared>>>,
}

/// One answer being made, as its followers see it.
#[derive(Default)]
pub struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    events: Vec<AnswerEvent>,
    /// The result, or `None` once the leader gave up (its followers then answer alone).
    outcome: Option<Option<AnswerResult>>,
    followers: usize,
}

/// Who answers: the first asker leads, the others follow.
pub enum Role<'a> {
    Lead(Leader<'a>),
    Follow(Arc<Shared>),
}

impl InFlight {
    /// Leads the answer to `key`, or follows the one already being made.
    pub fn join(&self, key: String) -> Role<'_> {
        let mut answers = lock(&self.answers);
        if let Some(shared) = answers.get(&key) {
            lock(&shared.state).followers += 1;
            return Role::Follow(shared.clone());
        }
        let shared = Arc::new(Shared::default());
        answers.insert(key.clone(), shared.clone());
        Role::Lead(Leader {
            in_flight: self,
            key,
            shared,
        })
    }

    /// Answers being made now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.answers).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The request making an answer others may follow. Dropped without [`Leader::finish`], it
/// tells its followers to answer alone.
pub struct Leader<'a> {
    in_flight: &'a InFlight,
    key: String,
    shared: Arc<Shared>,
}

impl Leader<'_> {
    /// Passes an event on to the followers.
    pub fn publish(&self, event: &AnswerEvent) {
        lock(&self.shared.state).events.push(event.clone());
        self.shared.changed.notify_all();
    }

    /// Whether anyone follows this answer (then it is worth finishing even once the
    /// leader's own reader has gone).
    pub fn followed(&self) -> bool {
        lock(&self.shared.state).followers > 0
    }

    /// Hands the result to the followers (`None`: the answer failed, they answer alone).
    pub fn finish(self, result: Option<&AnswerResult>) {
        self.end(result.cloned());
    }

    fn end(&self, outcome: Option<AnswerResult>) {
        // Out of the map first: from now on a new asker leads a new answer.
        lock(&self.in_flight.answers).remove(&self.key);
        let mut state = lock(&self.shared.state);
        if state.outcome.is_none() {
            state.outcome = Some(outcome);
        }
        drop(state);
        self.shared.changed.notify_all();
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// How following ended.
pub enum Followed {
    /// The leader's result.
    Answered(Box<AnswerResult>),
    /// The leader gave up: answer alone.
    Alone,
    /// `on_event` said its reader has gone.
    Left,
    /// The bound passed before the result came (the answer goes on for the others).
    Waited,
}

/// Follows `shared`: replays its events to `on_event` as they come, then gives its result;
/// gives up at `until` (`None`: waits for the result however long it takes).
pub fn follow(
    shared: &Shared,
    until: Option<Instant>,
    on_event: &mut dyn FnMut(AnswerEvent) -> bool,
) -> Followed {
    let mut seen = 0;
    let followed = 'follow: loop {
        let mut state = lock(&shared.state);
        while seen == state.events.len() && state.outcome.is_none() {
            state = match until {
                None => shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break 'follow Followed::Waited;
                    }
                    shared
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        let new: Vec<AnswerEvent> = state.events[seen..].to_vec();
        seen = state.events.len();
        let outcome = state.outcome.clone();
        drop(state);
        if !new.into_iter().all(&mut *on_event) {
            break Followed::Left;
        }
        match outcome {
            Some(Some(result)) => break Followed::Answered(Box::new(result)),
            Some(None) => break Followed::Alone,
            None => {}
        }
    };
    lock(&shared.state).followers -= 1;
    followed
}
