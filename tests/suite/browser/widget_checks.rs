//! The widget scenario's checks: isolation from the host's CSS, the host page untouched, no
//! third-party requests, keyboard-only use, a phone's width, and the refusal on a site that is
//! not allowed.
use fantoccini::Client;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

use super::input::{click, in_widget, keys, type_question, ENTER, ESCAPE, FOCUSED, ROOT, TAB};
use super::page::{js, save_screenshot, wait_for};
use super::widget::Setup;

/// The store's questions and verdicts, `(questions, feedback)`.
pub(super) fn report_counts(data: &Path) -> (i64, i64) {
    let r = crate::common::server::report(&["--data".as_ref(), data.as_os_str()]);
    (
        r["questions"].as_i64().unwrap_or(-1),
        r["feedback"].as_i64().unwrap_or(-1),
    )
}

/// Records, for each answer, the states it went through with the log's `aria-busy`
/// (`window.__amaStates`), and what the live region said (`window.__amaSaid`).
pub(super) async fn record_states(c: &Client) {
    in_widget(
        c,
        "window.__amaStates = []; window.__amaSaid = []; \
         const live = root.querySelector('.ama > [role=status]'); \
         const note = () => { \
           const busy = root.querySelector('.log').getAttribute('aria-busy'); \
           root.querySelectorAll('.answer').forEach((a, i) => { \
             const l = (window.__amaStates[i] = window.__amaStates[i] || []); \
             const s = a.dataset.state + ':' + busy; if (l[l.length - 1] !== s) l.push(s); }); \
           const t = live.textContent; if (t && window.__amaLast !== t) window.__amaSaid.push(t); window.__amaLast = t; }; \
         new MutationObserver(note).observe(root, {subtree: true, childList: true, attributes: true, characterData: true}); \
         return true",
    )
    .await;
}

/// Waits for answer `i` (from 0) to finish; the states it went through.
pub(super) async fn wait_for_states(c: &Client, i: usize, timeout: Duration) -> Vec<String> {
    let v = wait_for(
        c,
        &format!("answer {i}"),
        timeout,
        &format!(
            "{ROOT} const a = root.querySelectorAll('.answer')[{i}]; \
             if (a && a.dataset.state === 'error') return 'error: ' + a.innerText; \
             return !!a && a.dataset.state === 'done'"
        ),
    )
    .await;
    if let Value::String(s) = v {
        panic!("the widget shows an error instead of an answer: {s}");
    }
    let seen = js(c, &format!("return (window.__amaStates || [])[{i}] || []")).await;
    serde_json::from_value(seen).unwrap_or_default()
}

/// The host's hostile CSS does not reach the widget, and the widget's does not reach the host.
pub(super) async fn check_isolation(c: &Client) {
    let v = in_widget(
        c,
        "const s = (el) => getComputedStyle(el); \
         const ta = root.querySelector('textarea'), send = root.querySelector('.send'); \
         const chip = root.querySelector('.explore .chip'), panel = root.querySelector('.panel'); \
         return {host: [s(w).display, s(w).position], ta: [s(ta).fontSize, s(ta).boxSizing, s(ta).display], \
                 send: send.getBoundingClientRect().height, chip: [chip.getBoundingClientRect().height, s(chip).display], \
                 panel: [s(panel).display, panel.getBoundingClientRect().height], \
                 fixed: [...root.querySelectorAll('*')].some(e => s(e).position === 'fixed'), \
                 headline: s(document.getElementById('headline')).fontSize, \
                 hostButton: s(document.getElementById('host-button')).display}",
    )
    .await;
    assert_eq!(v["host"], json!(["block", "static"]), "{v}");
    assert_eq!(v["ta"], json!(["16px", "border-box", "block"]), "{v}");
    assert!(v["send"].as_f64() >= Some(44.0), "{v}");
    assert!(
        v["chip"][0].as_f64() >= Some(44.0)
            && v["chip"][1].as_str().is_some_and(|d| d.ends_with("flex")),
        "{v}"
    );
    assert!(
        v["panel"][0] == "block" && v["panel"][1].as_f64() > Some(150.0),
        "{v}"
    );
    assert_eq!(v["fixed"], false, "nothing is fixed over the page: {v}");
    // The host's own rules still hold for the host's own elements.
    assert_eq!(v["headline"], "44px", "{v}");
    assert_eq!(v["hostButton"], "none", "{v}");
}

/// Every request of the page went to the page's own site or to the answers server.
pub(super) async fn check_no_third_party(c: &Client, setup: &Setup) {
    let names = js(
        c,
        "return performance.getEntriesByType('resource').map(e => e.name)",
    )
    .await;
    let names: Vec<String> = serde_json::from_value(names).unwrap_or_default();
    assert!(!names.is_empty());
    for n in &names {
        assert!(
            n.starts_with(&format!("{}/", setup.server))
                || n.starts_with(&format!("{}/", setup.allowed)),
            "a request elsewhere: {n}"
        );
    }
}

/// The host's DOM is as the page's HTML made it (the widget's element aside), and the only
/// style the widget added to the document is its `::highlight` rules.
pub(super) async fn check_host_unchanged(c: &Client) {
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(location.href).then(r => r.text()).then(html => { \
               const parsed = new DOMParser().parseFromString(html, 'text/html'); \
               const live = document.body.cloneNode(true); \
               live.querySelectorAll('ama-widget').forEach(e => e.remove()); \
               const rules = [...document.adoptedStyleSheets].flatMap(s => [...s.cssRules].map(r => r.selectorText || r.cssText)); \
               done({same: live.outerHTML === parsed.body.outerHTML, head: document.head.outerHTML === parsed.head.outerHTML, \
                     sheets: document.styleSheets.length, rules, widgets: document.querySelectorAll('ama-widget').length}); \
             }, e => done({error: String(e)}));",
            vec![],
        )
        .await
        .expect("compare the host page");
    assert_eq!(v["same"], true, "the host's body changed: {v}");
    assert_eq!(v["head"], true, "the host's head changed: {v}");
    assert_eq!(v["sheets"], 1, "{v}");
    assert_eq!(v["widgets"], 1, "{v}");
    let rules: Vec<String> = serde_json::from_value(v["rules"].clone()).unwrap_or_default();
    assert!(
        rules.iter().all(|r| r.starts_with("::highlight(")),
        "the widget added rules to the page: {rules:?}"
    );
}

/// Esc stops an answer from the keyboard.
pub(super) async fn stop_with_escape(c: &Client) {
    let n = in_widget(c, "return root.querySelectorAll('.answer').length")
        .await
        .as_u64()
        .unwrap_or(0);
    type_question(c, "What did Putin aim to prevent about Kursk?").await;
    keys(c, &ESCAPE.to_string()).await;
    let state = wait_for(
        c,
        "the answer stopped with Esc",
        Duration::from_secs(20),
        &format!(
            "{ROOT} const a = root.querySelectorAll('.answer')[{n}]; \
             return a && ['stopped', 'done', 'error'].includes(a.dataset.state) ? a.dataset.state : false"
        ),
    )
    .await;
    assert_eq!(state, json!("stopped"), "Esc did not stop the answer");
}

/// From the keyboard alone: Tab reaches a suggested question, Enter asks it; then Tab reaches
/// every control of the widget, each with a visible focus ring.
pub(super) async fn check_keyboard_only(c: &Client) {
    js(c, "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); return true").await;
    let before = in_widget(
        c,
        "return root.querySelectorAll('.answer[data-state=\"done\"]').length",
    )
    .await;
    let mut on_chip = false;
    for _ in 0..20 {
        keys(c, &TAB.to_string()).await;
        let f = in_widget(c, FOCUSED).await;
        if f["cls"].as_str().is_some_and(|c| c.contains("chip")) {
            on_chip = true;
            break;
        }
    }
    assert!(on_chip, "Tab never reached a suggested question");
    keys(c, &ENTER.to_string()).await;
    wait_for(
        c,
        "the answer asked with the keyboard",
        Duration::from_secs(30),
        &format!(
            "{ROOT} return root.querySelectorAll('.answer[data-state=\"done\"]').length > {before}"
        ),
    )
    .await;

    let count = in_widget(
        c,
        "root.__all = [...root.querySelectorAll('button, textarea, a[href], summary')] \
           .filter(e => !e.disabled && e.getClientRects().length > 0 && (e.tagName === 'SUMMARY' || !e.closest('details:not([open])'))); \
         root.__hits = []; \
         root.addEventListener('focusin', e => { const s = getComputedStyle(e.target); \
           root.__hits.push([root.__all.indexOf(e.target), s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2]); }); \
         document.activeElement && document.activeElement.blur(); \
         return root.__all.length",
    )
    .await
    .as_u64()
    .unwrap_or(0) as usize;
    assert!(count > 10, "too few controls: {count}");
    keys(c, &TAB.to_string().repeat(2 * count + 6)).await;
    let v = in_widget(
        c,
        "const hits = root.__hits; \
         const missed = root.__all.map((e, i) => i).filter(i => !hits.some(h => h[0] === i)) \
           .map(i => root.__all[i].outerHTML.slice(0, 80)); \
         return {missed, noRing: hits.filter(h => !h[1]).length, outside: hits.filter(h => h[0] < 0).length}",
    )
    .await;
    assert_eq!(
        v["missed"],
        json!([]),
        "Tab did not reach every control: {v}"
    );
    assert_eq!(
        v["noRing"], 0,
        "a control without a visible focus ring: {v}"
    );
}

/// At a phone's width: nothing sideways, touch targets of 44 px, screenshots.
pub(super) async fn check_phone(c: &Client, setup: &Setup) {
    for (width, name) in [(375, "widget-phone.png"), (320, "widget-phone-320.png")] {
        c.set_window_size(width, 760).await.expect("phone size");
        tokio::time::sleep(Duration::from_millis(400)).await;
        if width == 375 {
            // An answer on the phone, asked with a tap on a suggestion.
            click(c, ".explore .chip", 1).await;
            wait_for(
                c,
                "an answer on the phone",
                Duration::from_secs(30),
                &format!("{ROOT} return !!root.querySelector('.answer[data-state=\"done\"]')"),
            )
            .await;
        }
        let v = in_widget(
            c,
            "w.scrollIntoView({block: 'start'}); \
             const small = [...root.querySelectorAll('button:not(.cite), textarea, summary')] \
               .filter(e => e.getClientRects().length && e.getBoundingClientRect().height < 44) \
               .map(e => e.outerHTML.slice(0, 60)); \
             return {vw: innerWidth, page: document.documentElement.scrollWidth, \
                     widget: w.getBoundingClientRect().right, small}",
        )
        .await;
        let vw = v["vw"].as_f64().unwrap_or(0.0);
        eprintln!("widget: phone check at {vw} px: {v}");
        assert!(
            v["widget"].as_f64() <= Some(vw + 0.5),
            "the widget overflows: {v}"
        );
        assert!(
            v["page"].as_f64() <= Some(vw + 0.5),
            "sideways scrolling: {v}"
        );
        assert_eq!(v["small"], json!([]), "touch targets under 44 px: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        save_screenshot(c, name).await;
        if width == 375 {
            in_widget(
                c,
                "root.querySelector('.turn').scrollIntoView({block: 'start'}); return true",
            )
            .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            save_screenshot(c, "widget-phone-answer.png").await;
        }
    }
    let _ = setup;
    c.set_window_size(1280, 900).await.expect("desktop size");
}

/// A site not on the list: the widget says so, and the server writes nothing for it.
pub(super) async fn refused_site(c: &Client, setup: &Setup) {
    std::thread::sleep(Duration::from_millis(1500));
    let before = report_counts(&setup.data);
    c.goto(&format!("{}/", setup.refused))
        .await
        .expect("open the refused site");
    let said = wait_for(
        c,
        "the widget's refusal",
        Duration::from_secs(20),
        &format!("{ROOT} return root && root.querySelector('.ama').dataset.refused === 'true' && root.querySelector('.notice').innerText"),
    )
    .await;
    let said = said.as_str().unwrap_or_default().to_string();
    assert!(
        said.contains("not available")
            && said.contains(&setup.refused)
            && said.contains("--allow-origin")
            && !said.contains("null"),
        "{said}"
    );
    let v = in_widget(
        c,
        "return {disabled: root.querySelector('textarea').disabled, chips: root.querySelectorAll('.chip').length, \
                 visible: root.querySelector('.notice').getBoundingClientRect().height > 0}",
    )
    .await;
    assert_eq!(v, json!({"disabled": true, "chips": 0, "visible": true}));
    // The page tries to write anyway: a verdict and a question, as the widget would send
    // them, and a verdict without a preflight.
    let tried = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; const base = arguments[0]; \
             const post = (path, body, mode, type) => fetch(base + path, {method: 'POST', mode, \
               headers: {'content-type': type}, body: JSON.stringify(body)}).then(r => r.status, () => 'blocked'); \
             Promise.all([ \
               post('/api/feedback', {question: 'Refused?', useful: true}, 'cors', 'application/json'), \
               post('/api/ask', {question: 'Who replaced General Zaluzhny on a refused site?'}, 'cors', 'application/json'), \
               post('/api/feedback', {question: 'Refused?', useful: false}, 'no-cors', 'text/plain'), \
             ]).then(done);",
            vec![json!(setup.server)],
        )
        .await
        .expect("the refused page's requests");
    assert_eq!(tried, json!(["blocked", "blocked", 0]), "{tried}");
    js(
        c,
        "document.querySelector('ama-widget').scrollIntoView({block: 'center'}); return true",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    save_screenshot(c, "widget-refused.png").await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            report_counts(&setup.data),
            before,
            "a refused site wrote to the store"
        );
    }
}
