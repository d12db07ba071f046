// The conversation kept in localStorage, so a reload shows it again.
const STORE_KEY = 'ama:v1:conversation';
const MAX_SAVED_TURNS = 40;

/**
 * The saved conversation: `{articleId, mode, draft, turns}` with only the
 * fields that are valid (turns interrupted by a reload become errors), or null.
 */
export function loadConversation() {
  try {
    const raw = localStorage.getItem(STORE_KEY);
    if (!raw) return null;
    const saved = JSON.parse(raw);
    if (!saved || typeof saved !== 'object') return null;
    const out = { articleId: null, mode: null, draft: '', turns: [] };
    if (typeof saved.articleId === 'string') out.articleId = saved.articleId;
    if (saved.mode === 'all' || saved.mode === 'article') out.mode = saved.mode;
    if (typeof saved.draft === 'string') out.draft = saved.draft;
    if (Array.isArray(saved.turns)) {
      out.turns = saved.turns.filter((t) => t && typeof t.question === 'string').map((t) => {
        const turn = { ...t };
        if (!['done', 'error', 'stopped'].includes(turn.status)) {
          turn.status = 'error';
          turn.error = { message: 'This answer was interrupted when the page was reloaded.', type: 'interrupted' };
        }
        return turn;
      });
    }
    return out;
  } catch (_) {
    return null; // a broken entry: start afresh
  }
}

/** Saves the conversation (the latest turns; fewer when the storage is full). */
export function saveConversation({ articleId, mode, draft, turns: all }) {
  const turns = all.slice(-MAX_SAVED_TURNS).map((t) => ({
    question: t.question,
    article: t.article,
    status: t.status,
    draft: t.status === 'stopped' ? t.draft : undefined,
    result: t.result,
    error: t.error,
    feedback: t.feedback,
  }));
  const data = { articleId, mode, draft, turns };
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
