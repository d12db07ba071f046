// Talking to the server: JSON errors as `ApiError`s, and a Server-Sent Events reader.

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
