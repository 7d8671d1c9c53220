// A tRPC query over one plain HTTP/1.1 request on a raw socket, for loopctl's fast path.
//
// Why not fetch or node:http: on a cold process, the first fetch() costs ~60 ms (undici loads) and
// importing node:http ~30 ms, against ~5 ms for node:net. The daemon is our own server on loopback,
// so the request is fixed (GET, Connection: close) and the reply is read to EOF; the only HTTP
// framing to undo is chunked transfer encoding. Anything unexpected is reported as a failure and
// the caller falls back to the full tRPC client, which produces the canonical error message.

// The loaded module rather than an ES import of it, whose namespace costs start-up time (locate.ts).
const { connect } = process.getBuiltinModule('node:net');

export interface QueryReply {
  ok: boolean;
  /** The procedure's output when ok (superjson's envelope undone). */
  data?: unknown;
}

/** GET `${url}/trpc/${path}?input=...`; resolves ok:false on any error, never rejects. */
export async function trpcQuery(url: string, token: string | null, path: string, input: unknown, timeoutMs = 5000): Promise<QueryReply> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false };
  }
  if (target.protocol !== 'http:') return { ok: false };
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.port || 80);
  const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  const head =
    `GET /trpc/${path}${query} HTTP/1.1\r\n` +
    `Host: ${target.host}\r\n` +
    (token ? `Authorization: Bearer ${token}\r\n` : '') +
    'Accept: application/json\r\nConnection: close\r\n\r\n';
  let raw: Buffer;
  try {
    raw = await request(host, port, head, timeoutMs);
  } catch {
    return { ok: false };
  }
  const body = parseResponse(raw);
  if (!body || body.status !== 200) return { ok: false };
  let parsed: { result?: { data?: { json?: unknown; meta?: unknown } } };
  try {
    parsed = JSON.parse(body.text) as typeof parsed;
  } catch {
    return { ok: false };
  }
  const data = parsed.result?.data;
  if (!data || typeof data !== 'object' || !('json' in data)) return { ok: false };
  if (data.meta === undefined) return { ok: true, data: data.json };
  // Values JSON cannot carry (undefined, Date, Map...): superjson restores them, loaded only then.
  const { default: superjson } = await import('superjson');
  return { ok: true, data: superjson.deserialize(data as Parameters<typeof superjson.deserialize>[0]) };
}

function request(host: string, port: number, head: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    // write, not end: a half-closed request socket makes Node's HTTP server drop a request whose
    // handler is still working (one that runs git, say) instead of answering it.
    socket.on('connect', () => socket.write(head));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks));
    });
  });
}

/** Status and body of a whole HTTP/1.1 response; null when it is not one. */
export function parseResponse(raw: Buffer): { status: number; text: string } | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
    const decoded = dechunk(body);
    if (!decoded) return null;
    body = decoded;
  } else if (headers.has('content-length')) {
    const len = Number(headers.get('content-length'));
    if (!Number.isInteger(len) || body.length < len) return null;
    body = body.subarray(0, len);
  }
  return { status: Number(m[1]), text: body.toString('utf8') };
}

function dechunk(buf: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const size = Number.parseInt(buf.subarray(pos, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    const start = eol + 2;
    if (buf.length < start + size) return null;
    parts.push(buf.subarray(start, start + size));
    pos = start + size + 2;
  }
}
