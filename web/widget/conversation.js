// conversation.js: the conversation and asking: turns in the log, the streamed answer with
// Stop (aborting the request cancels the generation on the server), follow-ups with the last
// turns as history, Copy and feedback, one announcement per answer.

const HISTORY_TURNS = 3; // question/answer pairs sent as `history`
const STALL_MS = 120000; // no byte from the server for this long: give up

/**
 * `ui`: the widget's elements (log, question, send, root, preview, announce); `api`: the
 * server's client; `env`: `article()` (the article `{id, url}` or null, once known),
 * `ready()` (a promise of it), `host` (the widget's element, skipped when searching the page).
 */
function conversation(ui, api, env) {
  const turns = [];
  let current = null;
  let seq = 0;
  const preview = previewer(ui);
  const ctx = { preview, openCitation, askChip, retryButton, copy, feedback };

  function askChip(q) {
    return h('button', { type: 'button', class: 'chip ask', disabled: current ? true : null, onclick: () => ask(q) }, q);
  }

  function retryButton(turn, label) {
    return h('button', { type: 'button', class: 'tool ask', disabled: current ? true : null, onclick: () => ask(turn.question, turn) }, label);
  }

  function render(turn) {
    const el = turn.el.querySelector('.answer');
    const busy = ['reading', 'writing', 'streaming'].includes(turn.status);
    el.dataset.state = turn.status;
    if (turn.result && turn.result.precomputed) el.dataset.precomputed = 'true';
    ui.log.setAttribute('aria-busy', busy ? 'true' : 'false');
    el.replaceChildren(...answerView(turn, ctx));
  }

  function renderDraft(turn) {
    const p = turn.el.querySelector('.answer-text.streaming');
    if (!p || !p.firstChild || p.firstChild.nodeType !== Node.TEXT_NODE) { render(turn); return; }
    p.firstChild.nodeValue = stripMarkers(turn.draft);
  }

  function history(turn) {
    const out = [];
    for (const t of turns.filter((x) => x !== turn && x.status === 'done' && x.result).slice(-HISTORY_TURNS)) {
      out.push({ role: 'user', content: t.question }, { role: 'assistant', content: t.result.answer || '' });
    }
    return out;
  }

  function setBusy(busy) {
    ui.send.textContent = busy ? 'Stop' : 'Ask';
    ui.send.classList.toggle('stop', busy);
    ui.send.setAttribute('aria-label', busy ? 'Stop answering (Esc)' : 'Ask the question');
    for (const b of ui.root.querySelectorAll('.ask')) b.disabled = busy;
  }

  async function ask(question, retry) {
    question = String(question || '').trim();
    if (!question || current) return;
    let turn = retry && turns.includes(retry) ? retry : null;
    if (turn) Object.assign(turn, { status: 'reading', draft: '', result: null, error: null, feedback: null });
    else {
      turn = { id: ++seq, question, status: 'reading', draft: '', result: null, error: null, feedback: null };
      turn.el = h('li', { class: 'turn' }, h('p', { class: 'q' }, h('span', { class: 'vh' }, 'You asked: '), question), h('div', { class: 'answer' }));
      turns.push(turn);
      ui.log.append(turn.el);
    }
    const controller = new AbortController();
    const job = { turn, controller, stopped: false, stalled: false, timer: 0 };
    const touch = () => {
      clearTimeout(job.timer);
      job.timer = setTimeout(() => { job.stalled = true; controller.abort(); }, STALL_MS);
    };
    current = job;
    touch();
    setBusy(true);
    render(turn);
    turn.el.scrollIntoView({ block: 'nearest', behavior: reducedMotion() ? 'auto' : 'smooth' });
    ui.announce('Answering…');
    try {
      const article = await env.ready();
      const body = { question, history: history(turn) };
      if (article) body.article = article.id;
      const result = await api.ask(body, controller.signal, {
        bytes: touch,
        sources: () => { if (turn.status === 'reading') { turn.status = 'writing'; render(turn); } },
        delta: (text) => {
          turn.draft += text;
          if (turn.status !== 'streaming' && stripMarkers(turn.draft).trim()) { turn.status = 'streaming'; render(turn); } else if (turn.status === 'streaming') renderDraft(turn);
        },
      });
      if (!result) throw new ApiError('The connection closed before the answer was finished.', 'network', 0, null);
      turn.result = result;
      turn.status = 'done';
    } catch (e) {
      if (job.stopped) turn.status = 'stopped';
      else {
        turn.status = 'error';
        turn.error = job.stalled ? { type: 'timeout' }
          : { message: e.message, type: e.type || 'network', status: e.status || 0, retryAfter: e.retryAfter || null };
      }
    } finally {
      clearTimeout(job.timer);
      current = null;
      render(turn);
      setBusy(false);
      ui.announce(turn.status === 'done' ? `Answer ready. ${stripMarkers(turn.result.answer || '')}`
        : turn.status === 'stopped' ? 'Stopped' : `Not answered: ${errorText(turn.error)}`);
    }
  }

  function stop() {
    if (!current) return false;
    current.stopped = true;
    current.controller.abort();
    return true;
  }

  function openCitation(c, chip) {
    const how = highlightInPage(c.quote, env.host);
    if (how) {
      ui.announce('The sentence is highlighted in the article.');
      return;
    }
    preview.hide();
    const slot = chip.closest('.answer').querySelector('.quote-slot');
    const article = env.article();
    const card = quoteCard(c, (article && article.url) || '', () => { slot.replaceChildren(); chip.focus(); });
    slot.replaceChildren(card);
    const close = card.querySelector('button');
    if (close) close.focus({ preventScroll: true });
    card.scrollIntoView({ block: 'nearest' });
  }

  async function copy(turn, button) {
    const article = env.article();
    const text = answerAsText(turn.result, article && article.url);
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (_) {
      const ta = h('textarea', { class: 'vh', 'aria-hidden': 'true' });
      ta.value = text;
      ui.root.append(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
      ta.remove();
      button.focus();
    }
    button.textContent = ok ? 'Copied' : 'Copy failed';
    ui.announce(ok ? 'Answer copied' : 'Could not copy');
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  }

  async function feedback(turn, useful, buttons, status) {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await api.post('/api/feedback', { question: turn.question, answer: turn.result ? turn.result.answer : '', useful });
      if (res.body) await res.arrayBuffer();
      turn.feedback = useful;
      buttons.forEach((b, i) => b.setAttribute('aria-pressed', (i === 0) === useful ? 'true' : 'false'));
      status.textContent = 'Thanks!';
      ui.announce('Thanks for the feedback');
    } catch (e) {
      status.textContent = 'Could not send it.';
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function reset() {
    stop();
    turns.length = 0;
    ui.log.replaceChildren();
    clearPageHighlights();
  }

  return { ask, stop, reset, askChip, busy: () => Boolean(current), hidePreview: () => preview.hide() };
}
