//! The chat page in a real browser: headless Chromium driven through chromedriver with
//! fantoccini, against the real server (`ama serve` over the seed article).
//!
//! Opens the page, asks one of the article's related questions, follows its citation into
//! the reader, asks a typed follow-up, reloads (the conversation must survive) and saves
//! desktop and phone screenshots under `target/browser-test/`.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium` (override with `CHROMEDRIVER` and
//! `CHROME_BIN`). Without chromedriver the test is skipped, unless `CI` is set.

// Only `Server` is used here; the helpers other tests use are not dead code.
#[allow(dead_code)]
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the first answer may take (a cold server loads the model and the index first).
const FIRST_ANSWER: Duration = Duration::from_secs(240);
const ANSWER: Duration = Duration::from_secs(120);

fn chromedriver_path() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

fn chrome_path() -> String {
    std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(path: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-test");
    std::fs::create_dir_all(&dir).expect("create target/browser-test");
    dir
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Polls `script` (a function body returning a value) until it returns something truthy.
async fn wait_for(c: &Client, what: &str, timeout: Duration, script: &str) -> Value {
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

const DONE_COUNT: &str = "return document.querySelectorAll('.answer[data-state=\"done\"]').length";
const NO_ERROR: &str = "const e = document.querySelector('.answer[data-state=\"error\"]'); \
     return e ? e.innerText : null";

async fn wait_for_answers(c: &Client, n: usize, timeout: Duration) {
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

async fn run(base: &str, driver: &Driver, degraded: bool) {
    let profile = tempfile::tempdir().expect("temp profile dir");
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--disable-quic".to_string(),
        "--no-first-run".to_string(),
        "--disable-background-networking".to_string(),
        "--disable-component-update".to_string(),
        "--disable-sync".to_string(),
        format!("--user-data-dir={}", profile.path().display()),
        "--window-size=1280,900".to_string(),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chrome_path(), "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromedriver session");

    // The scenario runs in its own task so that a failed assertion still closes the browser.
    let task = tokio::spawn({
        let c = c.clone();
        let base = base.to_string();
        async move {
            if degraded {
                degraded_scenario(&c, &base).await
            } else {
                scenario(&c, &base).await
            }
        }
    });
    let outcome = task.await;
    let _ = c.close().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the browser scenario did not finish: {e}"),
        }
    }
}

async fn scenario(c: &Client, base: &str) {
    c.goto(&format!("{base}/")).await.expect("open the page");

    // The article and its related questions (the server may still be loading: the page waits).
    wait_for(
        c,
        "the article's related questions",
        FIRST_ANSWER,
        "return document.querySelectorAll('#article-related .chip').length > 0 \
         && document.querySelector('#article-body p') !== null",
    )
    .await;
    let title = js(
        c,
        "return document.getElementById('article-title').textContent",
    )
    .await;
    assert!(
        title.as_str().is_some_and(|t| t.contains("Ukraine")),
        "article title: {title}"
    );
    let focused = js(
        c,
        "return document.activeElement && document.activeElement.id",
    )
    .await;
    assert_eq!(
        focused,
        json!("question"),
        "the question box has focus on load"
    );
    let date = js(
        c,
        "return document.getElementById('article-date').textContent",
    )
    .await;
    assert!(
        date.as_str().is_some_and(|d| !d.is_empty()),
        "the article's date line is shown"
    );

    // Ask a related question by clicking its chip.
    let chip = c
        .find(Locator::Css("#article-related .chip"))
        .await
        .expect("a related question chip");
    let question = chip.text().await.expect("chip text");
    chip.click().await.expect("click the related question");
    // While answering, Send has become Stop and the chips are disabled.
    let busy = js(
        c,
        "return document.getElementById('send').textContent === 'Stop' \
         || document.querySelectorAll('.answer[data-state=\"done\"]').length > 0",
    )
    .await;
    assert_eq!(busy, json!(true), "Send turns into Stop while answering");
    wait_for_answers(c, 1, FIRST_ANSWER).await;
    assert_eq!(js(c, NO_ERROR).await, Value::Null);
    let asked = js(c, "return document.querySelector('.turn .q').innerText").await;
    assert!(
        asked.as_str().is_some_and(|q| q.contains(question.trim())),
        "the question bubble shows {question:?}: {asked}"
    );

    // The answer cites its evidence with chips, and shows no bare [n] marker.
    let cites = js(
        c,
        "return document.querySelectorAll('.answer[data-state=\"done\"] .answer-text .cite').length",
    )
    .await;
    assert!(
        cites.as_u64().unwrap_or(0) >= 1,
        "the answer has a citation chip"
    );
    let bare = js(
        c,
        "return [...document.querySelectorAll('.answer-text')].some(p => /\\[\\d+\\]/.test(p.textContent))",
    )
    .await;
    assert_eq!(bare, json!(false), "no [n] marker is shown as text");
    let related_after = js(
        c,
        "return document.querySelectorAll('.answer[data-state=\"done\"] .related .chip').length",
    )
    .await;
    assert!(
        related_after.as_u64().unwrap_or(0) >= 1,
        "the answer ends with related questions"
    );
    let send_label = js(c, "return document.getElementById('send').textContent").await;
    assert_eq!(send_label, json!("Send"), "Stop turns back into Send");

    // Clicking the citation highlights the evidence sentence inside the reader's viewport.
    let cite = c
        .find(Locator::Css(
            ".answer[data-state=\"done\"] .answer-text .cite",
        ))
        .await
        .expect("citation chip");
    cite.click().await.expect("click the citation");
    wait_for(
        c,
        "the cited sentence highlighted in view",
        Duration::from_secs(10),
        "const m = document.querySelector('#article-body mark.hl.flash'); \
         if (!m) return false; \
         const r = m.getBoundingClientRect(); \
         const v = document.getElementById('reader').getBoundingClientRect(); \
         const top = Math.max(v.top, 0), bottom = Math.min(v.bottom, window.innerHeight); \
         return r.height > 0 && r.top >= top - 1 && r.top < bottom && r.bottom <= bottom + 1",
    )
    .await;
    let marked = js(
        c,
        "return [...document.querySelectorAll('#article-body mark.hl.flash')].map(m => m.textContent).join('')",
    )
    .await;
    assert!(
        marked
            .as_str()
            .is_some_and(|t| t.split_whitespace().count() >= 3),
        "the highlight holds a sentence: {marked}"
    );

    // A typed follow-up, sent with Enter.
    let input = c
        .find(Locator::Css("#question"))
        .await
        .expect("question box");
    input
        .send_keys("Who replaced General Zaluzhny?\u{e007}")
        .await
        .expect("type the follow-up");
    wait_for_answers(c, 2, ANSWER).await;
    let turns = js(c, "return document.querySelectorAll('#log .turn').length").await;
    assert_eq!(turns, json!(2), "two questions and two answers");
    let second = js(
        c,
        "return document.querySelectorAll('.answer[data-state=\"done\"]')[1].querySelector('.answer-text').innerText",
    )
    .await;
    assert!(
        second.as_str().is_some_and(|t| !t.trim().is_empty()),
        "the follow-up has an answer"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    save_screenshot(c, "desktop.png").await;

    // The conversation survives a reload.
    let before = js(
        c,
        "return [...document.querySelectorAll('#log .turn')].map(t => t.innerText)",
    )
    .await;
    c.refresh().await.expect("reload");
    wait_for(
        c,
        "the restored conversation",
        Duration::from_secs(30),
        &DONE_COUNT.replace("return ", "return 2 <= "),
    )
    .await;
    wait_for(
        c,
        "the article after reload",
        Duration::from_secs(30),
        "return document.querySelector('#article-body p') !== null",
    )
    .await;
    let after = js(
        c,
        "return [...document.querySelectorAll('#log .turn')].map(t => t.innerText)",
    )
    .await;
    let questions = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().lines().next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        questions(&before),
        questions(&after),
        "the same questions after reload"
    );
    assert!(
        js(
            c,
            "return document.querySelectorAll('.answer-text .cite').length"
        )
        .await
        .as_u64()
        .unwrap_or(0)
            >= 1,
        "citations survive the reload"
    );

    // A phone-sized window: reader and chat stack, nothing overflows sideways, chips are
    // big enough to tap.
    c.set_window_size(390, 844).await.expect("phone size");
    c.refresh().await.expect("reload at phone size");
    wait_for(
        c,
        "the restored conversation on a phone",
        Duration::from_secs(30),
        &DONE_COUNT.replace("return ", "return 2 <= "),
    )
    .await;
    wait_for(
        c,
        "the article on a phone",
        Duration::from_secs(30),
        "return document.querySelector('#article-body p') !== null",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let layout = js(
        c,
        "return { width: innerWidth, scroll: document.documentElement.scrollWidth, \
         minChip: Math.min(...[...document.querySelectorAll('.chip')].map(b => b.getBoundingClientRect().height)) }",
    )
    .await;
    let width = layout["width"].as_f64().unwrap();
    assert!(
        layout["scroll"].as_f64().unwrap() <= width + 1.0,
        "no sideways scrolling on a phone: {layout}"
    );
    assert!(
        layout["minChip"].as_f64().unwrap() >= 40.0,
        "chips are at least 40px tall: {layout}"
    );
    save_screenshot(c, "phone.png").await;
    js(c, "window.scrollTo(0, 0); return true").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    save_screenshot(c, "phone-article.png").await;
}

#[test]
fn chat_page_in_a_real_browser() {
    let driver_path = chromedriver_path();
    if !driver_path.exists() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{} is missing, and CI is set: the browser test must run",
                driver_path.display()
            );
        }
        eprintln!(
            "skipping the browser test: {} is missing (install chromium and chromedriver)",
            driver_path.display()
        );
        return;
    }

    let server = crate::common::server::Server::start();
    let driver = Driver::start(&driver_path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(server.url.trim_end_matches('/'), &driver, false));
}

/// The model is unavailable: the reader gets the passage, quoted and cited, under a calm note.
async fn degraded_scenario(c: &Client, base: &str) {
    c.goto(&format!("{base}/")).await.expect("open the page");
    let input = c
        .find(Locator::Css("#question"))
        .await
        .expect("question box");
    input
        .send_keys("Who led the defense of Kyiv and Kherson?\u{e007}")
        .await
        .expect("type a question");
    wait_for_answers(c, 1, ANSWER).await;
    let note = js(
        c,
        "const n = document.querySelector('.answer[data-state=\"done\"] .notice.degraded'); \
         return n ? n.innerText : null",
    )
    .await;
    assert!(
        note.as_str().is_some_and(|t| t.contains("unavailable")),
        "no note that the answer writer is unavailable: {note}"
    );
    let answer = js(
        c,
        "const a = document.querySelector('.answer[data-state=\"done\"]'); \
         return [a.querySelector('.answer-text').innerText, a.querySelectorAll('.cite').length]",
    )
    .await;
    assert!(
        answer[0].as_str().is_some_and(|t| t.contains('“')) && answer[1].as_u64() >= Some(1),
        "the evidence is quoted with its citation: {answer}"
    );
    save_screenshot(c, "degraded.png").await;
}

#[test]
fn the_page_says_calmly_when_the_model_server_is_down() {
    let driver_path = chromedriver_path();
    if !driver_path.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing, and CI is set: the browser test must run",
            driver_path.display()
        );
        eprintln!("skipping: {} is missing", driver_path.display());
        return;
    }
    // Nothing listens there: every generation fails to connect.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let server = crate::common::server::Server::start_with(&["--llm-url", &dead]);
    let driver = Driver::start(&driver_path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(server.url.trim_end_matches('/'), &driver, true));
}
