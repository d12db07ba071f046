//! The chat page in a real browser: headless Chromium driven through chromedriver with
//! fantoccini, against the real server (`ama serve` over the seed article).
//!
//! Opens the page, asks one of the article's related questions, follows its citation into
//! the reader, asks a typed follow-up, reloads (the conversation must survive) and saves
//! desktop and phone screenshots under `target/browser-test/`.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium` (override with `CHROMEDRIVER` and
//! `CHROME_BIN`). Without chromedriver the test is skipped, unless `CI` is set.
//!
//! - `chat`: the main scenario; `degraded`: the page with the model server down;
//! - `widget`: the embeddable widget on another site's page (`host`: that site, a tiny
//!   static server on another port; `input`: real clicks and keys into the widget's shadow
//!   root);
//! - `driver`: chromedriver and the browser session; `page`: scripts, polls, screenshots.
mod chat;
mod degraded;
mod driver;
mod host;
mod input;
mod page;
mod widget;
mod widget_checks;
