//! Append-only JSONL logs of bounded size (readers' feedback, readers' questions).
//!
//! Every append is one `write` of a whole line on a file opened for appending, so lines from
//! concurrent writers (threads or processes) never interleave. When a line would take the file
//! past its cap, the file is first renamed to `<name>.1` (replacing an older one), so a log
//! holds at most twice its cap on disk, and readers of the newest entries read one file.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A JSONL file that rotates once at `max_bytes`.
#[derive(Debug, Clone)]
pub struct BoundedLog {
    path: PathBuf,
    max_bytes: u64,
}

impl BoundedLog {
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64) -> BoundedLog {
        BoundedLog {
            path: path.into(),
            max_bytes: max_bytes.max(1),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the previous generation goes on rotation.
    pub fn rotated_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Appends `line` (a newline is added) in one write, rotating first when it would not fit.
    pub fn append(&self, line: &str) -> std::io::Result<()> {
        let mut record = String::with_capacity(line.len() + 1);
        record.push_str(line.trim_end_matches('\n'));
        record.push('\n');
        let mut file = self.open()?;
        let size = file.metadata()?.len();
        if size > 0 && size + record.len() as u64 > self.max_bytes {
            // Two writers may both decide to rotate: the second rename moves a file with a
            // line or two in it over the first's `.1`, which loses at most those lines.
            std::fs::rename(&self.path, self.rotated_path())?;
            file = self.open()?;
        }
        file.write_all(record.as_bytes())
    }

    fn open(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
    }

    /// The text of the current file's last `max_bytes` at most (whole lines only); empty when
    /// there is no file.
    pub fn tail(&self) -> std::io::Result<String> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(e),
        };
        let size = file.metadata()?.len();
        let start = size.saturating_sub(self.max_bytes);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if start > 0 {
            // Drop the partial first line.
            let cut = bytes
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| i + 1);
            bytes.drain(..cut);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_cap_and_keeps_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = BoundedLog::new(dir.path().join("x.jsonl"), 100);
        for i in 0..30 {
            log.append(&format!("{{\"n\": {i}}}")).unwrap();
        }
        let current = std::fs::metadata(log.path()).unwrap().len();
        let rotated = std::fs::metadata(log.rotated_path()).unwrap().len();
        assert!(current <= 100 && rotated <= 100, "{current} {rotated}");
        let text = log.tail().unwrap();
        assert!(text.ends_with("{\"n\": 29}\n"), "{text}");
        for line in text.lines() {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "{line}"
            );
        }
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let log = BoundedLog::new(dir.path().join("x.jsonl"), 10 << 20);
        let long = "y".repeat(5000);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (log, long) = (&log, &long);
                s.spawn(move || {
                    for i in 0..50 {
                        log.append(&format!("{{\"t\": {t}, \"i\": {i}, \"p\": \"{long}\"}}"))
                            .unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 200);
        for line in text.lines() {
            assert!(serde_json::from_str::<serde_json::Value>(line).is_ok());
        }
    }

    #[test]
    fn the_tail_of_a_missing_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let log = BoundedLog::new(dir.path().join("none.jsonl"), 10);
        assert_eq!(log.tail().unwrap(), "");
    }
}
