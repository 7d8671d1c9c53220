// A tRPC SSE subscription over a raw socket, for the fast path's follow mode (`tail -f`, `events -f`).
//
// The oclif path pays for oclif, the tRPC client, eventsource and undici (~200 ms before the first
// line); this reads the same stream with node:net, as fast-http.ts does for queries. It speaks what
// loopd's server sends: chunked transfer encoding around SSE messages (`connected`, data with an
// `id`, `ping`, `return`, `serialized-error`). Like the tRPC client it reconnects when the stream
// breaks or falls silent for the server's `reconnectAfterInactivityMs`, resuming after the last id
// it received, and says so on stderr in the same words.
import type { Socket } from 'node:net';
import type { DaemonLocation } from './locate.js';

// The loaded module rather than an ES import of it, whose namespace costs start-up time (locate.ts).
const { connect } = process.getBuiltinModule('node:net');

export interface Subscription {
  /** tRPC procedure path, e.g. `runs.output`. */
  path: string;
  /** The input; `lastEventId` is added on reconnects. */
  input: Record<string, unknown>;
  /** Where the daemon is; asked again before each reconnect (a restarted daemon may move). */
  locate: () => DaemonLocation;
  /** Called once, when the first connection is accepted, before any data. */
  onOpen?: () => void;
  /**
   * The caller already printed (what a query it made returned): a first connection that fails is
   * then retried like a broken one instead of being 'refused'.
   */
  printed?: boolean;
  onData: (data: unknown) => void;
}

/** How the subscription ended: the server finished it, or the first connection was not accepted. */
export type Outcome = { kind: 'done' } | { kind: 'refused' } | { kind: 'error'; message: string } | { kind: 'interrupted' };

const RETRY_MS = 500;

/** Incremental decoder of HTTP chunked transfer encoding. */
class Dechunker {
  private buf: Buffer = Buffer.alloc(0);
  private left = -1;
  push(data: Buffer, out: (b: Buffer) => void): boolean {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.left < 0) {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return true;
        const size = Number.parseInt(this.buf.subarray(0, eol).toString('latin1').split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size)) return false;
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) return true;
        this.left = size;
      }
      if (this.left > 0) {
        if (this.buf.length === 0) return true;
        const take = Math.min(this.left, this.buf.length);
        out(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.left -= take;
      }
      if (this.left === 0) {
        if (this.buf.length < 2) return true;
        this.buf = this.buf.subarray(2);
        this.left = -1;
      }
    }
  }
}

interface Message {
  event: string;
  data: string;
  id: string | null;
}

/** Incremental SSE parser: lines to messages. */
class SseParser {
  private partial = '';
  private decoder = new TextDecoder();
  private msg: { event: string; data: string[]; id: string | null } = { event: 'message', data: [], id: null };
  push(bytes: Buffer, out: (m: Message) => void): void {
    const text = this.partial + this.decoder.decode(bytes, { stream: true });
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') {
        if (this.msg.data.length > 0 || this.msg.event !== 'message') out({ event: this.msg.event, data: this.msg.data.join('\n'), id: this.msg.id });
        this.msg = { event: 'message', data: [], id: null };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.msg.event = value;
      else if (field === 'data') this.msg.data.push(value);
      else if (field === 'id') this.msg.id = value;
    }
  }
}

/** superjson's envelope undone; superjson itself is loaded only for values JSON cannot carry. */
async function decode(data: string): Promise<unknown> {
  const env = JSON.parse(data) as { json: unknown; meta?: unknown };
  if (env.meta === undefined) return env.json;
  const { default: superjson } = await import('superjson');
  return superjson.deserialize(env as Parameters<typeof superjson.deserialize>[0]);
}

function requestHead(loc: DaemonLocation, path: string, input: Record<string, unknown>): { host: string; port: number; head: string } | null {
  let target: URL;
  try {
    target = new URL(loc.url);
  } catch {
    return null;
  }
  if (target.protocol !== 'http:') return null;
  const head =
    `GET /trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))} HTTP/1.1\r\n` +
    `Host: ${target.host}\r\n` +
    (loc.token ? `Authorization: Bearer ${loc.token}\r\n` : '') +
    'Accept: text/event-stream\r\nConnection: close\r\n\r\n';
  return { host: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(target.port || 80), head };
}

interface ResponseHead {
  /** The status line. */
  status: string;
  /** A 200 event stream. */
  ok: boolean;
  chunked: boolean;
  /** Body bytes that arrived with the head. */
  rest: Buffer;
}

/** The response head once all of it has arrived (null until then). */
function parseHead(buf: Buffer): ResponseHead | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = lines[0] ?? '';
  return {
    status,
    ok: /^HTTP\/1\.[01] 200 /.test(status) && lines.some((l) => /^content-type:\s*text\/event-stream/i.test(l)),
    chunked: lines.some((l) => /^transfer-encoding:.*\bchunked\b/i.test(l)),
    rest: buf.subarray(end + 4),
  };
}

/** One HTTP connection of a session: how far its response has been read. */
interface Connection {
  socket: Socket;
  /** The response head read so far; null once it is complete. */
  head: Buffer | null;
  chunked: boolean;
  dechunk: Dechunker;
  parser: SseParser;
  /** The server ended the stream on this connection (or refused it): its close is not retried. */
  ended: boolean;
}

/** One `follow`: the connections it makes in turn and what they have received between them. */
class FollowSession {
  private lastEventId: string | null = null;
  /** Something was printed (by the caller or by us): a failure is no longer 'refused'. */
  private opened: boolean;
  private accepted = false;
  private delivered = false;
  private retried = false;
  private reconnecting = false;
  private finished = false;
  private socket: Socket | null = null;
  private silence: NodeJS.Timeout | null = null;
  private inactivityMs = 0;
  // Messages are handled in order even when one needs superjson loaded.
  private queue = Promise.resolve();
  private readonly interrupt = () => this.finish({ kind: 'interrupted' });

  constructor(
    private readonly sub: Subscription,
    private readonly resolveOutcome: (o: Outcome) => void,
  ) {
    this.opened = sub.printed === true;
    process.on('SIGINT', this.interrupt);
  }

  finish(o: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    process.off('SIGINT', this.interrupt);
    if (this.silence) clearTimeout(this.silence);
    this.socket?.destroy();
    this.resolveOutcome(o);
  }

  private retry(): void {
    if (this.finished) return;
    if (!this.opened) return this.finish({ kind: 'refused' });
    if (!this.reconnecting) {
      this.reconnecting = true;
      process.stderr.write('connection to loopd lost; reconnecting (resumes where it stopped)...\n');
    }
    this.retried = true;
    setTimeout(() => this.open(), RETRY_MS);
  }

  open(): void {
    if (this.finished) return;
    let loc: DaemonLocation;
    try {
      loc = this.sub.locate();
    } catch {
      return this.retry();
    }
    const input = this.lastEventId === null ? this.sub.input : { ...this.sub.input, lastEventId: this.lastEventId };
    const req = requestHead(loc, this.sub.path, input);
    if (!req) return this.finish(this.opened ? { kind: 'error', message: `cannot reach loopd at ${loc.url}` } : { kind: 'refused' });
    const s = connect({ host: req.host, port: req.port });
    this.socket = s;
    const conn: Connection = { socket: s, head: Buffer.alloc(0), chunked: true, dechunk: new Dechunker(), parser: new SseParser(), ended: false };
    s.on('connect', () => s.write(req.head));
    s.on('data', (data: Buffer) => this.onData(conn, data));
    s.on('error', () => {
      /* 'close' follows */
    });
    s.on('close', () => {
      if (this.silence) clearTimeout(this.silence);
      void this.queue.then(() => {
        if (!conn.ended && !this.finished) this.retry();
      });
    });
  }

  /** Restarts the inactivity timer: a stream silent for the server's interval is broken. */
  private touch(conn: Connection): void {
    if (this.silence) clearTimeout(this.silence);
    if (this.inactivityMs > 0) this.silence = setTimeout(() => conn.socket.destroy(), this.inactivityMs);
  }

  private onData(conn: Connection, data: Buffer): void {
    this.touch(conn);
    if (conn.head !== null) {
      const rest = this.onHead(conn, Buffer.concat([conn.head, data]));
      if (rest === null) return;
      data = rest;
    }
    if (data.length > 0 && !this.feed(conn, data)) conn.socket.destroy();
  }

  /** Body bytes to messages; false when the chunked framing is broken. */
  private feed(conn: Connection, data: Buffer): boolean {
    const onMessage = (m: Message) => this.onMessage(conn, m);
    if (conn.chunked) return conn.dechunk.push(data, (b) => conn.parser.push(b, onMessage));
    conn.parser.push(data, onMessage);
    return true;
  }

  /** Reads the response head; the body bytes after it, or null while it is incomplete or refused. */
  private onHead(conn: Connection, buf: Buffer): Buffer | null {
    conn.head = buf;
    const head = parseHead(buf);
    if (!head) return null;
    conn.head = null;
    if (!head.ok) {
      // Not a stream: the first time oclif explains it; later the daemon changed under us.
      conn.ended = true;
      conn.socket.destroy();
      if (!this.opened) this.finish({ kind: 'refused' });
      else this.finish({ kind: 'error', message: `loopd refused to resume the stream (${head.status})` });
      return null;
    }
    conn.chunked = head.chunked;
    return head.rest;
  }

  private onMessage(conn: Connection, m: Message): void {
    this.queue = this.queue.then(async () => {
      if (this.finished || conn.ended) return;
      await this.handle(conn, m);
    });
    this.queue.catch((err: unknown) => this.finish({ kind: 'error', message: err instanceof Error ? err.message : String(err) }));
  }

  private async handle(conn: Connection, m: Message): Promise<void> {
    if (m.event === 'connected') {
      this.onConnected(conn, m);
    } else if (m.event === 'return') {
      conn.ended = true;
      this.finish({ kind: 'done' });
    } else if (m.event === 'serialized-error') {
      conn.ended = true;
      // An unknown run or workspace is reported just after `connected`: nothing is printed
      // yet, so oclif can still word it.
      if (!this.delivered && !this.sub.printed && !this.retried) return this.finish({ kind: 'refused' });
      const err = (await decode(m.data)) as { message?: string } | null;
      this.finish({ kind: 'error', message: err?.message ?? 'the daemon ended the stream with an error' });
    } else if (m.event === 'message') {
      if (m.id) this.lastEventId = m.id;
      this.delivered = true;
      this.sub.onData(await decode(m.data));
    } else if (m.id) {
      // restore-id: the id to resume from when a message carried none.
      this.lastEventId = m.id;
    }
  }

  private onConnected(conn: Connection, m: Message): void {
    const info = JSON.parse(m.data || '{}') as { reconnectAfterInactivityMs?: number };
    this.inactivityMs = info.reconnectAfterInactivityMs ?? 0;
    this.touch(conn);
    if (!this.accepted) {
      this.accepted = true;
      this.opened = true;
      this.sub.onOpen?.();
    } else if (this.reconnecting) {
      this.reconnecting = false;
      process.stderr.write('reconnected to loopd\n');
    }
  }
}

/**
 * Follows the subscription until the server ends it, the user interrupts (SIGINT), or, on the
 * first connection only, the daemon does not accept it ('refused': nothing was printed yet).
 */
export function follow(sub: Subscription): Promise<Outcome> {
  return new Promise((resolveOutcome) => new FollowSession(sub, resolveOutcome).open());
}
