//! Progress of long work (indexing, fetching a model, preparing suggestions, evaluating),
//! reported as events: the library draws nothing. The command line renders them as bars, the
//! server logs them.
use std::fmt;
use std::sync::Arc;

/// What a task counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Items,
    Bytes,
}

/// One report of a task. `task` names it in words ("indexing", "preparing suggestions").
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent<'a> {
    /// A task began; `total` is how much it will do, when known.
    Started {
        task: &'a str,
        total: Option<u64>,
        unit: Unit,
    },
    /// `done` of `total` are done (the total may have grown since the start).
    Advanced {
        task: &'a str,
        done: u64,
        total: Option<u64>,
    },
    /// The task ended (finished, failed or dropped).
    Finished { task: &'a str, done: u64 },
}

type Sink = dyn Fn(&ProgressEvent<'_>) + Send + Sync;

/// Where a long job reports its progress; `Progress::default()` reports nowhere.
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<Arc<Sink>>,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.sink.is_some() {
            "Progress(reported)"
        } else {
            "Progress(silent)"
        })
    }
}

impl Progress {
    /// Reports every event to `sink`.
    pub fn new(sink: impl Fn(&ProgressEvent<'_>) + Send + Sync + 'static) -> Progress {
        Progress {
            sink: Some(Arc::new(sink)),
        }
    }

    /// Reports nothing.
    pub fn silent() -> Progress {
        Progress::default()
    }

    /// Starts a task; it reports `Finished` when dropped.
    pub fn task(&self, name: impl Into<String>, total: Option<u64>, unit: Unit) -> Task {
        let task = Task {
            sink: self.sink.clone(),
            name: name.into(),
            done: 0,
            total,
        };
        task.emit(&ProgressEvent::Started {
            task: &task.name,
            total,
            unit,
        });
        task
    }
}

/// A running task of a [`Progress`].
pub struct Task {
    sink: Option<Arc<Sink>>,
    name: String,
    done: u64,
    total: Option<u64>,
}

impl Task {
    fn emit(&self, event: &ProgressEvent<'_>) {
        if let Some(sink) = &self.sink {
            sink(event);
        }
    }

    /// `n` more are done.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        self.emit(&ProgressEvent::Advanced {
            task: &self.name,
            done: self.done,
            total: self.total,
        });
    }

    /// The total grew by `n` (work discovered on the way, such as the next file's size).
    pub fn grow(&mut self, n: u64) {
        self.total = Some(self.total.unwrap_or(0) + n);
    }

    pub fn done(&self) -> u64 {
        self.done
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.emit(&ProgressEvent::Finished {
            task: &self.name,
            done: self.done,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_task_reports_start_advances_and_finish_in_order() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let progress = Progress::new(move |e| {
            let line = match e {
                ProgressEvent::Started { task, total, .. } => format!("start {task} {total:?}"),
                ProgressEvent::Advanced { done, total, .. } => format!("{done}/{total:?}"),
                ProgressEvent::Finished { task, done } => format!("end {task} {done}"),
            };
            log.lock().unwrap().push(line);
        });
        {
            let mut task = progress.task("indexing", Some(2), Unit::Items);
            task.advance(1);
            task.grow(1);
            task.advance(2);
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "start indexing Some(2)",
                "1/Some(2)",
                "3/Some(3)",
                "end indexing 3"
            ]
        );
        // A silent progress accepts the same calls.
        let mut quiet = Progress::silent().task("x", None, Unit::Bytes);
        quiet.advance(5);
        assert_eq!(quiet.done(), 5);
    }
}
