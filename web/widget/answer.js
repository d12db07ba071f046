// answer.js: one answer drawn for its state: the stage label, the streaming draft (markers
// hidden), the checked answer with citation chips, its sources, related questions, Copy and
// "Was this useful?"; a stopped draft; or an error with Retry.

/**
 * The nodes of `turn`'s answer. `ctx`: `preview`, `openCitation(c, chip)`, `askChip(q)`,
 * `retryButton(turn, label)`, `copy(turn, button)`, `feedback(turn, useful, buttons, status)`.
 */
function answerView(turn, ctx) {
  if (turn.status === 'reading' || turn.status === 'writing') {
    return [h('p', { class: 'stage' }, h('span', { class: 'dots', 'aria-hidden': 'true' }),
      turn.status === 'reading' ? 'Reading the article…' : 'Writing…')];
  }
  if (turn.status === 'streaming') {
    return [h('p', { class: 'answer-text streaming' }, stripMarkers(turn.draft), h('span', { class: 'caret', 'aria-hidden': 'true' }))];
  }
  if (turn.status === 'done' && turn.result) return doneView(turn, ctx);
  if (turn.status === 'stopped') {
    return [
      turn.draft ? h('p', { class: 'answer-text unchecked' }, stripMarkers(turn.draft)) : null,
      h('div', { class: 'notice' },
        h('p', null, turn.draft ? 'Stopped. This unfinished draft was not checked against the article.' : 'Stopped.'),
        ctx.retryButton(turn, 'Ask again')),
    ].filter(Boolean);
  }
  const e = turn.error || {};
  return [h('div', { class: 'notice error' }, h('p', null, errorText(e)), ctx.retryButton(turn, 'Retry'))];
}

function doneView(turn, ctx) {
  const r = turn.result;
  const citations = Array.isArray(r.citations) ? r.citations : [];
  const nodes = [];
  if (r.busy) {
    nodes.push(h('p', { class: 'note' }, 'Many readers are asking right now, so here is the passage that best answers your question. Ask again in a moment for a short answer.'));
  } else if (r.degraded) {
    nodes.push(h('p', { class: 'note' }, 'The answer writer is unavailable right now, so here is the passage that best answers your question.'));
  }
  nodes.push(h('p', { class: r.declined ? 'answer-text declined' : 'answer-text' }, answerNodes(r.answer || '', citations, ctx)));
  if (citations.length) {
    const seen = new Set();
    const list = h('ol', { class: 'sources-list' });
    for (const c of citations) {
      if (seen.has(c.number)) continue;
      seen.add(c.number);
      list.append(h('li', null, citeChip(c, ctx), h('span', { class: 'source-quote' }, `“${c.quote || ''}”`)));
    }
    nodes.push(h('details', { class: 'sources' }, h('summary', null, seen.size === 1 ? 'Source' : `Sources (${seen.size})`), list));
  }
  nodes.push(h('div', { class: 'quote-slot' }));
  const related = Array.isArray(r.related) ? r.related : [];
  if (related.length) {
    const id = `ama-rel-${turn.id}`;
    nodes.push(h('div', { class: 'related' },
      h('h4', { id }, r.declined ? 'Questions the article can answer' : 'Related questions'),
      h('div', { class: 'chips', role: 'group', 'aria-labelledby': id }, related.map((q) => ctx.askChip(q)))));
  }
  const bits = [];
  if (r.precomputed) bits.push('Prepared answer');
  else if (r.cached) bits.push('Answered before');
  const total = formatMs(r.timings && r.timings.total_ms);
  if (total && !r.declined) bits.push(total);
  const copy = h('button', { type: 'button', class: 'tool', 'aria-label': 'Copy the answer with its sources' }, 'Copy');
  copy.addEventListener('click', () => ctx.copy(turn, copy));
  nodes.push(h('div', { class: 'answer-foot' },
    bits.length ? h('span', { class: 'timings' }, bits.join(' · ')) : null,
    h('span', { class: 'tools' }, copy, feedbackNodes(turn, ctx))));
  return nodes;
}

/** "Was this useful?" with Yes and No; the verdict goes to the server once. */
function feedbackNodes(turn, ctx) {
  const status = h('span', { class: 'feedback-status' });
  const group = h('span', { class: 'feedback', role: 'group', 'aria-label': 'Was this useful?' },
    h('span', { class: 'feedback-label', 'aria-hidden': 'true' }, 'Was this useful?'));
  const buttons = [true, false].map((useful) => h('button', {
    type: 'button',
    class: 'tool',
    'aria-label': useful ? 'Useful' : 'Not useful',
    'aria-pressed': turn.feedback === useful ? 'true' : 'false',
    onclick: () => ctx.feedback(turn, useful, buttons, status),
  }, useful ? 'Yes' : 'No'));
  group.append(...buttons, status);
  if (turn.feedback !== null && turn.feedback !== undefined) status.textContent = 'Thanks!';
  return group;
}
