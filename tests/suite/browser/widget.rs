//! The embeddable widget on another site's page, in a real browser: the page is served from
//! another loopback port (another origin) with hostile CSS, and embeds the answers server's
//! `/widget.js` with one script tag, as a publisher would. The server allows that origin
//! (`--allow-origin`); a second site on another port is not allowed and must get the widget's
//! refusal, with nothing written on the server.
use fantoccini::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use super::driver::{chromedriver_path, run_scenario, Driver};
use super::host::{article_page, HostSite};
use super::input::{click, hover, in_widget, type_question};
use super::page::{js, save_screenshot, wait_for, ANSWER};
use super::widget_checks::{
    check_host_unchanged, check_isolation, check_keyboard_only, check_no_third_party, check_phone,
    record_states, refused_site, report_counts, stop_with_escape, wait_for_states,
};
use crate::common::server::Server;

/// The number of finished answers in the widget.
const DONE: &str = "return root ? root.querySelectorAll('.answer[data-state=\"done\"]').length : 0";

/// What the test knows of the article and the server.
pub(super) struct Setup {
    pub server: String,
    pub data: std::path::PathBuf,
    pub allowed: String,
    pub refused: String,
}

#[test]
fn the_widget_on_another_site_in_a_real_browser() {
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
    let mut allowed = HostSite::bind();
    let mut refused = HostSite::bind();
    let server = Server::start_with(&["--allow-origin", &allowed.origin]);
    let base = server.url.trim_end_matches('/').to_string();

    // The publisher prints the article as it is in the corpus, and adds the tag under it.
    let http = reqwest::blocking::Client::new();
    let list: Value = http
        .get(format!("{base}/api/articles"))
        .send()
        .and_then(|r| r.json())
        .expect("the articles");
    let id = list["articles"][0]["id"]
        .as_str()
        .expect("an article")
        .to_string();
    let article: Value = http
        .get(format!("{base}/api/articles/{id}"))
        .send()
        .and_then(|r| r.json())
        .expect("the article");
    let text = article["text"].as_str().unwrap_or_default();
    let paragraphs: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let title = article["title"].as_str().unwrap_or_default();
    let page = article_page(title, &paragraphs, &format!("{base}/widget.js"), &id);
    allowed.serve(page.clone());
    refused.serve(page);

    let setup = Setup {
        server: base,
        data: server.data.clone(),
        allowed: allowed.origin.clone(),
        refused: refused.origin.clone(),
    };
    let driver = Driver::start(&driver_path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run_scenario(&driver, move |c| async move {
        on_an_allowed_site(&c, &setup).await;
        refused_site(&c, &setup).await;
    }));
}

async fn on_an_allowed_site(c: &Client, setup: &Setup) {
    c.goto(&format!("{}/", setup.allowed))
        .await
        .expect("open the host page");

    // It renders where the tag is, with the article's suggested questions.
    wait_for(
        c,
        "the widget",
        Duration::from_secs(20),
        "return !!window.amaReady",
    )
    .await;
    let chips = wait_for(
        c,
        "the suggested questions",
        Duration::from_secs(20),
        "const w = document.querySelector('ama-widget'); \
         const cs = w && w.shadowRoot ? [...w.shadowRoot.querySelectorAll('.explore .chip')] : []; \
         return cs.length ? cs.map(b => b.textContent) : null",
    )
    .await;
    let timing = js(
        c,
        "const e = performance.getEntriesByType('resource').find(x => x.name.endsWith('/widget.js')); \
         return {ready: window.amaReady.at, mount: window.amaReady.detail.interactiveMs, \
                 loaded: e ? e.responseEnd : null, size: e ? e.decodedBodySize : null}",
    )
    .await;
    let ready = timing["ready"].as_f64().unwrap_or(0.0);
    let loaded = timing["loaded"].as_f64().unwrap_or(ready);
    eprintln!(
        "widget: interactive {:.0} ms after widget.js finished loading (mounting took {:.1} ms); \
         widget.js is {} bytes",
        ready - loaded,
        timing["mount"].as_f64().unwrap_or(0.0),
        timing["size"],
    );
    let chips: Vec<String> = serde_json::from_value(chips).unwrap_or_default();
    assert!(!chips.is_empty(), "no suggested questions");
    let placed = js(
        c,
        "const s = document.querySelector('script[src$=\"/widget.js\"]'); \
         return s.nextElementSibling && s.nextElementSibling.tagName",
    )
    .await;
    assert_eq!(
        placed,
        json!("AMA-WIDGET"),
        "the widget is right after its tag"
    );
    check_isolation(c).await;
    check_no_third_party(c, setup).await;
    record_states(c).await;

    // A suggested question is answered at once (prepared ahead of time).
    let clicked = Instant::now();
    click(c, ".explore .chip", 0).await;
    wait_for(
        c,
        "the suggested question's answer",
        ANSWER,
        &format!("{} {DONE}", super::input::ROOT),
    )
    .await;
    let took = clicked.elapsed();
    let first = in_widget(
        c,
        "const a = root.querySelector('.answer[data-state=\"done\"]'); \
         return {prepared: a.dataset.precomputed === 'true', cites: a.querySelectorAll('.answer-text .cite').length, \
                 q: a.closest('.turn').querySelector('.q').textContent}",
    )
    .await;
    eprintln!(
        "widget: the suggested question was answered {} ms after the click",
        took.as_millis()
    );
    assert_eq!(first["prepared"], true, "not a prepared answer: {first}");
    assert!(
        first["q"]
            .as_str()
            .is_some_and(|q| q.contains(chips[0].trim())),
        "{first}"
    );
    assert!(
        took < Duration::from_secs(5),
        "a prepared answer took {took:?}"
    );

    // "Was this useful?" goes to the server, from this other origin.
    let before = report_counts(&setup.data);
    click(c, ".answer[data-state=\"done\"] .feedback button", 0).await;
    wait_for(
        c,
        "thanks for the feedback",
        Duration::from_secs(30),
        &format!(
            "{} return root.querySelector('.feedback-status').textContent === 'Thanks!'",
            super::input::ROOT
        ),
    )
    .await;
    let started = Instant::now();
    while report_counts(&setup.data).1 <= before.1 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        report_counts(&setup.data).1,
        before.1 + 1,
        "the verdict was not recorded"
    );

    // A typed question streams (stage labels, then the draft) into a cited answer, with one
    // announcement when it is ready.
    let question = [
        "Who replaced General Zaluzhny?",
        "Which weapons did Kyiv use on Russian targets?",
    ]
    .into_iter()
    .find(|q| !chips.iter().any(|c| c.trim().eq_ignore_ascii_case(q)))
    .expect("a question that is not a suggestion");
    js(c, "window.__amaSaid = []; return true").await;
    type_question(c, question).await;
    let seen = wait_for_states(c, 1, ANSWER).await;
    assert!(
        seen.iter().any(|s| s == "streaming:true"),
        "the answer did not stream with the log marked busy: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("reading") || s.starts_with("writing")),
        "no stage label before the text: {seen:?}"
    );
    wait_for(
        c,
        "the announcement that the answer is ready",
        Duration::from_secs(5),
        "return (window.__amaSaid || []).some(s => s.startsWith('Answer ready'))",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let said = js(c, "return window.__amaSaid || []").await;
    let said: Vec<String> = serde_json::from_value(said).unwrap_or_default();
    assert_eq!(
        said.iter()
            .filter(|s| s.starts_with("Answer ready"))
            .count(),
        1,
        "one announcement when the answer is ready, none per token: {said:?}"
    );
    assert!(said.len() <= 3, "announced too often: {said:?}");
    let second = in_widget(
        c,
        "const a = root.querySelectorAll('.answer[data-state=\"done\"]')[1]; \
         return {cites: a.querySelectorAll('.answer-text .cite').length, text: a.querySelector('.answer-text').textContent, \
                 related: a.querySelectorAll('.related .chip').length, bare: /\\[\\d+\\]/.test(a.querySelector('.answer-text').textContent)}",
    )
    .await;
    assert!(
        second["cites"].as_u64() >= Some(1),
        "no citation chip: {second}"
    );
    assert_eq!(second["bare"], false, "a bare [n] marker: {second}");

    // Its citation scrolls the host page to the sentence and highlights it there.
    let quote = in_widget(
        c,
        "const a = root.querySelectorAll('.answer[data-state=\"done\"]')[1]; \
         const n = a.querySelector('.answer-text .cite').dataset.n; \
         const li = [...a.querySelectorAll('.sources-list li')].find(l => l.querySelector('.cite').dataset.n === n); \
         return li.querySelector('.source-quote').textContent",
    )
    .await;
    // The first answer's chips come first. Hovering one previews its sentence.
    let nth = first["cites"].as_u64().unwrap_or(0) as usize;
    hover(c, ".answer[data-state=\"done\"] .answer-text .cite", nth).await;
    let preview = in_widget(
        c,
        "const p = root.querySelector('.preview'); return p.hidden ? null : p.querySelector('.preview-quote').textContent",
    )
    .await;
    assert_eq!(
        preview, quote,
        "hovering a citation does not preview its sentence"
    );
    click(c, ".answer[data-state=\"done\"] .answer-text .cite", nth).await;
    let lit = wait_for(
        c,
        "the cited sentence highlighted in the host page, in view",
        Duration::from_secs(30),
        "for (const n of ['ama-cite-flash', 'ama-cite']) { \
           const h = CSS.highlights.get(n); if (!h || !h.size) continue; \
           const r = [...h][h.size - 1]; const b = r.getBoundingClientRect(); \
           if (b.top < 0 || b.bottom > innerHeight || b.height === 0) return false; \
           return {text: r.toString(), inStory: document.getElementById('story').contains(r.commonAncestorContainer), \
                   rule: [...document.adoptedStyleSheets].some(s => [...s.cssRules].some(x => x.selectorText && x.selectorText.startsWith('::highlight(')))}; } \
         return false",
    )
    .await;
    let fold = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric() || c.is_whitespace())
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (lit_text, quoted) = (
        fold(lit["text"].as_str().unwrap_or("")),
        fold(quote.as_str().unwrap_or("")),
    );
    assert!(
        !lit_text.is_empty() && lit_text == quoted,
        "the highlight is not the cited sentence:\n{lit_text}\n{quoted}"
    );
    assert_eq!(
        lit["inStory"], true,
        "the highlight is not in the host's article: {lit}"
    );
    assert_eq!(lit["rule"], true, "no ::highlight rule on the page: {lit}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    save_screenshot(c, "widget-highlight.png").await;

    // Stop really stops: the answer is cut off and the server never finishes it (an answer
    // the server made would be in its store's questions).
    let stopped_question = "Why did the Kremlin deploy North Korean reinforcements to Kursk?";
    type_question(c, stopped_question).await;
    wait_for(
        c,
        "the third answer under way",
        Duration::from_secs(30),
        &format!("{} const a = root.querySelectorAll('.answer')[2]; return !!a && ['reading', 'writing', 'streaming'].includes(a.dataset.state)", super::input::ROOT),
    )
    .await;
    click(c, ".send", 0).await;
    wait_for(
        c,
        "the stopped answer",
        Duration::from_secs(30),
        &format!("{} const a = root.querySelectorAll('.answer')[2]; return a.dataset.state === 'stopped' || a.dataset.state === 'done' ? a.dataset.state : false", super::input::ROOT),
    )
    .await;
    let state = in_widget(c, "return [root.querySelectorAll('.answer')[2].dataset.state, root.querySelector('.send').textContent]").await;
    assert_eq!(
        state,
        json!(["stopped", "Ask"]),
        "Stop did not stop the answer"
    );
    stop_with_escape(c).await;

    // What the article does not cover: said kindly, with questions it can answer.
    let n = in_widget(c, "return root.querySelectorAll('.answer').length").await;
    type_question(c, "What is the best recipe for banana bread?").await;
    let i = n.as_u64().unwrap_or(0) as usize;
    wait_for_states(c, i, ANSWER).await;
    let declined = in_widget(
        c,
        &format!(
            "const a = root.querySelectorAll('.answer')[{i}]; \
             return {{declined: !!a.querySelector('.answer-text.declined'), heading: (a.querySelector('.related h4') || {{}}).textContent, \
                     chips: a.querySelectorAll('.related .chip').length}}"
        ),
    )
    .await;
    assert_eq!(declined["declined"], true, "{declined}");
    assert_eq!(
        declined["heading"], "Questions the article can answer",
        "{declined}"
    );
    assert!(declined["chips"].as_u64() >= Some(1), "{declined}");

    // The page around it is as the publisher made it.
    check_host_unchanged(c).await;

    // On a page without the sentence (an excerpt: the host drops that paragraph), the chip
    // opens the quote under its answer instead; Close gives the focus back to the chip.
    js(
        c,
        "const h = CSS.highlights.get('ama-cite') || CSS.highlights.get('ama-cite-flash'); \
         const r = [...h][0]; r.startContainer.parentElement.closest('p').remove(); \
         CSS.highlights.clear(); return true",
    )
    .await;
    click(c, ".answer[data-state=\"done\"] .answer-text .cite", nth).await;
    let card = wait_for(
        c,
        "the quote opened under the answer",
        Duration::from_secs(30),
        &format!(
            "{} const q = root.querySelector('.quote-card blockquote'); \
             return q && {{quote: q.textContent, lit: CSS.highlights.size}}",
            super::input::ROOT
        ),
    )
    .await;
    assert_eq!(card["quote"], quote, "{card}");
    assert_eq!(
        card["lit"], 0,
        "nothing to highlight, yet something is: {card}"
    );
    click(c, ".quote-card button", 0).await;
    let back = in_widget(
        c,
        "return !root.querySelector('.quote-card') && root.activeElement && root.activeElement.classList.contains('cite')",
    )
    .await;
    assert_eq!(
        back,
        json!(true),
        "Close did not close the quote or return to its chip"
    );
    js(c, "const w = document.querySelector('ama-widget'); w.scrollIntoView({block: 'start'}); return true").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    save_screenshot(c, "widget-desktop.png").await;
    let asked = report_counts(&setup.data);
    let most = crate::common::server::report(&["--data".as_ref(), setup.data.as_os_str()]);
    assert!(
        !most.to_string().contains(stopped_question),
        "the stopped question was answered on the server anyway: {most}"
    );
    eprintln!(
        "widget: the store has {} questions and {} verdicts",
        asked.0, asked.1
    );

    check_keyboard_only(c).await;
    close_and_reopen(c).await;
    check_phone(c, setup).await;
}

/// Close leaves one small button; the choice holds for the visit (a reload); the button
/// brings the box back.
async fn close_and_reopen(c: &Client) {
    c.set_window_size(1280, 900).await.expect("desktop size");
    click(c, ".bar-tools .tool", 1).await;
    let closed =
        "return root.querySelector('.panel').hidden && !root.querySelector('.reopen').hidden \
                  && root.querySelector('.reopen').getBoundingClientRect().height >= 44";
    assert_eq!(
        in_widget(c, closed).await,
        json!(true),
        "Close did not close the box"
    );
    c.refresh().await.expect("reload");
    wait_for(
        c,
        "the widget after reload",
        Duration::from_secs(20),
        "return !!window.amaReady",
    )
    .await;
    assert_eq!(
        in_widget(c, closed).await,
        json!(true),
        "closed is not remembered for the visit"
    );
    click(c, ".reopen", 0).await;
    let open = in_widget(
        c,
        "return !root.querySelector('.panel').hidden && root.querySelector('.reopen').hidden \
         && root.activeElement === root.querySelector('textarea')",
    )
    .await;
    assert_eq!(open, json!(true), "the box did not come back");
}
