// Talking to the server: JSON errors as `ApiError`s, a Server-Sent Events reader, and the
// streamed answer.

export class ApiError extends Error {
  constructor(message, type, status, retryAfter) {
    super(message);
    this.type = type || 'error';
    this.status = status || 0;
    this.retryAfter = retryAfter || null;
  }
}

/** The error of a failed response, from its JSON body `{"error": {"message", "type"}}`. */
export async function apiError(res) {
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

export async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw await apiError(res);
  return res.json();
}

function parseBlock(block) {
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

/** The events `{event, data}` of an SSE response; `onBytes` is called whenever bytes arrive. */
export async function* readSse(res, onBytes) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (onBytes) onBytes();
      buf += dec.decode(value, { stream: true });
      // Normalise line ends, keeping a trailing \r that may be half of \r\n.
      const keep = buf.endsWith('\r') ? '\r' : '';
      buf = (keep ? buf.slice(0, -1) : buf).replace(/\r\n?/g, '\n') + keep;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (block.trim()) yield parseBlock(block);
      }
    }
    buf += dec.decode();
    if (buf.trim()) yield parseBlock(buf.replace(/\r\n?/g, '\n'));
  } finally {
    reader.releaseLock();
  }
}

/**
 * Asks `body` (`{question, history, article?}`) at `/api/ask/stream` and reads the answer:
 * `on.sources(evidence)` and `on.delta(text)` as they come, `on.bytes()` whenever bytes
 * arrive. Resolves to the checked result (`null` when the stream ends without one); a failed
 * response or an `error` event rejects with an `ApiError`.
 */
export async function askStream(body, signal, on) {
  const res = await fetch('/api/ask/stream', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await apiError(res);
  const type = res.headers.get('content-type') || '';
  if (type.includes('application/json')) return res.json();
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
}
