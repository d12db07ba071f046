//! Reading the page: scripts run in it, polls until it shows what is awaited, and
//! screenshots under `target/browser-test/`.
use fantoccini::Client;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the first answer may take (a cold server loads the model and the index first).
pub(super) const FIRST_ANSWER: Duration = Duration::from_secs(240);
pub(super) const ANSWER: Duration = Duration::from_secs(120);

pub(super) fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-test");
    std::fs::create_dir_all(&dir).expect("create target/browser-test");
    dir
}

pub(super) async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

pub(super) async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Polls `script` (a function body returning a value) until it returns something truthy.
pub(super) async fn wait_for(c: &Client, what: &str, timeout: Duration, script: &str) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = js(c, script).await;
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().unwrap_or(0.0) != 0.0,
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        if Instant::now() > deadline {
            let log = js(
                c,
                "return (document.getElementById('log') || document.body).innerText",
            )
            .await;
            save_screenshot(c, "failure.png").await;
            panic!("timed out waiting for {what}; the conversation reads:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) const DONE_COUNT: &str =
    "return document.querySelectorAll('.answer[data-state=\"done\"]').length";
pub(super) const NO_ERROR: &str =
    "const e = document.querySelector('.answer[data-state=\"error\"]'); \
     return e ? e.innerText : null";

pub(super) async fn wait_for_answers(c: &Client, n: usize, timeout: Duration) {
    let script = format!(
        "const err = document.querySelector('.answer[data-state=\"error\"]'); \
         if (err) return 'error: ' + err.innerText; \
         return document.querySelectorAll('.answer[data-state=\"done\"]').length >= {n}"
    );
    let v = wait_for(c, &format!("{n} finished answer(s)"), timeout, &script).await;
    if let Value::String(s) = v {
        panic!("the page shows an error instead of an answer: {s}");
    }
}
