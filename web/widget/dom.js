// dom.js: building elements (text only, never HTML), announcing, remembering during the
// visit, and small formatting helpers. The parts of web/widget/ are joined into one script
// and share one scope (src/server/widget.rs).

/** An element; string children become text nodes, never HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A function that says `msg` through the polite status region `live` (once, not per token). */
function announcer(live) {
  let timer = 0;
  return (msg) => {
    clearTimeout(timer);
    live.textContent = '';
    timer = setTimeout(() => { live.textContent = msg; }, 80);
  };
}

function media(query) {
  try { return window.matchMedia(query).matches; } catch (_) { return false; }
}

function reducedMotion() {
  return media('(prefers-reduced-motion: reduce)');
}

/** The widget's state for this visit (open, collapsed or closed), in sessionStorage. */
const VISIT_KEY = 'ama-widget:v1:state';
function visitState() {
  try { return sessionStorage.getItem(VISIT_KEY) || 'open'; } catch (_) { return 'open'; }
}
function rememberVisit(state) {
  try { sessionStorage.setItem(VISIT_KEY, state); } catch (_) { /* storage off: not kept */ }
}

function formatDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s || '');
  if (!m) return s || '';
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
}

function formatMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return null;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `u` as an http(s) address, or null. */
function safeHttpUrl(u) {
  try {
    const url = new URL(u, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch (_) {
    return null;
  }
}

/** Whether the page behind `el` is dark: the first opaque background up its ancestors. */
function hostIsDark(el) {
  for (let e = el.parentElement; e; e = e.parentElement) {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?/.exec(getComputedStyle(e).backgroundColor || '');
    if (m && (m[4] === undefined || +m[4] > 0.5)) {
      const lum = (0.2126 * m[1] + 0.7152 * m[2] + 0.0722 * m[3]) / 255;
      return lum < 0.45;
    }
  }
  const scheme = getComputedStyle(document.documentElement).colorScheme || '';
  return scheme.includes('dark') && (!scheme.includes('light') || media('(prefers-color-scheme: dark)'));
}
