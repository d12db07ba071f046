//! The model server is down: the page quotes the passage, cited, under a calm note.
use fantoccini::{Client, Locator};

use super::driver::{chromedriver_path, free_port, run, Driver};
use super::page::{js, save_screenshot, wait_for_answers, ANSWER};

/// The model is unavailable: the reader gets the passage, quoted and cited, under a calm note.
pub(super) async fn scenario(c: &Client, base: &str) {
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
