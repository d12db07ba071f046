//! Real input into the widget's shadow root: pointer clicks at an element's place on the
//! screen (after checking that nothing covers it) and key presses, through WebDriver actions,
//! as a reader's mouse and keyboard would send them.
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::Client;
use serde_json::Value;
use std::time::Duration;

use super::page::js;

pub(super) const TAB: char = '\u{e004}';
pub(super) const ENTER: char = '\u{e007}';
pub(super) const ESCAPE: char = '\u{e00c}';

/// The prelude of scripts about the widget: `w` its host element, `root` its shadow root.
pub(super) const ROOT: &str = "const w = document.querySelector('ama-widget'); \
     const root = w && w.shadowRoot;";

/// Runs `body` (a function body) with `w` and `root` defined.
pub(super) async fn in_widget(c: &Client, body: &str) -> Value {
    js(c, &format!("{ROOT} {body}")).await
}

/// Clicks the first element matching `selector` in the widget (`nth` among them) with the
/// pointer, at its centre, once scrolled into view; panics when it is missing or covered.
pub(super) async fn click(c: &Client, selector: &str, nth: usize) {
    pointer(c, selector, nth, true).await
}

/// Moves the pointer over the element, as [`click`] finds it, without pressing.
pub(super) async fn hover(c: &Client, selector: &str, nth: usize) {
    pointer(c, selector, nth, false).await
}

async fn pointer(c: &Client, selector: &str, nth: usize, press: bool) {
    let sel = serde_json::to_string(selector).unwrap();
    let script = format!(
        "const el = root && root.querySelectorAll({sel})[{nth}]; \
         if (!el) return null; \
         el.scrollIntoView({{block: 'center', behavior: 'instant'}}); \
         const r = el.getBoundingClientRect(); \
         const x = r.left + r.width / 2, y = r.top + r.height / 2; \
         const hit = root.elementFromPoint(x, y); \
         return {{x, y, hit: !!hit && (hit === el || el.contains(hit)), w: r.width, h: r.height}};"
    );
    // Where it is once nothing moves any more (a smooth scroll of the page may be under way).
    let mut place = in_widget(c, &script).await;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let again = in_widget(c, &script).await;
        let still = again == place;
        place = again;
        if still {
            break;
        }
    }
    assert!(
        !place.is_null(),
        "nothing in the widget matches {selector} [{nth}]"
    );
    assert_eq!(
        place["hit"], true,
        "{selector} [{nth}] is covered or off screen: {place}"
    );
    let (x, y) = (place["x"].as_f64().unwrap(), place["y"].as_f64().unwrap());
    let mut mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
        duration: Some(Duration::from_millis(20)),
        x: x.round(),
        y: y.round(),
    });
    if press {
        mouse = mouse
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
    }
    c.perform_actions(mouse).await.expect("click");
}

/// Presses the keys of `text` one after the other (WebDriver's codes for Tab, Enter, Esc).
pub(super) async fn keys(c: &Client, text: &str) {
    let mut k = KeyActions::new("keyboard".into());
    for ch in text.chars() {
        k = k
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
    }
    c.perform_actions(k).await.expect("keys");
}

/// Clicks into the question box, checks that it has the focus, and types `question` and
/// Enter.
pub(super) async fn type_question(c: &Client, question: &str) {
    // The widget may still be scrolling an answer into view (smooth scroll) when the pointer
    // arrives: a click that lands beside the box is tried again, a few times at most.
    let mut focused = Value::Bool(false);
    for _ in 0..3 {
        click(c, "textarea", 0).await;
        focused = in_widget(
            c,
            "return root.activeElement === root.querySelector('textarea')",
        )
        .await;
        if focused == Value::Bool(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        focused,
        Value::Bool(true),
        "the click did not reach the question box"
    );
    keys(c, &format!("{question}{ENTER}")).await;
}

/// Describes what has the focus inside the widget (`null` when the focus is elsewhere): its
/// tag, class and text, and whether its focus ring shows.
pub(super) const FOCUSED: &str = "const f = root && document.activeElement === w ? root.activeElement : null; \
     if (!f) return null; \
     const s = getComputedStyle(f); \
     return {tag: f.tagName.toLowerCase(), cls: f.className, text: (f.textContent || f.getAttribute('aria-label') || '').trim().slice(0, 60), \
             ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2};";
