//! Another site for the widget: a tiny static server on its own loopback port (so its pages
//! are of another origin than the answers server) serving one article page with hostile CSS
//! and the publisher's one script tag.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The page's CSS: what breaks careless widgets.
const HOSTILE_CSS: &str = "\
* { all: unset; }
head, script, style, title, meta, link { display: none !important; }
html { font-size: 40px; background: #fff; }
body { display: block; margin: 0; padding: 12px; font: 26px/1.3 Georgia, serif; color: #222; background: #fff; }
header, main, article, footer, h1, p { display: block; }
h1 { font-size: 44px !important; font-weight: bold; margin: 12px 0; }
p { font-size: 26px !important; margin: 0 0 14px !important; letter-spacing: 0.05em; }
div, section, form, ol, li, span, h2, h3, h4, details { display: none !important; }
button, textarea, input { display: none !important; font-size: 60px !important; }
*, *::before, *::after { box-sizing: content-box !important; }
[hidden] { display: block !important; }
";

/// The article page the site serves at every path: `title` and `paragraphs` as the
/// publisher prints them, then the tag loading `script` (the answers server's `/widget.js`)
/// for `article`.
pub(super) fn article_page(
    title: &str,
    paragraphs: &[&str],
    script: &str,
    article: &str,
) -> String {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p class=\"para\">{}</p>\n", escape(p)))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Host Daily</title><link rel=\"canonical\" href=\"https://host.example/story\">\
<style>{HOSTILE_CSS}</style>\
<script>document.addEventListener('ama:ready', function (e) {{ window.amaReady = {{ at: performance.now(), detail: e.detail }}; }});</script>\
</head><body><header id=\"masthead\"><h1>Host Daily</h1></header>\n<main id=\"main\"><article id=\"story\">\
<h1 id=\"headline\">{}</h1>\n{body}<script async src=\"{script}\" data-article=\"{article}\"></script>\n\
</article><footer id=\"foot\"><p>Host footer</p><button id=\"host-button\">Host button</button></footer></main></body></html>\n",
        escape(title)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The site: a free loopback port, then `page` served there until dropped.
pub(super) struct HostSite {
    pub origin: String,
    port: u16,
    listener: Option<TcpListener>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HostSite {
    /// Takes a port (the site's origin is known before its page).
    pub(super) fn bind() -> HostSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the host site");
        let port = listener.local_addr().expect("host site address").port();
        HostSite {
            origin: format!("http://127.0.0.1:{port}"),
            port,
            listener: Some(listener),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }

    /// Serves `page` at every path.
    pub(super) fn serve(&mut self, page: String) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let stop = self.stop.clone();
        self.thread = Some(std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    respond(stream, &page);
                }
            }
        }));
    }
}

impl Drop for HostSite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request: the page for any path but the icon; the connection closes after it.
fn respond(mut stream: TcpStream, page: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 32 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = if path.starts_with("/favicon") {
        ("404 Not Found", "")
    } else {
        ("200 OK", page)
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}
