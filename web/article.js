// The reader: an article's text as paragraphs, with the cited sentences marked.
import { h, decoder, reducedMotion, stacked } from './dom.js';

/**
 * Renders `a.text` (its UTF-8 bytes in `a.bytes`) into `body` as paragraphs.
 * `marked` are byte ranges cited earlier (a soft mark); `flash` is the range
 * just cited (it flashes). Returns the first flashing element, if any.
 */
export function renderArticleText(body, a, marked, flash) {
  const bytes = a.bytes;
  const n = bytes.length;
  const ranges = (marked || []).map((r) => ({ ...r }));
  if (flash) ranges.push({ ...flash, flash: true });
  const clamp = (x) => Math.max(0, Math.min(n, x | 0));
  const cuts = new Set([0, n]);
  for (const r of ranges) { cuts.add(clamp(r.start)); cuts.add(clamp(r.end)); }
  for (let i = 0; i < n; i++) if (bytes[i] === 0x0a) { cuts.add(i); cuts.add(i + 1); }
  const points = [...cuts].sort((x, y) => x - y);

  const frag = document.createDocumentFragment();
  let para = null;
  let firstFlash = null;
  for (let k = 0; k + 1 < points.length; k++) {
    const s = points[k];
    const e = points[k + 1];
    if (e <= s) continue;
    if (e - s === 1 && bytes[s] === 0x0a) { para = null; continue; }
    const text = decoder.decode(bytes.subarray(s, e));
    if (!para) {
      if (!text.trim()) continue;
      para = h('p', { dataset: { start: s } });
      frag.append(para);
    }
    const inFlash = ranges.some((r) => r.flash && r.start <= s && e <= r.end);
    const inMark = ranges.some((r) => r.start <= s && e <= r.end);
    if (inMark) {
      const m = h('mark', { class: inFlash ? 'hl flash' : 'hl', dataset: { start: s, end: e } }, text);
      if (inFlash && !firstFlash) firstFlash = m;
      para.append(m);
    } else {
      para.append(document.createTextNode(text));
    }
  }
  body.replaceChildren(frag);
  return firstFlash;
}

// On a stacked (phone) layout a citation scrolls the page up to the reader;
// a small button brings the reader back to the answer.
let backButton = null;
let backObserver = null;

/** Offers a way back to `chip` (in the answer) after a jump to the reader. */
export function offerBackToAnswer(chip) {
  if (!stacked()) return;
  if (!backButton) {
    backButton = h('button', { type: 'button', class: 'back-to-answer', hidden: true }, '↓ Back to the answer');
    document.body.append(backButton);
  }
  if (backObserver) backObserver.disconnect();
  backButton.hidden = false;
  backButton.onclick = () => {
    backButton.hidden = true;
    chip.scrollIntoView({ block: 'center', behavior: reducedMotion() ? 'auto' : 'smooth' });
    chip.focus({ preventScroll: true });
  };
  // Hide it once the answer is back in view (after the jump has moved away).
  setTimeout(() => {
    backObserver = new IntersectionObserver((entries) => {
      if (entries.some((en) => en.isIntersecting)) {
        backButton.hidden = true;
        backObserver.disconnect();
      }
    });
    backObserver.observe(chip);
  }, 1200);
}
