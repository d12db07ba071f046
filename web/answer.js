// An answer in the conversation, drawn for its state: reading, writing, the streaming draft
// (markers hidden), the checked answer with its sources, related questions, timings, Copy
// and feedback, a stopped draft, or an error with Retry.
import { h, formatMs } from './dom.js';
import { citeChip, stripMarkers, answerNodes, answerAsText } from './citations.js';
import { feedbackNodes } from './feedback.js';

/**
 * The nodes of `turn`'s answer, for its state. `page` is what an answer reaches on the page:
 * `askChip(question)` and `retryButton(turn, label)` (they ask), `openCitation(c, chip)`,
 * `showsTitle(c)` (whether a source names its article), `announce(text)`, and
 * `onFeedback(turn, useful)` once the server has a verdict.
 */
export function answerView(turn, page) {
  const children = [];
  if (turn.status === 'reading' || turn.status === 'writing') {
    const label = turn.status === 'reading'
      ? (turn.article ? 'Reading the article…' : 'Reading the articles…')
      : 'Writing…';
    children.push(h('p', { class: 'stage' }, h('span', { class: 'dots', 'aria-hidden': 'true' }), label));
  } else if (turn.status === 'streaming') {
    children.push(h('p', { class: 'answer-text streaming' }, stripMarkers(turn.draft), h('span', { class: 'caret', 'aria-hidden': 'true' })));
  } else if (turn.status === 'done' && turn.result) {
    children.push(...doneNodes(turn, page));
  } else if (turn.status === 'stopped') {
    if (turn.draft) children.push(h('p', { class: 'answer-text unchecked' }, stripMarkers(turn.draft)));
    children.push(h('div', { class: 'notice' },
      h('p', null, turn.draft ? 'Stopped. This unfinished draft was not checked against the articles.' : 'Stopped.'),
      page.retryButton(turn, 'Ask again')));
  } else if (turn.status === 'error') {
    const e = turn.error || {};
    children.push(h('div', { class: 'notice error', role: 'alert' },
      h('p', null, errorText(e)),
      page.retryButton(turn, 'Retry')));
  }
  return children;
}

/** What went wrong, in the reader's words. */
export function errorText(e) {
  if (e.type === 'not_ready') return 'The server is still starting (indexing the articles or loading the model). Retry in a moment.';
  if (e.status === 503 || e.type === 'busy' || e.type === 'overloaded_error') {
    const wait = e.retryAfter ? ` Try again in ${e.retryAfter} s.` : '';
    return `The model is busy with another question.${wait}`;
  }
  if (e.status === 504 || e.type === 'timeout' || e.type === 'timeout_error') return 'The answer took too long and was stopped.';
  if (e.type === 'network') return 'Could not reach the server. Check that ama is still running.';
  return e.message || 'Something went wrong.';
}

/** A checked answer: its text with citation chips, sources, related questions, timings,
 * Copy and feedback. */
function doneNodes(turn, page) {
  const r = turn.result;
  const citations = Array.isArray(r.citations) ? r.citations : [];
  const nodes = [];
  if (r.busy) {
    nodes.push(h('p', { class: 'notice degraded busy', role: 'status' },
      'Many readers are asking right now, so here is the passage that best answers your question. Ask again in a moment for a short answer.'));
  } else if (r.degraded) {
    nodes.push(h('p', { class: 'notice degraded', role: 'status' },
      'The answer writer is unavailable right now, so here is the passage that best answers your question.'));
  }
  nodes.push(h('p', { class: r.declined ? 'answer-text declined' : 'answer-text' }, answerNodes(r.answer || '', citations, page.openCitation)));

  if (citations.length) {
    const used = new Set();
    const list = h('ol', { class: 'sources-list' });
    for (const c of citations) {
      if (used.has(c.number)) continue;
      used.add(c.number);
      const chip = citeChip(c, page.openCitation);
      list.append(h('li', null, chip, h('span', { class: 'source-body' },
        h('span', { class: 'source-quote' }, `“${c.quote || ''}”`),
        c.article_title && page.showsTitle(c)
          ? h('span', { class: 'source-title' }, ` — ${c.article_title}`) : null)));
    }
    nodes.push(h('div', { class: 'sources' }, h('h4', null, citations.length === 1 ? 'Source' : 'Sources'), list));
  }

  const related = Array.isArray(r.related) ? r.related : [];
  if (related.length) {
    nodes.push(h('div', { class: 'related' },
      h('h4', null, r.declined ? 'Questions the articles can answer' : 'Related questions'),
      h('div', { class: 'chips', role: 'group' }, related.map((q) => page.askChip(q)))));
  }

  const t = (!r.declined && r.timings) || {};
  const bits = [];
  if (r.precomputed) bits.push('prepared answer');
  else if (r.cached) bits.push('cached');
  const ttft = formatMs(t.ttft_ms);
  if (ttft && !r.precomputed && !r.declined && t.ttft_ms > 0) bits.push(`first token ${ttft}`);
  const total = t.total_ms > 0 ? formatMs(t.total_ms) : null;
  if (total) bits.push(total);
  if (r.quoted_evidence) bits.push('quoted from the article');

  const copyBtn = h('button', { type: 'button', class: 'tool', 'aria-label': 'Copy the answer with its sources' }, 'Copy');
  copyBtn.addEventListener('click', () => copyAnswer(turn, copyBtn, page.announce));
  const fb = feedbackNodes(turn, (useful) => page.onFeedback(turn, useful));
  nodes.push(h('div', { class: 'answer-foot' },
    bits.length ? h('p', { class: 'timings' }, bits.join(' · ')) : null,
    h('div', { class: 'tools' }, copyBtn, fb)));
  return nodes;
}

/** Copies the answer with its sources, saying whether that worked. */
async function copyAnswer(turn, btn, announce) {
  const text = answerAsText(turn.result);
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (_) {
    const ta = h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
    ta.remove();
    btn.focus();
  }
  btn.textContent = ok ? 'Copied' : 'Copy failed';
  announce(ok ? 'Answer copied' : 'Could not copy');
  setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
}
