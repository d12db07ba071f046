// highlight.js: a cited sentence found in the host page by its text, scrolled to and
// highlighted there without touching the host's DOM: the CSS Custom Highlight API (a flash,
// then a soft mark), or the page's selection where that API is missing.

const HL_SOFT = 'ama-cite';
const HL_FLASH = 'ama-cite-flash';
const HL_CSS = `::highlight(${HL_SOFT}){background-color:#fff1a8;color:#111}` +
  `::highlight(${HL_FLASH}){background-color:#ffd43b;color:#111}`;
let hlSheet = null;
let hlFlashTimer = 0;
const hlSoftRanges = [];

/** Letters compared case- and typography-blind: curly quotes, dashes and spaces alike. */
function foldChar(c) {
  if (/\s/.test(c)) return ' ';
  if ('\u2018\u2019\u201a\u201b\u2032`'.includes(c)) return "'";
  if ('\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb'.includes(c)) return '"';
  if ('\u2010\u2011\u2012\u2013\u2014\u2015\u2212'.includes(c)) return '-';
  return c.toLowerCase();
}

function foldText(s) {
  let out = '';
  for (const c of s) {
    const f = foldChar(c);
    if (f === ' ' && (out === '' || out.endsWith(' '))) continue;
    out += f;
  }
  return out.trim();
}

/** The page's visible text, folded, with where each character came from. */
function pageText(skip) {
  const nodes = [];
  const at = []; // for each folded character: [node index, offset]
  let text = '';
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT, {
    acceptNode(n) {
      const p = n.parentElement;
      if (!p || p.closest('script,style,noscript,template,textarea,head')) return NodeFilter.FILTER_REJECT;
      if (skip && (skip === p || skip.contains(p))) return NodeFilter.FILTER_REJECT;
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const k = nodes.push(n) - 1;
    const s = n.nodeValue;
    let i = 0;
    for (const c of s) {
      const f = foldChar(c);
      if (!(f === ' ' && (text === '' || text.endsWith(' ')))) {
        text += f;
        at.push([k, i]);
      }
      i += c.length;
    }
    if (!text.endsWith(' ') && text) { text += ' '; at.push([k, s.length]); }
  }
  return { nodes, at, text };
}

/** Where `quote` is in the page (a Range), or null. */
function findInPage(quote, skip) {
  const whole = foldText(quote || '');
  const needle = whole.replace(/[.!?'"]+$/, '');
  if (needle.length < 12) return null;
  const page = pageText(skip);
  let start = page.text.indexOf(needle);
  let end = start + needle.length;
  // The sentence's closing punctuation too, when the page has it.
  if (start >= 0 && page.text.startsWith(whole.slice(needle.length), end)) end += whole.length - needle.length;
  if (start < 0) {
    // Edited in print: its first words, ended by its last words within reach.
    const head = needle.slice(0, 60);
    const tail = needle.slice(-40);
    start = page.text.indexOf(head);
    if (start < 0) return null;
    const t = page.text.indexOf(tail, start);
    end = t >= 0 && t - start < needle.length + 200 ? t + tail.length : start + head.length;
  }
  const a = page.at[start];
  const b = page.at[end - 1];
  if (!a || !b) return null;
  const range = document.createRange();
  range.setStart(page.nodes[a[0]], a[1]);
  const endNode = page.nodes[b[0]];
  range.setEnd(endNode, Math.min(endNode.nodeValue.length, b[1] + 1));
  return range;
}

function ensureHighlightSheet() {
  if (hlSheet || !('adoptedStyleSheets' in document)) return;
  try {
    hlSheet = new CSSStyleSheet();
    hlSheet.replaceSync(HL_CSS);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, hlSheet];
  } catch (_) { hlSheet = null; }
}

/**
 * Scrolls the page to `quote` and highlights it (a flash, then a soft mark that stays).
 * Returns 'highlight', 'selection' (the fallback) or null when the page does not hold it.
 */
function highlightInPage(quote, skip) {
  const range = findInPage(quote, skip);
  if (!range) return null;
  const rect = range.getBoundingClientRect();
  const top = window.scrollY + rect.top - Math.max(16, (window.innerHeight - rect.height) / 2);
  window.scrollTo({ top: Math.max(0, top), behavior: reducedMotion() ? 'auto' : 'smooth' });
  if (window.CSS && CSS.highlights && typeof Highlight === 'function') {
    ensureHighlightSheet();
    hlSoftRanges.push(range);
    CSS.highlights.set(HL_FLASH, new Highlight(range));
    clearTimeout(hlFlashTimer);
    hlFlashTimer = setTimeout(() => {
      CSS.highlights.delete(HL_FLASH);
      CSS.highlights.set(HL_SOFT, new Highlight(...hlSoftRanges));
    }, reducedMotion() ? 400 : 1800);
    return 'highlight';
  }
  const sel = window.getSelection && window.getSelection();
  if (!sel) return null;
  sel.removeAllRanges();
  sel.addRange(range);
  return 'selection';
}

/** Removes the widget's highlights from the page. */
function clearPageHighlights() {
  hlSoftRanges.length = 0;
  clearTimeout(hlFlashTimer);
  if (window.CSS && CSS.highlights) {
    CSS.highlights.delete(HL_FLASH);
    CSS.highlights.delete(HL_SOFT);
  }
}
