// Citations in an answer: the [n] markers as chips with a preview of the quoted
// sentence, and the answer as plain text with its sources (for copying).
import { h } from './dom.js';

const preview = h('div', { id: 'cite-preview', class: 'cite-preview', role: 'tooltip', hidden: true });
document.body.append(preview);
let previewFor = null;

function showPreview(chip) {
  const c = chip._citation;
  if (!c) return;
  previewFor = chip;
  preview.replaceChildren(
    h('span', { class: 'cite-preview-quote' }, `“${c.quote || ''}”`),
    h('span', { class: 'cite-preview-source' }, c.article_title || ''));
  preview.hidden = false;
  chip.setAttribute('aria-describedby', 'cite-preview');
  const r = chip.getBoundingClientRect();
  const pw = Math.min(320, window.innerWidth - 16);
  preview.style.width = `${pw}px`;
  const left = Math.max(8, Math.min(window.innerWidth - pw - 8, r.left + r.width / 2 - pw / 2));
  preview.style.left = `${left}px`;
  const ph = preview.offsetHeight;
  const above = r.top - ph - 8;
  preview.style.top = `${above >= 8 ? above : r.bottom + 8}px`;
}

/** Hides the preview (only `chip`'s, when given). */
export function hidePreview(chip) {
  if (chip && previewFor !== chip) return;
  if (previewFor) previewFor.removeAttribute('aria-describedby');
  previewFor = null;
  preview.hidden = true;
}

window.addEventListener('scroll', () => hidePreview(), true);
window.addEventListener('resize', () => hidePreview());

/** A chip for citation `c`; clicking it calls `onOpen(c, chip)`. */
export function citeChip(c, onOpen) {
  const chip = h('button', {
    type: 'button',
    class: 'cite',
    title: c.quote || '',
    'aria-label': `Source ${c.number}: show it in the article`,
    dataset: { n: c.number },
    onclick: () => { hidePreview(); onOpen(c, chip); },
    onmouseenter: () => showPreview(chip),
    onmouseleave: () => hidePreview(chip),
    onfocus: () => showPreview(chip),
    onblur: () => hidePreview(chip),
  }, String(c.number));
  chip._citation = c;
  return chip;
}

/** Removes [n] markers from text that has no citations yet (the draft). */
export function stripMarkers(text) {
  return text.replace(/\s*\[\d+(?:\s*[,;]\s*\d+)*\]/g, '').replace(/\s*\[\d*[,;\s\d]*$/, '');
}

/** The answer with its [n] markers as citation chips; unknown numbers are dropped. */
export function answerNodes(answer, citations, onOpen) {
  const byNumber = new Map((citations || []).map((c) => [Number(c.number), c]));
  const nodes = [];
  const re = /(\s*)\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
  let last = 0;
  let m;
  while ((m = re.exec(answer))) {
    if (m.index > last) nodes.push(document.createTextNode(answer.slice(last, m.index)));
    const nums = m[2].split(/[,;]/).map((x) => Number(x.trim()));
    const chips = nums.filter((x) => byNumber.has(x)).map((x) => citeChip(byNumber.get(x), onOpen));
    if (chips.length) {
      nodes.push(document.createTextNode('\u00a0'));
      chips.forEach((c, i) => { if (i) nodes.push(document.createTextNode(' ')); nodes.push(c); });
    }
    last = m.index + m[0].length;
  }
  if (last < answer.length) nodes.push(document.createTextNode(answer.slice(last)));
  return nodes;
}

/** A result as plain text: the answer, then its numbered sources. */
export function answerAsText(r) {
  const lines = [r.answer || ''];
  const citations = Array.isArray(r.citations) ? r.citations : [];
  if (citations.length) {
    lines.push('', 'Sources:');
    const seen = new Set();
    for (const c of citations) {
      if (seen.has(c.number)) continue;
      seen.add(c.number);
      lines.push(`[${c.number}] “${c.quote || ''}” — ${c.article_title || c.article_id || ''}`);
    }
  }
  return lines.join('\n');
}
