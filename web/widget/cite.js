// cite.js: citation chips. Hover or focus (a tap focuses) previews the quoted sentence; a
// click scrolls the host page to the sentence and highlights it there, or, when the page
// does not hold it, opens the quote with a link to the article.

/**
 * The preview of the widget `ui` (its root and the tooltip element): shown beside a chip,
 * inside the widget (never fixed over the page).
 */
function previewer(ui) {
  let current = null;
  function show(chip, c) {
    current = chip;
    ui.preview.replaceChildren(h('span', { class: 'preview-quote' }, `“${c.quote || ''}”`),
      h('span', { class: 'preview-source' }, c.article_title || ''));
    ui.preview.hidden = false;
    chip.setAttribute('aria-describedby', 'ama-preview');
    const root = ui.root.getBoundingClientRect();
    const r = chip.getBoundingClientRect();
    const width = Math.min(320, root.width - 16);
    ui.preview.style.width = `${width}px`;
    const left = Math.max(8, Math.min(root.width - width - 8, r.left - root.left + r.width / 2 - width / 2));
    ui.preview.style.left = `${left}px`;
    const above = r.top - root.top - ui.preview.offsetHeight - 8;
    ui.preview.style.top = `${above >= 0 ? above : r.bottom - root.top + 8}px`;
  }
  function hide(chip) {
    if (chip && chip !== current) return;
    if (current) current.removeAttribute('aria-describedby');
    current = null;
    ui.preview.hidden = true;
  }
  return { show, hide };
}

/** A chip for citation `c`; `ctx` has `preview` and `openCitation(c, chip)`. */
function citeChip(c, ctx) {
  const chip = h('button', {
    type: 'button',
    class: 'cite',
    'aria-label': `Source ${c.number}: show it in the article`,
    dataset: { n: c.number },
    onclick: () => ctx.openCitation(c, chip),
    onmouseenter: () => ctx.preview.show(chip, c),
    onmouseleave: () => ctx.preview.hide(chip),
    onfocus: () => ctx.preview.show(chip, c),
    onblur: () => ctx.preview.hide(chip),
  }, String(c.number));
  return chip;
}

/** Removes [n] markers from a draft (its citations are not known yet). */
function stripMarkers(text) {
  return text.replace(/\s*\[\d+(?:\s*[,;]\s*\d+)*\]/g, '').replace(/\s*\[\d*[,;\s\d]*$/, '');
}

/** The answer with its [n] markers as chips; numbers without a citation are dropped. */
function answerNodes(answer, citations, ctx) {
  const byNumber = new Map(citations.map((c) => [Number(c.number), c]));
  const nodes = [];
  const re = /(\s*)\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
  let last = 0;
  let m;
  while ((m = re.exec(answer))) {
    if (m.index > last) nodes.push(answer.slice(last, m.index));
    const chips = m[2].split(/[,;]/).map((x) => Number(x.trim())).filter((x) => byNumber.has(x))
      .map((x) => citeChip(byNumber.get(x), ctx));
    chips.forEach((chip, i) => nodes.push(i ? ' ' : '\u00a0', chip));
    last = m.index + m[0].length;
  }
  if (last < answer.length) nodes.push(answer.slice(last));
  return nodes;
}

/** A link to the article that scrolls to `quote` where browsers support text fragments. */
function quoteLink(url, quote) {
  const href = safeHttpUrl(url);
  if (!href) return null;
  const words = (quote || '').replace(/[“”"]/g, '').split(/\s+/).filter(Boolean);
  const frag = words.length > 8
    ? `${encodeURIComponent(words.slice(0, 4).join(' '))},${encodeURIComponent(words.slice(-4).join(' '))}`
    : encodeURIComponent(words.join(' '));
  const base = href.split('#')[0];
  return h('a', { href: frag ? `${base}#:~:text=${frag.replace(/-/g, '%2D')}` : base, target: '_blank', rel: 'noopener' }, 'Read it in the article');
}

/** The quote of `c` opened under its answer, for a page that does not hold the article. */
function quoteCard(c, articleUrl, onClose) {
  const close = h('button', { type: 'button', class: 'tool', onclick: onClose, 'aria-label': `Close source ${c.number}` }, 'Close');
  return h('div', { class: 'quote-card', role: 'group', 'aria-label': `Source ${c.number}` },
    h('blockquote', null, `“${c.quote || ''}”`),
    h('div', { class: 'quote-tools' }, quoteLink(articleUrl, c.quote), close));
}

/** A result as plain text: the answer, then its numbered sources (for Copy). */
function answerAsText(r, articleUrl) {
  const lines = [(r.answer || '').trim()];
  const seen = new Set();
  for (const c of r.citations || []) {
    if (seen.has(c.number)) continue;
    if (!seen.size) lines.push('', 'Sources:');
    seen.add(c.number);
    lines.push(`[${c.number}] “${c.quote || ''}” — ${c.article_title || ''}`);
  }
  const url = safeHttpUrl(articleUrl || '');
  if (url) lines.push(url);
  return lines.join('\n');
}
