//! Python clients against the server: the official `openai` package, and schemathesis
//! checking the responses against `/openapi.json`. Each runs from a pinned virtual
//! environment under `target/`.
use super::client::client;
use crate::common::server::Server;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The official `openai` package, pinned, in a virtual environment under `target/` (made
/// with pip the first time, like the model).
const OPENAI_PACKAGE: &str = "openai==3.57.0";
/// Schemathesis, pinned, the same way.
const SCHEMATHESIS_PACKAGE: &str = "schemathesis==4.32.5";

/// The virtual environment `target/NAME` with one pinned package, made the first time (the
/// marker file, named as the pin, says it is complete). `.ci/run` makes the same ones ahead.
fn python_venv(name: &str, package: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target").join(name);
    let marker = venv.join(package);
    if !marker.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for the Python client tests");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "pip install {package} failed");
        std::fs::write(&marker, "").unwrap();
    }
    venv.join("bin")
}

fn openai_python() -> std::path::PathBuf {
    python_venv("openai-venv", OPENAI_PACKAGE).join("python")
}

/// Runs `tests/openai_client.py` with the official client against the server.
pub(super) fn openai_python_client(url: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stdout = succeeded(
        Command::new(openai_python())
            .arg(root.join("tests/openai_client.py"))
            .arg(format!("{url}/v1")),
        "the openai client",
    );
    assert!(stdout.contains("ok: models, chat, stream"), "{stdout}");
}

/// Runs a command, asserts that it succeeded (showing its output when not), returns its
/// standard output.
fn succeeded(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    stdout
}

/// The contract: `/openapi.json` describes the API, and schemathesis, generating requests
/// from it (examples, boundary and malformed values, random ones), finds no 5xx, no
/// undocumented content type and no body that breaks its schema: every error is the
/// documented JSON error body.
#[test]
fn schemathesis_finds_no_server_error_and_only_documented_responses() {
    let server = Server::start_with(&["--rate-limit", "0", "--feedback-rate-limit", "0"]);
    let doc: Value = client()
        .get(format!("{}/openapi.json", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["paths"]["/api/ask"]["post"].is_object(), "{doc}");
    let st = python_venv("schemathesis-venv", SCHEMATHESIS_PACKAGE).join("schemathesis");
    // Hypothesis keeps its example database in the working folder: a temporary one.
    let work = tempfile::tempdir().unwrap();
    let stdout = succeeded(
        Command::new(st)
            .current_dir(work.path())
        .args(["--no-color", "run"])
        .arg(format!("{}/openapi.json", server.url))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "8",
            "--request-timeout",
            "60",
            "--seed",
            "1",
        ]),
        "schemathesis",
    );
    // It ran every operation (a schema it could not read would test nothing).
    assert!(stdout.contains("11 selected"), "{stdout}");
}
