//! Running pip: finding a working one, downloading wheels, and finding a downloaded wheel.
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{io_err, FetchError};

/// Whether a working pip can be found (for tests that skip without one).
pub fn pip_available() -> bool {
    pip_commands().iter().any(|argv| {
        Command::new(argv[0])
            .args(&argv[1..])
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

fn pip_commands() -> [&'static [&'static str]; 2] {
    [&["pip"], &["python3", "-m", "pip"]]
}

pub(super) fn pip_download(requirements: &[&str], dest: &Path) -> Result<(), FetchError> {
    for argv in pip_commands() {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..])
            .args([
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(dest)
            .args(requirements);
        let output = match cmd.output() {
            Ok(output) => output,
            // This way of calling pip does not exist here: try the next one.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(format!("running {}", argv.join(" ")))(e)),
        };
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        // `python3 -m pip` without the pip module: treat as "no pip", try the next.
        if stderr.contains("No module named pip") {
            continue;
        }
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(FetchError::Pip {
            command: format!(
                "{} download --no-deps {}",
                argv.join(" "),
                requirements.join(" ")
            ),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        });
    }
    Err(FetchError::PipUnavailable)
}

pub(super) fn find_wheel(dir: &Path, prefix: &str) -> Result<PathBuf, FetchError> {
    let entries = fs::read_dir(dir).map_err(io_err(format!("listing {}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".whl") {
            return Ok(entry.path());
        }
    }
    Err(FetchError::MissingMember {
        what: format!("a wheel named {prefix}*.whl"),
    })
}
