// mount.js: the widget put where its script tag is. A host element after the tag, a shadow
// root with the stylesheet, the box, the article's suggested questions ("Explore related
// questions"), the conversation; hide and close remembered for the visit. Runs last.

function mountWidget(script) {
  const started = performance.now();
  // Marked with a property, not an attribute: the host's DOM stays as it was.
  if (!script || script.amaMounted) return;
  script.amaMounted = true;
  const base = (() => { try { return new URL(script.src, location.href).origin; } catch (_) { return ''; } })();
  const api = client(base);

  // Where the tag is; a tag in <head> puts the box at the end of the page.
  const host = document.createElement('ama-widget');
  const inHead = !script.parentNode || script.parentNode === document.head;
  if (!inHead) script.after(host);
  else if (document.body) document.body.append(host);
  else document.addEventListener('DOMContentLoaded', () => { document.body.append(host); applyScheme(); }, { once: true });
  const shadow = host.attachShadow({ mode: 'open' });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(WIDGET_CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch (_) {
    shadow.append(h('style', null, WIDGET_CSS));
  }

  const ui = {};
  ui.question = h('textarea', { id: 'ama-q', rows: 2, maxlength: 2000, placeholder: 'Ask a question about this article…', 'aria-describedby': 'ama-hint' });
  ui.send = h('button', { type: 'submit', class: 'send' }, 'Ask');
  ui.form = h('form', { class: 'composer', autocomplete: 'off' },
    h('label', { class: 'vh', for: 'ama-q' }, 'Your question about this article'),
    ui.question,
    h('div', { class: 'composer-row' }, h('p', { id: 'ama-hint', class: 'hint' }, 'Enter asks · Shift+Enter adds a line · Esc stops'), ui.send));
  ui.chips = h('div', { class: 'chips', role: 'group', 'aria-labelledby': 'ama-explore' });
  ui.explore = h('div', { class: 'explore', hidden: true }, h('h3', { id: 'ama-explore' }, 'Explore related questions'), ui.chips);
  ui.notice = h('div', { class: 'notice', role: 'alert', hidden: true });
  ui.about = h('p', { class: 'about', hidden: true });
  ui.log = h('ol', { class: 'log', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'off', 'aria-busy': 'false' });
  ui.clear = h('button', { type: 'button', class: 'link', hidden: true }, 'New conversation');
  ui.body = h('div', { id: 'ama-body', class: 'body' }, ui.about, ui.notice, ui.form, ui.explore, ui.log,
    h('p', { class: 'fine' }, h('span', null, 'Answers quote the publisher’s articles and may be incomplete.'), ui.clear));
  ui.toggle = h('button', { type: 'button', class: 'tool', 'aria-expanded': 'true', 'aria-controls': 'ama-body' }, 'Hide');
  ui.close = h('button', { type: 'button', class: 'tool', 'aria-label': 'Close Ask me anything' }, 'Close');
  ui.bar = h('div', { class: 'bar' }, h('h2', { id: 'ama-title' }, 'Ask me anything'), h('span', { class: 'bar-tools' }, ui.toggle, ui.close));
  ui.reopen = h('button', { type: 'button', class: 'reopen', hidden: true }, 'Ask me anything about this article');
  ui.preview = h('div', { id: 'ama-preview', class: 'preview', role: 'tooltip', hidden: true });
  const live = h('div', { class: 'vh', role: 'status', 'aria-live': 'polite' });
  ui.panel = h('section', { class: 'panel', 'aria-labelledby': 'ama-title' }, ui.bar, ui.body);
  ui.root = h('div', { class: 'ama' }, ui.panel, ui.reopen, ui.preview, live);
  ui.announce = announcer(live);
  shadow.append(ui.root);

  const theme = script.dataset.theme;
  function applyScheme() { ui.root.dataset.scheme = theme === 'dark' || theme === 'light' ? theme : (hostIsDark(host) ? 'dark' : 'light'); }
  applyScheme();
  try { window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyScheme); } catch (_) { /* old browsers */ }

  // The article: named by the tag, or found by the page's address.
  let article = null;
  let articleReady = null;
  const env = { host, article: () => article, ready: () => articleReady };
  const talk = conversation(ui, api, env);

  function pageUrl() {
    const link = document.querySelector('link[rel~="canonical"][href]');
    const og = document.querySelector('meta[property="og:url"][content]');
    return (link && link.href) || (og && safeHttpUrl(og.content)) || location.href.split('#')[0];
  }

  function showNotice(text, detail, retry) {
    ui.notice.replaceChildren(...[h('p', null, text), detail ? h('p', { class: 'detail' }, detail) : null,
      retry ? h('button', { type: 'button', class: 'tool', onclick: retry }, 'Try again') : null].filter(Boolean));
    ui.notice.hidden = false;
  }

  function setRefused(e) {
    showNotice('Answers are not available on this site.', e.message, null);
    ui.question.disabled = true;
    ui.send.disabled = true;
    ui.root.dataset.refused = 'true';
  }

  async function loadArticle() {
    const id = (script.dataset.article || '').trim();
    const query = id ? `id=${encodeURIComponent(id)}` : `url=${encodeURIComponent(pageUrl())}`;
    for (let attempt = 0; ; attempt++) {
      try {
        const a = await api.getJson(`/api/widget/article?${query}`);
        ui.notice.hidden = true;
        return a;
      } catch (e) {
        if (e.status === 403) { setRefused(e); throw e; }
        if (e.status === 404) {
          ui.about.hidden = false;
          ui.about.textContent = 'This article is not among the answers’ articles yet: answers come from the others.';
          return null;
        }
        if (e.type === 'not_ready' && attempt < 60) {
          showNotice('The answers are getting ready…', null, null);
          await new Promise((r) => setTimeout(r, Math.min(10, Math.max(1, e.retryAfter || 2)) * 1000));
          continue;
        }
        showNotice(errorText(e), null, () => { ui.notice.hidden = true; start(); });
        throw e;
      }
    }
  }

  function start() {
    articleReady = loadArticle().then((a) => {
      article = a;
      if (a) {
        ui.about.hidden = false;
        ui.about.textContent = a.title ? `About “${a.title}”${a.date ? `, ${formatDate(a.date)}` : ''}` : '';
        const related = Array.isArray(a.related) ? a.related : [];
        ui.chips.replaceChildren(...related.map((q) => talk.askChip(q)));
        ui.explore.hidden = !related.length;
      }
      return a;
    });
    articleReady.catch(() => {});
  }

  // Asking: Enter sends (on touch screens it adds a line; Ctrl/Cmd+Enter always sends).
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (talk.stop()) return;
    const q = ui.question.value.trim();
    if (!q) { ui.question.focus(); return; }
    ui.question.value = '';
    ui.clear.hidden = false;
    talk.ask(q);
  });
  ui.question.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.isComposing || e.keyCode === 229) return;
    if (!(e.ctrlKey || e.metaKey || (!e.shiftKey && !media('(pointer: coarse)')))) return;
    e.preventDefault();
    if (!talk.busy()) ui.form.requestSubmit();
  });
  ui.root.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    if (talk.stop()) e.preventDefault();
    talk.hidePreview();
  });
  ui.root.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('.chip, .tool.ask')) ui.clear.hidden = false;
  });
  ui.clear.addEventListener('click', () => { talk.reset(); ui.clear.hidden = true; ui.question.focus(); });

  // Hide (the bar stays) and close (one small button stays), kept for the visit.
  function setState(state, focus) {
    ui.root.dataset.state = state;
    ui.panel.hidden = state === 'closed';
    ui.reopen.hidden = state !== 'closed';
    ui.body.hidden = state !== 'open';
    ui.toggle.textContent = state === 'open' ? 'Hide' : 'Show';
    ui.toggle.setAttribute('aria-expanded', state === 'open' ? 'true' : 'false');
    if (state !== 'open') { talk.stop(); talk.hidePreview(); }
    rememberVisit(state);
    if (focus) (state === 'closed' ? ui.reopen : ui.toggle).focus();
  }
  ui.toggle.addEventListener('click', () => setState(ui.root.dataset.state === 'open' ? 'collapsed' : 'open', true));
  ui.close.addEventListener('click', () => { setState('closed', true); ui.announce('Ask me anything closed'); });
  ui.reopen.addEventListener('click', () => { setState('open', false); ui.question.focus(); });
  setState(visitState(), false);

  start();
  const interactiveMs = performance.now() - started;
  host.dispatchEvent(new CustomEvent('ama:ready', { bubbles: true, composed: true, detail: { interactiveMs, base } }));
}

mountWidget(document.currentScript ||
  [...document.querySelectorAll('script[src*="widget.js"]')].find((s) => !s.amaMounted));
