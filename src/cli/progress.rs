//! How the command line shows the library's progress: bars on stderr for a person at a
//! terminal, log lines for the server.
use ama::progress::{Progress, ProgressEvent, Unit};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Progress bars on stderr (a spinner for work of unknown size).
pub fn bars() -> Progress {
    let bars: Mutex<HashMap<String, ProgressBar>> = Mutex::default();
    Progress::new(move |event| {
        let Ok(mut bars) = bars.lock() else {
            return;
        };
        match event {
            ProgressEvent::Started { task, total, unit } => {
                let bar = match total {
                    None => {
                        let b = ProgressBar::new_spinner();
                        b.set_style(style("{spinner} {msg}"));
                        b.enable_steady_tick(Duration::from_millis(120));
                        b
                    }
                    Some(n) => {
                        let b = ProgressBar::new(*n);
                        b.set_style(match unit {
                            Unit::Items => style("{msg} [{bar:30}] {pos}/{len} ({eta})"),
                            Unit::Bytes => style("{msg} [{bar:30}] {bytes}/{total_bytes}"),
                        });
                        b
                    }
                };
                bar.set_message(task.to_string());
                bars.insert(task.to_string(), bar);
            }
            ProgressEvent::Advanced { task, done, total } => {
                if let Some(bar) = bars.get(*task) {
                    if let Some(total) = total {
                        bar.set_length(*total);
                    }
                    bar.set_position(*done);
                }
            }
            ProgressEvent::Finished { task, .. } => {
                if let Some(bar) = bars.remove(*task) {
                    bar.finish_and_clear();
                }
            }
        }
    })
}

/// Bars, or nothing when the output is JSON for a program to read.
pub fn bars_unless(json: bool) -> Progress {
    if json {
        Progress::silent()
    } else {
        bars()
    }
}

/// Log lines: a task's start, each further tenth of it, and its end.
pub fn logged() -> Progress {
    let tenths: Mutex<HashMap<String, u64>> = Mutex::default();
    Progress::new(move |event| match event {
        ProgressEvent::Started { task, total, .. } => {
            match total {
                Some(n) => tracing::info!("{task}: 0 of {n}"),
                None => tracing::info!("{task}…"),
            }
            if let Ok(mut t) = tenths.lock() {
                t.insert(task.to_string(), 0);
            }
        }
        ProgressEvent::Advanced { task, done, total } => {
            let Some(total) = total.filter(|t| *t > 0) else {
                return;
            };
            let tenth = done * 10 / total;
            let Ok(mut t) = tenths.lock() else {
                return;
            };
            let last = t.entry(task.to_string()).or_default();
            if tenth > *last && *done < total {
                *last = tenth;
                tracing::info!("{task}: {done} of {total}");
            }
        }
        ProgressEvent::Finished { task, done } => {
            match done {
                0 => tracing::info!("{task}: done"),
                n => tracing::info!("{task}: done ({n})"),
            }
            if let Ok(mut t) = tenths.lock() {
                t.remove(*task);
            }
        }
    })
}
