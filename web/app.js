// ama — the chat page. Plain ES2020, no dependencies, works offline.
// Every piece of text that comes from the server or the model is inserted as
// text (textContent / text nodes), never as HTML.
'use strict';

(() => {
  const STORE_KEY = 'ama:v1:conversation';
  const HISTORY_TURNS = 3; // question/answer pairs sent as `history`
  const MAX_SAVED_TURNS = 40;
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

  // ---------- small helpers ----------

  /** Creates an element; string children become text nodes (never HTML). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
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

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  let announceTimer = 0;
  function announce(msg) {
    clearTimeout(announceTimer);
    ui.live.textContent = '';
    announceTimer = setTimeout(() => { ui.live.textContent = msg; }, 60);
  }

  function reducedMotion() {
    return window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  function formatDate(s) {
    if (!s) return '';
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
    if (m) {
      const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
      if (!Number.isNaN(d.getTime())) {
        return d.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
      }
    }
    return s;
  }

  function formatMs(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function safeHttpUrl(u) {
    try {
      const url = new URL(u, location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  class ApiError extends Error {
    constructor(message, type, status, retryAfter) {
      super(message);
      this.type = type || 'error';
      this.status = status || 0;
      this.retryAfter = retryAfter || null;
    }
  }

  async function apiError(res) {
    let message = `The server answered ${res.status}.`;
    let type = 'http';
    try {
      const j = await res.json();
      if (j && j.error) {
        if (j.error.message) message = String(j.error.message);
        if (j.error.type) type = String(j.error.type);
      }
    } catch (_) { /* not JSON */ }
    const ra = res.headers.get('Retry-After');
    return new ApiError(message, type, res.status, ra ? parseInt(ra, 10) || null : null);
  }

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) throw await apiError(res);
    return res.json();
  }

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
  let follow = true; // auto-scroll follows the stream
  let lastProgrammaticScroll = 0;
  let turnSeq = 0;

  function load() {
    try {
      const raw = localStorage.getItem(STORE_KEY);
      if (!raw) return;
      const saved = JSON.parse(raw);
      if (saved && typeof saved === 'object') {
        if (typeof saved.articleId === 'string') state.articleId = saved.articleId;
        if (saved.mode === 'all' || saved.mode === 'article') state.mode = saved.mode;
        if (typeof saved.draft === 'string') state.draftQuestion = saved.draft;
        if (Array.isArray(saved.turns)) {
          state.turns = saved.turns.filter((t) => t && typeof t.question === 'string').map((t) => {
            const turn = { ...t, id: ++turnSeq };
            if (!['done', 'error', 'stopped'].includes(turn.status)) {
              turn.status = 'error';
              turn.error = { message: 'This answer was interrupted when the page was reloaded.', type: 'interrupted' };
            }
            return turn;
          });
        }
      }
    } catch (_) {
      /* a broken entry: start afresh */
    }
  }

  let saveTimer = 0;
  function save() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, 150);
  }
  function saveNow() {
    clearTimeout(saveTimer);
    const turns = state.turns.slice(-MAX_SAVED_TURNS).map((t) => ({
      question: t.question,
      article: t.article,
      status: t.status,
      draft: t.status === 'stopped' ? t.draft : undefined,
      result: t.result,
      error: t.error,
      feedback: t.feedback,
    }));
    const data = { articleId: state.articleId, mode: state.mode, draft: ui.question.value, turns };
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(data));
    } catch (_) {
      // Quota: keep fewer turns.
      try {
        data.turns = turns.slice(-8);
        localStorage.setItem(STORE_KEY, JSON.stringify(data));
      } catch (_) { /* storage unavailable */ }
    }
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
    if (window.matchMedia('(max-width: 899px)').matches) ui.articlesDetails.open = false;
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

    const bytes = a.bytes;
    const n = bytes.length;
    const ranges = (marks.get(a.id) || []).map((r) => ({ ...r }));
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
    ui.body.replaceChildren(frag);
    return firstFlash;
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

  // On a stacked (phone) layout a citation scrolls the page up to the reader;
  // a small button brings the reader back to the answer.
  let backButton = null;
  let backObserver = null;
  function offerBackToAnswer(chip) {
    if (!window.matchMedia('(max-width: 899px)').matches) return;
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

  // ---------- citation preview ----------

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

  function hidePreview(chip) {
    if (chip && previewFor !== chip) return;
    if (previewFor) previewFor.removeAttribute('aria-describedby');
    previewFor = null;
    preview.hidden = true;
  }

  function citeChip(c) {
    const chip = h('button', {
      type: 'button',
      class: 'cite',
      title: c.quote || '',
      'aria-label': `Source ${c.number}: show it in the article`,
      dataset: { n: c.number },
      onclick: () => { hidePreview(); openCitation(c, chip); },
      onmouseenter: () => showPreview(chip),
      onmouseleave: () => hidePreview(chip),
      onfocus: () => showPreview(chip),
      onblur: () => hidePreview(chip),
    }, String(c.number));
    chip._citation = c;
    return chip;
  }

  window.addEventListener('scroll', () => hidePreview(), true);
  window.addEventListener('resize', () => hidePreview());

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

  /** Removes [n] markers from text that has no citations yet (the draft). */
  function stripMarkers(text) {
    return text.replace(/\s*\[\d+(?:\s*[,;]\s*\d+)*\]/g, '').replace(/\s*\[\d*[,;\s\d]*$/, '');
  }

  /** The answer with its [n] markers as citation chips; unknown numbers are dropped. */
  function answerNodes(answer, citations) {
    const byNumber = new Map((citations || []).map((c) => [Number(c.number), c]));
    const nodes = [];
    const re = /(\s*)\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
    let last = 0;
    let m;
    while ((m = re.exec(answer))) {
      if (m.index > last) nodes.push(document.createTextNode(answer.slice(last, m.index)));
      const nums = m[2].split(/[,;]/).map((x) => Number(x.trim()));
      const chips = nums.filter((x) => byNumber.has(x)).map((x) => citeChip(byNumber.get(x)));
      if (chips.length) {
        nodes.push(document.createTextNode('\u00a0'));
        chips.forEach((c, i) => { if (i) nodes.push(document.createTextNode(' ')); nodes.push(c); });
      }
      last = m.index + m[0].length;
    }
    if (last < answer.length) nodes.push(document.createTextNode(answer.slice(last)));
    return nodes;
  }

  function updateAnswer(turn) {
    const el = turnAnswerEl(turn);
    if (!el) return;
    el.dataset.state = turn.status;
    el.setAttribute('aria-busy', ['reading', 'writing', 'streaming'].includes(turn.status) ? 'true' : 'false');
    const children = [];
    if (turn.status === 'reading' || turn.status === 'writing') {
      const label = turn.status === 'reading'
        ? (turn.article ? 'Reading the article…' : 'Reading the articles…')
        : 'Writing…';
      children.push(h('p', { class: 'stage' }, h('span', { class: 'dots', 'aria-hidden': 'true' }), label));
    } else if (turn.status === 'streaming') {
      children.push(h('p', { class: 'answer-text streaming' }, stripMarkers(turn.draft), h('span', { class: 'caret', 'aria-hidden': 'true' })));
    } else if (turn.status === 'done' && turn.result) {
      children.push(...doneNodes(turn));
    } else if (turn.status === 'stopped') {
      if (turn.draft) children.push(h('p', { class: 'answer-text unchecked' }, stripMarkers(turn.draft)));
      children.push(h('div', { class: 'notice' },
        h('p', null, turn.draft ? 'Stopped. This unfinished draft was not checked against the articles.' : 'Stopped.'),
        retryButton(turn, 'Ask again')));
    } else if (turn.status === 'error') {
      const e = turn.error || {};
      children.push(h('div', { class: 'notice error', role: 'alert' },
        h('p', null, errorText(e)),
        retryButton(turn, 'Retry')));
    }
    el.replaceChildren(...children);
  }

  function errorText(e) {
    if (e.type === 'not_ready') return 'The server is still starting (indexing the articles or loading the model). Retry in a moment.';
    if (e.status === 503 || e.type === 'busy' || e.type === 'overloaded_error') {
      const wait = e.retryAfter ? ` Try again in ${e.retryAfter} s.` : '';
      return `The model is busy with another question.${wait}`;
    }
    if (e.status === 504 || e.type === 'timeout' || e.type === 'timeout_error') return 'The answer took too long and was stopped.';
    if (e.type === 'network') return 'Could not reach the server. Check that ama is still running.';
    return e.message || 'Something went wrong.';
  }

  function retryButton(turn, label) {
    return h('button', {
      type: 'button',
      class: 'button ask-chip retry',
      disabled: current ? true : null,
      onclick: () => ask(turn.question, { retryTurn: turn }),
    }, label);
  }

  function doneNodes(turn) {
    const r = turn.result;
    const citations = Array.isArray(r.citations) ? r.citations : [];
    const nodes = [];
    nodes.push(h('p', { class: r.declined ? 'answer-text declined' : 'answer-text' }, answerNodes(r.answer || '', citations)));

    if (citations.length) {
      const used = new Set();
      const list = h('ol', { class: 'sources-list' });
      for (const c of citations) {
        if (used.has(c.number)) continue;
        used.add(c.number);
        const chip = citeChip(c);
        list.append(h('li', null, chip, h('span', { class: 'source-body' },
          h('span', { class: 'source-quote' }, `“${c.quote || ''}”`),
          c.article_title && (state.articles.length > 1 || c.article_id !== state.articleId)
            ? h('span', { class: 'source-title' }, ` — ${c.article_title}`) : null)));
      }
      nodes.push(h('div', { class: 'sources' }, h('h4', null, citations.length === 1 ? 'Source' : 'Sources'), list));
    }

    const related = Array.isArray(r.related) ? r.related : [];
    if (related.length) {
      nodes.push(h('div', { class: 'related' },
        h('h4', null, r.declined ? 'Questions the articles can answer' : 'Related questions'),
        h('div', { class: 'chips', role: 'group' }, related.map((q) => askChip(q)))));
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
    copyBtn.addEventListener('click', () => copyAnswer(turn, copyBtn));
    const fb = feedbackNodes(turn);
    nodes.push(h('div', { class: 'answer-foot' },
      bits.length ? h('p', { class: 'timings' }, bits.join(' · ')) : null,
      h('div', { class: 'tools' }, copyBtn, fb)));
    return nodes;
  }

  function feedbackNodes(turn) {
    const wrap = h('span', { class: 'feedback', role: 'group', 'aria-label': 'Was this useful?' });
    const status = h('span', { class: 'feedback-status', 'aria-live': 'off' });
    const mk = (useful, label) => h('button', {
      type: 'button',
      class: 'tool feedback-button',
      'aria-label': label,
      'aria-pressed': turn.feedback === useful ? 'true' : 'false',
      title: label,
      onclick: () => sendFeedback(turn, useful, wrap, status),
    }, h('span', { class: 'tool-word', 'aria-hidden': 'true' }, useful ? 'Yes' : 'No'));
    wrap.append(h('span', { class: 'feedback-label', 'aria-hidden': 'true' }, 'Was this useful?'), mk(true, 'Useful'), mk(false, 'Not useful'), status);
    if (turn.feedback !== null && turn.feedback !== undefined) status.textContent = 'Thanks!';
    return wrap;
  }

  async function sendFeedback(turn, useful, wrap, status) {
    const buttons = wrap.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await fetch('/api/feedback', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: turn.question, answer: turn.result ? turn.result.answer : '', useful }),
      });
      if (!res.ok) throw await apiError(res);
      turn.feedback = useful;
      buttons.forEach((b, i) => b.setAttribute('aria-pressed', (i === 0) === useful ? 'true' : 'false'));
      status.textContent = 'Thanks!';
      announce('Thanks for the feedback');
      save();
    } catch (e) {
      status.textContent = 'Could not send feedback.';
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function answerAsText(turn) {
    const r = turn.result;
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

  async function copyAnswer(turn, btn) {
    const text = answerAsText(turn);
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

  // ---------- asking ----------

  function setBusy(busy) {
    document.body.dataset.busy = busy ? 'true' : 'false';
    ui.send.textContent = busy ? 'Stop' : 'Send';
    ui.send.classList.toggle('stop', busy);
    ui.send.setAttribute('aria-label', busy ? 'Stop answering (Esc)' : 'Send question');
    for (const b of document.querySelectorAll('.ask-chip')) b.disabled = busy;
  }

  async function* readSse(res) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const parse = (block) => {
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? '' : line.slice(i + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      return { event, data: data.join('\n') };
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (current) current.touch();
        buf += dec.decode(value, { stream: true });
        // Normalise line ends, keeping a trailing \r that may be half of \r\n.
        const keep = buf.endsWith('\r') ? '\r' : '';
        buf = (keep ? buf.slice(0, -1) : buf).replace(/\r\n?/g, '\n') + keep;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.trim()) yield parse(block);
        }
      }
      buf += dec.decode();
      if (buf.trim()) yield parse(buf.replace(/\r\n?/g, '\n'));
    } finally {
      reader.releaseLock();
    }
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
    follow = true;
    scrollToLatest(true);
    announce('Answering…');
    save();

    const body = { question, history: historyBefore(turn) };
    if (turn.article) body.article = turn.article;
    try {
      const res = await fetch('/api/ask/stream', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!res.ok) throw await apiError(res);
      const type = res.headers.get('content-type') || '';
      if (type.includes('application/json')) {
        turn.result = await res.json();
        turn.status = 'done';
      } else {
        for await (const ev of readSse(res)) {
          let data = null;
          try { data = ev.data ? JSON.parse(ev.data) : null; } catch (_) { data = null; }
          if (ev.event === 'sources') {
            if (turn.status === 'reading') turn.status = 'writing';
            turn.evidence = data && data.evidence;
            updateAnswer(turn);
          } else if (ev.event === 'delta') {
            const text = data && typeof data.text === 'string' ? data.text : '';
            turn.draft += text;
            if (turn.status !== 'streaming' && stripMarkers(turn.draft).trim()) turn.status = 'streaming';
            updateStreaming(turn);
          } else if (ev.event === 'done') {
            turn.result = data;
            turn.status = 'done';
            break;
          } else if (ev.event === 'error') {
            const e = (data && data.error) || {};
            throw new ApiError(e.message || 'The answer failed.', e.type || 'error', 0, null);
          }
        }
      }
      if (turn.status !== 'done' || !turn.result) {
        throw new ApiError('The connection closed before the answer was finished.', 'network', 0, null);
      }
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

  function logScroller() {
    const style = getComputedStyle(ui.logWrap);
    return style.overflowY === 'auto' || style.overflowY === 'scroll' ? ui.logWrap : document.scrollingElement;
  }

  function distanceFromBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight;
  }

  /**
   * Scrolls the conversation to its end, but never so far that the latest
   * question scrolls out at the top (a long answer is read from its start).
   */
  function scrollToLatest(force) {
    if (!force && !follow) { ui.jump.hidden = !current; return; }
    const el = logScroller();
    const isDoc = el === document.scrollingElement;
    let target = el.scrollHeight - el.clientHeight;
    const li = ui.log.lastElementChild;
    if (li) {
      const top = li.getBoundingClientRect().top - (isDoc ? 0 : el.getBoundingClientRect().top) + el.scrollTop;
      target = Math.min(target, top - 12);
    }
    lastProgrammaticScroll = performance.now();
    if (target > el.scrollTop || force) el.scrollTop = Math.max(0, target);
    ui.jump.hidden = true;
  }

  function onUserScroll(el) {
    if (el !== logScroller()) return;
    if (performance.now() - lastProgrammaticScroll < 80) return;
    follow = distanceFromBottom(el) < 48;
    ui.jump.hidden = follow || !current;
  }
  ui.logWrap.addEventListener('scroll', () => onUserScroll(ui.logWrap), { passive: true });
  window.addEventListener('scroll', () => onUserScroll(document.scrollingElement), { passive: true });
  // Scrolling up with a wheel or a finger stops following at once.
  const stopFollowing = (e) => {
    if (!current) return;
    if (e.type === 'wheel' && e.deltaY >= 0) return;
    follow = false;
    ui.jump.hidden = false;
  };
  ui.logWrap.addEventListener('wheel', stopFollowing, { passive: true });
  ui.logWrap.addEventListener('touchmove', stopFollowing, { passive: true });
  ui.jump.addEventListener('click', () => { follow = true; scrollToLatest(true); });

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
})();
