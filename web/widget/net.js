// net.js: talking to the answers server, the origin this script came from and nothing else.
// No cookies (credentials: 'omit'); JSON errors become ApiErrors; answers stream as SSE.

class ApiError extends Error {
  constructor(message, type, status, retryAfter) {
    super(message);
    this.type = type || 'error';
    this.status = status || 0;
    this.retryAfter = retryAfter || null;
  }
}

/** The error of a failed response, from its JSON body `{"error": {"message", "type"}}`. */
async function apiError(res) {
  let message = `The answers server answered ${res.status}.`;
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

/** A client of the server at `base` (an origin). */
function client(base) {
  async function call(path, init) {
    let res;
    try {
      res = await fetch(base + path, { credentials: 'omit', mode: 'cors', ...init });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError('Could not reach the answers server.', 'network', 0, null);
    }
    if (!res.ok) throw await apiError(res);
    return res;
  }
  return {
    async getJson(path, signal) {
      return (await call(path, { headers: { accept: 'application/json' }, signal })).json();
    },
    async post(path, body, signal) {
      return call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(body),
        signal,
      });
    },
    /**
     * Asks `body` at /api/ask/stream: `on.sources(evidence)`, `on.delta(text)` as they come,
     * `on.bytes()` whenever bytes arrive. Resolves to the checked result (null when the
     * stream ends without one); an `error` event rejects with an ApiError.
     */
    async ask(body, signal, on) {
      const res = await this.post('/api/ask/stream', body, signal);
      if ((res.headers.get('content-type') || '').includes('application/json')) return res.json();
      for await (const ev of readSse(res, on.bytes)) {
        let data = null;
        try { data = ev.data ? JSON.parse(ev.data) : null; } catch (_) { data = null; }
        if (ev.event === 'sources') on.sources(data && data.evidence);
        else if (ev.event === 'delta') on.delta(data && typeof data.text === 'string' ? data.text : '');
        else if (ev.event === 'done') return data;
        else if (ev.event === 'error') {
          const e = (data && data.error) || {};
          throw new ApiError(e.message || 'The answer failed.', e.type || 'error', 0, null);
        }
      }
      return null;
    },
  };
}

function parseSseBlock(block) {
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
}

/** The events `{event, data}` of an SSE response. */
async function* readSse(res, onBytes) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (onBytes) onBytes();
      buf += dec.decode(value, { stream: true });
      const keep = buf.endsWith('\r') ? '\r' : '';
      buf = (keep ? buf.slice(0, -1) : buf).replace(/\r\n?/g, '\n') + keep;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (block.trim()) yield parseSseBlock(block);
      }
    }
    buf += dec.decode();
    if (buf.trim()) yield parseSseBlock(buf.replace(/\r\n?/g, '\n'));
  } finally {
    reader.releaseLock();
  }
}

/** What went wrong, in a reader's words. */
function errorText(e) {
  if (e.status === 403 && e.type === 'permission_error') return 'Answers are not available on this site.';
  if (e.type === 'not_ready') return 'The answers are still getting ready. Try again in a moment.';
  if (e.status === 429) return `You are asking faster than the answers server allows. Try again in ${e.retryAfter || 30} s.`;
  if (e.status === 503 || e.type === 'overloaded_error') return 'Many readers are asking right now. Try again in a few seconds.';
  if (e.status === 504 || e.type === 'timeout_error' || e.type === 'timeout') return 'The answer took too long and was stopped.';
  if (e.type === 'network') return 'Could not reach the answers server. Check your connection and try again.';
  return e.message || 'Something went wrong.';
}
