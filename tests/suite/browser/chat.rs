//! The main scenario: the article and its related questions, an answer with its citation
//! followed into the reader, a typed follow-up, a reload, and desktop and phone screenshots.
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use std::time::Duration;

use super::driver::{chromedriver_path, run, Driver};
use super::page::{
    js, save_screenshot, wait_for, wait_for_answers, ANSWER, DONE_COUNT, FIRST_ANSWER, NO_ERROR,
};

pub(super) async fn scenario(c: &Client, base: &str) {
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
