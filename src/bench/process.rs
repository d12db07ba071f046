//! A served process's memory and open descriptors over a load test, read from `/proc`.
use serde::Serialize;

/// A served process's memory and open descriptors, read from `/proc` (Linux); `None`
/// elsewhere or once the process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProcessSample {
    pub rss_mb: f64,
    pub open_fds: usize,
}

pub fn sample_process(pid: u32) -> Option<ProcessSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(ProcessSample {
        rss_mb: rss_kb / 1024.0,
        open_fds,
    })
}

/// Samples of a process over a run: at the start, halfway, the end, and the largest in
/// between. Warm-up growth (threads, arenas, caches filling) shows in the first half; a leak
/// keeps growing in the second.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcessTrend {
    pub start: ProcessSample,
    pub halfway: ProcessSample,
    pub end: ProcessSample,
    pub peak_rss_mb: f64,
    pub peak_open_fds: usize,
    pub samples: usize,
}

impl ProcessTrend {
    pub fn from_samples(samples: &[ProcessSample]) -> Option<ProcessTrend> {
        Some(ProcessTrend {
            start: *samples.first()?,
            halfway: samples[samples.len() / 2],
            end: *samples.last()?,
            peak_rss_mb: samples.iter().map(|s| s.rss_mb).fold(0.0, f64::max),
            peak_open_fds: samples.iter().map(|s| s.open_fds).max()?,
            samples: samples.len(),
        })
    }
}

#[cfg(test)]
#[test]
fn this_process_can_be_sampled_where_proc_exists() {
    if std::path::Path::new("/proc/self/status").exists() {
        let s = sample_process(std::process::id()).unwrap();
        assert!(s.rss_mb > 0.0 && s.open_fds >= 3, "{s:?}");
        let t = ProcessTrend::from_samples(&[s, s]).unwrap();
        assert_eq!(t.samples, 2);
    }
    assert!(ProcessTrend::from_samples(&[]).is_none());
}
