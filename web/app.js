// ama — the chat page. Plain ES2020 modules, no dependencies, works offline.
// Every piece of text that comes from the server or the model is inserted as
// text (textContent / text nodes), never as HTML.
import { h, encoder, announcer, reducedMotion, stacked, formatDate, safeHttpUrl } from './dom.js';
import { ApiError, askStream, getJson } from './api.js';
import { hidePreview, stripMarkers } from './citations.js';
import { renderArticleText, offerBackToAnswer } from './article.js';
import { loadConversation, saveConversation } from './store.js';
import { follower } from './scroll.js';
import { answerView, errorText } from './answer.js';

{
  const HISTORY_TURNS = 3; // question/answer pairs sent as `history`
  const STALL_MS = 120000; // no byte from the server for this long: give up

  const $ = (id) => document.getElementById(id);
  const ui = {
    articleList: $('article-list'),
    articlesCount: $('articles-count'),
    articlesStatus: $('articles-status'),
    articlesDetails: $('articles-details'),
    reader: $('reader'),
    title: $('article-title'),
    date: $('article-date'),
    info: $('article-info'),
    url: $('article-url'),
    body: $('article-body'),
    intro: $('intro'),
    articleRelated: $('article-related'),
    exploreHeading: $('explore-heading'),
    log: $('log'),
    logWrap: $('log-wrap'),
    jump: $('jump-latest'),
    form: $('composer'),
    question: $('question'),
    send: $('send'),
    newConversation: $('new-conversation'),
    live: $('live'),
  };

  const announce = announcer(ui.live);

  // ---------- state ----------

  const state = {
    articles: [],
    articleId: null,
    mode: 'article', // 'article' | 'all'
    turns: [],
    draftQuestion: '',
  };
  const articleCache = new Map(); // id -> article JSON (+ bytes)
  const marks = new Map(); // article id -> [{start, end}] soft highlights (byte ranges)
  let current = null; // {turn, controller, stopped, timedOut, stallTimer}
  let turnSeq = 0;

  function load() {
    const saved = loadConversation();
    if (!saved) return;
    if (saved.articleId) state.articleId = saved.articleId;
    if (saved.mode) state.mode = saved.mode;
    state.draftQuestion = saved.draft;
    state.turns = saved.turns.map((t) => ({ ...t, id: ++turnSeq }));
  }

  let saveTimer = 0;
  function save() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, 150);
  }
  function saveNow() {
    clearTimeout(saveTimer);
    saveConversation({ articleId: state.articleId, mode: state.mode, draft: ui.question.value, turns: state.turns });
  }

  // ---------- articles and the reader ----------

  async function loadArticles() {
    ui.articlesStatus.hidden = true;
    try {
      const j = await getJson('/api/articles');
      state.articles = Array.isArray(j.articles) ? j.articles : [];
    } catch (e) {
      if (e.status === 503) {
        // The server binds first and loads after: wait for it.
        ui.title.textContent = 'Getting ready…';
        ui.body.replaceChildren(h('p', { class: 'status-line' }, 'The server is indexing the articles and loading the model. This page will continue by itself.'));
        setTimeout(loadArticles, Math.min(10, Math.max(1, e.retryAfter || 2)) * 1000);
        return;
      }
      showReaderError(`Could not load the articles: ${e.message}`, loadArticles);
      return;
    }
    renderArticleList();
    if (!state.articles.length) {
      ui.title.textContent = 'No articles yet';
      ui.body.replaceChildren(h('p', { class: 'status-line' }, 'Add articles to the corpus folder and restart the server.'));
      return;
    }
    const known = state.articles.some((a) => a.id === state.articleId);
    await selectArticle(known ? state.articleId : state.articles[0].id, { keepScroll: true });
  }

  function renderArticleList() {
    ui.articlesCount.textContent = state.articles.length ? `(${state.articles.length})` : '';
    // On narrow screens the list starts folded, so the article comes first.
    if (stacked()) ui.articlesDetails.open = false;
    ui.articleList.replaceChildren(...state.articles.map((a) => {
      const meta = [formatDate(a.date), typeof a.words === 'number' ? `${a.words.toLocaleString()} words` : null].filter(Boolean).join(' · ');
      return h('li', null, h('button', {
        type: 'button',
        class: 'article-link',
        dataset: { id: a.id },
        'aria-current': a.id === state.articleId ? 'true' : null,
        onclick: () => selectArticle(a.id, { focusReader: true }),
      }, h('span', { class: 'article-link-title' }, a.title || a.id), meta ? h('span', { class: 'article-link-meta' }, meta) : null));
    }));
  }

  async function fetchArticle(id) {
    if (articleCache.has(id)) return articleCache.get(id);
    const a = await getJson(`/api/articles/${encodeURIComponent(id)}`);
    a.bytes = encoder.encode(a.text || '');
    articleCache.set(id, a);
    return a;
  }

  let readerSeq = 0;
  async function selectArticle(id, opts = {}) {
    const seq = ++readerSeq;
    const changed = id !== state.articleId || !ui.body.firstChild || ui.reader.dataset.articleId !== id;
    state.articleId = id;
    for (const b of ui.articleList.querySelectorAll('.article-link')) {
      if (b.dataset.id === id) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
    let a;
    try {
      a = await fetchArticle(id);
    } catch (e) {
      if (seq === readerSeq) showReaderError(`Could not open the article: ${e.message}`, () => selectArticle(id, opts));
      return null;
    }
    if (seq !== readerSeq) return null;
    if (changed) {
      renderArticle(a, opts.flash || null);
      renderArticleRelated(a);
      if (!opts.keepScroll) ui.reader.scrollTop = 0;
      if (opts.focusReader) {
        ui.reader.focus({ preventScroll: true });
        ui.reader.scrollIntoView({ block: 'start', behavior: reducedMotion() ? 'auto' : 'smooth' });
      }
    }
    updatePlaceholder();
    save();
    return a;
  }

  function showReaderError(message, retry) {
    ui.title.textContent = 'Something went wrong';
    ui.date.textContent = '';
    ui.info.textContent = '';
    ui.url.hidden = true;
    ui.body.replaceChildren(h('div', { class: 'notice error', role: 'alert' },
      h('p', null, message),
      h('button', { type: 'button', class: 'button', onclick: retry }, 'Retry')));
  }

  /**
   * Renders the article text as paragraphs. `flash` is the byte range that was
   * just cited (it flashes); earlier cited ranges keep a soft mark.
   */
  function renderArticle(a, flash) {
    ui.reader.dataset.articleId = a.id;
    ui.title.textContent = a.title || a.id;
    const date = formatDate(a.date);
    ui.date.textContent = date || 'Undated';
    if (a.date) ui.date.setAttribute('datetime', a.date); else ui.date.removeAttribute('datetime');
    const words = (a.text || '').split(/\s+/).filter(Boolean).length;
    const passages = Array.isArray(a.passages) ? a.passages.length : 0;
    ui.info.textContent = ` · ${words.toLocaleString()} words${passages ? ` · ${passages} passages` : ''}`;
    const href = a.url ? safeHttpUrl(a.url) : null;
    ui.url.hidden = !href;
    if (href) ui.url.href = href; else ui.url.removeAttribute('href');

    return renderArticleText(ui.body, a, marks.get(a.id) || [], flash);
  }

  function renderArticleRelated(a) {
    const qs = Array.isArray(a.related) ? a.related : [];
    ui.articleRelated.replaceChildren(...qs.map((q) => askChip(q)));
    ui.intro.hidden = !qs.length;
  }

  function askChip(q) {
    return h('button', {
      type: 'button',
      class: 'chip ask-chip',
      disabled: current ? true : null,
      onclick: () => ask(q),
    }, q);
  }

  function updatePlaceholder() {
    const a = state.articles.find((x) => x.id === state.articleId);
    ui.question.placeholder = state.mode === 'all' || !a
      ? 'Ask a question about all the articles…'
      : 'Ask a question about this article…';
  }

  /** Opens the citation's article in the reader and flashes its sentence. */
  async function openCitation(c, chip) {
    const range = c.highlight || c.passage_range;
    if (!c.article_id || !range) return;
    const a = await selectArticle(c.article_id, { keepScroll: true });
    if (!a) return;
    const list = marks.get(a.id) || [];
    if (!list.some((r) => r.start === range.start && r.end === range.end)) list.push({ start: range.start, end: range.end });
    marks.set(a.id, list);
    const target = renderArticle(a, { start: range.start, end: range.end });
    if (target) {
      target.scrollIntoView({ block: 'center', behavior: reducedMotion() ? 'auto' : 'smooth' });
      if (chip) offerBackToAnswer(chip);
    }
  }

  // ---------- the conversation ----------

  function newTurn(question) {
    const turn = { id: ++turnSeq, question, article: null, status: 'reading', draft: '', result: null, error: null, feedback: null };
    state.turns.push(turn);
    return turn;
  }

  function historyBefore(turn) {
    const done = state.turns.filter((t) => t !== turn && t.status === 'done' && t.result && typeof t.result.answer === 'string');
    const upTo = state.turns.indexOf(turn);
    const earlier = done.filter((t) => upTo < 0 || state.turns.indexOf(t) < upTo).slice(-HISTORY_TURNS);
    const history = [];
    for (const t of earlier) {
      history.push({ role: 'user', content: t.question });
      history.push({ role: 'assistant', content: t.result.answer });
    }
    return history;
  }

  function renderAllTurns() {
    ui.log.replaceChildren(...state.turns.map((t) => renderTurn(t)));
  }

  function renderTurn(turn) {
    const li = h('li', { class: 'turn', dataset: { turn: turn.id } },
      h('div', { class: 'q' }, h('span', { class: 'visually-hidden' }, 'You asked: '), turn.question),
      h('div', { class: 'answer' }));
    turn.el = li;
    updateAnswer(turn);
    return li;
  }

  function turnAnswerEl(turn) {
    if (!turn.el || !turn.el.isConnected) {
      const li = ui.log.querySelector(`[data-turn="${turn.id}"]`);
      if (li) turn.el = li;
    }
    return turn.el ? turn.el.querySelector('.answer') : null;
  }

  function updateAnswer(turn) {
    const el = turnAnswerEl(turn);
    if (!el) return;
    el.dataset.state = turn.status;
    el.setAttribute('aria-busy', ['reading', 'writing', 'streaming'].includes(turn.status) ? 'true' : 'false');
    el.replaceChildren(...answerView(turn, answerPage));
  }

  // What an answer reaches on the page (see answer.js).
  const answerPage = {
    askChip,
    retryButton,
    openCitation,
    showsTitle: (c) => state.articles.length > 1 || c.article_id !== state.articleId,
    announce,
    onFeedback: (turn, useful) => {
      turn.feedback = useful;
      announce('Thanks for the feedback');
      save();
    },
  };

  function retryButton(turn, label) {
    return h('button', {
      type: 'button',
      class: 'button ask-chip retry',
      disabled: current ? true : null,
      onclick: () => ask(turn.question, { retryTurn: turn }),
    }, label);
  }

  // ---------- asking ----------

  function setBusy(busy) {
    document.body.dataset.busy = busy ? 'true' : 'false';
    ui.send.textContent = busy ? 'Stop' : 'Send';
    ui.send.classList.toggle('stop', busy);
    ui.send.setAttribute('aria-label', busy ? 'Stop answering (Esc)' : 'Send question');
    for (const b of document.querySelectorAll('.ask-chip')) b.disabled = busy;
  }

  async function ask(question, opts = {}) {
    question = String(question || '').trim();
    if (!question || current) return;
    if (question.length > 2000) {
      announce('The question is too long (2000 characters at most).');
      return;
    }
    let turn = opts.retryTurn;
    if (turn && state.turns.includes(turn)) {
      Object.assign(turn, { status: 'reading', draft: '', result: null, error: null, feedback: null });
    } else {
      turn = newTurn(question);
      ui.log.append(renderTurn(turn));
    }
    turn.article = state.mode === 'article' ? state.articleId : null;
    const controller = new AbortController();
    const job = {
      turn,
      controller,
      stopped: false,
      timedOut: false,
      timer: 0,
      touch() {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => { this.timedOut = true; controller.abort(); }, STALL_MS);
      },
    };
    current = job;
    job.touch();
    setBusy(true);
    updateAnswer(turn);
    scroll.toLatest(true);
    announce('Answering…');
    save();

    const body = { question, history: historyBefore(turn) };
    if (turn.article) body.article = turn.article;
    try {
      const result = await askStream(body, controller.signal, {
        bytes: () => job.touch(),
        sources: (evidence) => {
          if (turn.status === 'reading') turn.status = 'writing';
          turn.evidence = evidence;
          updateAnswer(turn);
        },
        delta: (text) => {
          turn.draft += text;
          if (turn.status !== 'streaming' && stripMarkers(turn.draft).trim()) turn.status = 'streaming';
          updateStreaming(turn);
        },
      });
      if (!result) {
        throw new ApiError('The connection closed before the answer was finished.', 'network', 0, null);
      }
      turn.result = result;
      turn.status = 'done';
      announce('Answer ready');
    } catch (e) {
      if (job.stopped) {
        turn.status = 'stopped';
        announce('Stopped');
      } else {
        turn.status = 'error';
        if (job.timedOut) turn.error = { message: 'The answer took too long.', type: 'timeout', status: 0 };
        else if (e instanceof ApiError) turn.error = { message: e.message, type: e.type, status: e.status, retryAfter: e.retryAfter };
        else turn.error = { message: String(e && e.message ? e.message : e), type: 'network', status: 0 };
        announce(`Error: ${errorText(turn.error)}`);
      }
    } finally {
      clearTimeout(job.timer);
      current = null;
      updateAnswer(turn);
      setBusy(false);
      scrollToLatest(false);
      save();
    }
  }

  function updateStreaming(turn) {
    const el = turnAnswerEl(turn);
    if (!el) return;
    if (turn.status !== 'streaming') { updateAnswer(turn); return; }
    let p = el.querySelector('.answer-text.streaming');
    if (!p) { updateAnswer(turn); p = el.querySelector('.answer-text.streaming'); }
    if (!p) return;
    const text = stripMarkers(turn.draft);
    if (p.firstChild && p.firstChild.nodeType === Node.TEXT_NODE) p.firstChild.nodeValue = text;
    else p.prepend(document.createTextNode(text));
    el.dataset.state = 'streaming';
    scrollToLatest(false);
  }

  function stop() {
    if (!current) return;
    current.stopped = true;
    current.controller.abort();
  }

  // ---------- scrolling ----------

  const scroll = follower({ wrap: ui.logWrap, log: ui.log, jump: ui.jump, busy: () => Boolean(current) });
  const scrollToLatest = (force) => scroll.toLatest(force);

  // ---------- composer ----------

  function autosize() {
    ui.question.style.height = 'auto';
    ui.question.style.height = `${Math.min(ui.question.scrollHeight + 2, 180)}px`;
  }

  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (current) { stop(); return; }
    const q = ui.question.value.trim();
    if (!q) { ui.question.focus(); return; }
    ui.question.value = '';
    autosize();
    ask(q);
  });

  const coarse = window.matchMedia('(pointer: coarse)');
  ui.question.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.isComposing || e.keyCode === 229) return;
    // Phones: Enter adds a line and the Send button sends. Ctrl/Cmd+Enter always sends.
    const send = e.ctrlKey || e.metaKey || (!e.shiftKey && !coarse.matches);
    if (!send) return;
    e.preventDefault();
    if (current) return;
    ui.form.requestSubmit ? ui.form.requestSubmit() : ui.form.dispatchEvent(new Event('submit', { cancelable: true }));
  });
  ui.question.addEventListener('input', () => { autosize(); save(); });
  if (coarse.matches) ui.form.querySelector('.hint').textContent = 'Enter adds a line · Send asks';

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      if (current) { e.preventDefault(); stop(); }
      hidePreview();
    }
  });

  for (const r of ui.form.querySelectorAll('input[name="scope"]')) {
    r.addEventListener('change', () => {
      if (r.checked) { state.mode = r.value; updatePlaceholder(); save(); }
    });
  }

  ui.newConversation.addEventListener('click', () => {
    if (current) stop();
    state.turns = [];
    ui.log.replaceChildren();
    marks.clear();
    const a = articleCache.get(state.articleId);
    if (a) renderArticle(a, null);
    saveNow();
    announce('New conversation');
    ui.question.focus();
  });

  $('to-question').addEventListener('click', (e) => {
    e.preventDefault();
    ui.form.scrollIntoView({ block: 'end', behavior: reducedMotion() ? 'auto' : 'smooth' });
    ui.question.focus({ preventScroll: true });
  });

  window.addEventListener('pagehide', saveNow);

  // ---------- start ----------

  load();
  for (const r of ui.form.querySelectorAll('input[name="scope"]')) r.checked = r.value === state.mode;
  ui.question.value = state.draftQuestion;
  autosize();
  renderAllTurns();
  setBusy(false);
  updatePlaceholder();
  ui.question.focus({ preventScroll: true });
  if (state.turns.length) scrollToLatest(true);
  loadArticles().then(() => { if (state.turns.length) scrollToLatest(true); });
}
