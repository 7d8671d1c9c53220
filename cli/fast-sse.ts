// A tRPC SSE subscription over a raw socket, for the fast path's follow mode (`tail -f`, `events -f`).
//
// The oclif path pays for oclif, the tRPC client, eventsource and undici (~200 ms before the first
// line); this reads the same stream with node:net, as fast-http.ts does for queries. It speaks what
// loopd's server sends: chunked transfer encoding around SSE messages (`connected`, data with an
// `id`, `ping`, `return`, `serialized-error`). Like the tRPC client it reconnects when the stream
// breaks or falls silent for the server's `reconnectAfterInactivityMs`, resuming after the last id
// it received, and says so on stderr in the same words.
import { connect, type Socket } from 'node:net';
import type { DaemonLocation } from './locate.js';

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

/**
 * Follows the subscription until the server ends it, the user interrupts (SIGINT), or, on the
 * first connection only, the daemon does not accept it ('refused': nothing was printed yet).
 */
export function follow(sub: Subscription): Promise<Outcome> {
  return new Promise((resolveOutcome) => {
    let lastEventId: string | null = null;
    let opened = sub.printed === true;
    let accepted = false;
    let delivered = false;
    let retried = false;
    let reconnecting = false;
    let finished = false;
    let socket: Socket | null = null;
    let silence: NodeJS.Timeout | null = null;
    let inactivityMs = 0;
    // Messages are handled in order even when one needs superjson loaded.
    let queue = Promise.resolve();

    const finish = (o: Outcome) => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', interrupt);
      if (silence) clearTimeout(silence);
      socket?.destroy();
      resolveOutcome(o);
    };
    const interrupt = () => finish({ kind: 'interrupted' });
    process.on('SIGINT', interrupt);

    const retry = () => {
      if (finished) return;
      if (!opened) return finish({ kind: 'refused' });
      if (!reconnecting) {
        reconnecting = true;
        process.stderr.write('connection to loopd lost; reconnecting (resumes where it stopped)...\n');
      }
      retried = true;
      setTimeout(open, RETRY_MS);
    };

    const open = () => {
      if (finished) return;
      let loc: DaemonLocation;
      try {
        loc = sub.locate();
      } catch {
        return retry();
      }
      const input = lastEventId === null ? sub.input : { ...sub.input, lastEventId };
      const req = requestHead(loc, sub.path, input);
      if (!req) return finish(opened ? { kind: 'error', message: `cannot reach loopd at ${loc.url}` } : { kind: 'refused' });
      const s = connect({ host: req.host, port: req.port });
      socket = s;
      let head: Buffer | null = Buffer.alloc(0) as Buffer;
      const dechunk = new Dechunker();
      const parser = new SseParser();
      let feed: (data: Buffer) => boolean = (data) => dechunk.push(data, (b) => parser.push(b, onMessage));
      let ended = false;
      const touch = () => {
        if (silence) clearTimeout(silence);
        if (inactivityMs > 0) silence = setTimeout(() => s.destroy(), inactivityMs);
      };
      const onMessage = (m: Message) => {
        queue = queue.then(async () => {
          if (finished || ended) return;
          if (m.event === 'connected') {
            const info = JSON.parse(m.data || '{}') as { reconnectAfterInactivityMs?: number };
            inactivityMs = info.reconnectAfterInactivityMs ?? 0;
            touch();
            if (!accepted) {
              accepted = true;
              opened = true;
              sub.onOpen?.();
            } else if (reconnecting) {
              reconnecting = false;
              process.stderr.write('reconnected to loopd\n');
            }
          } else if (m.event === 'return') {
            ended = true;
            finish({ kind: 'done' });
          } else if (m.event === 'serialized-error') {
            ended = true;
            // An unknown run or workspace is reported just after `connected`: nothing is printed
            // yet, so oclif can still word it.
            if (!delivered && !sub.printed && !retried) return finish({ kind: 'refused' });
            const err = (await decode(m.data)) as { message?: string } | null;
            finish({ kind: 'error', message: err?.message ?? 'the daemon ended the stream with an error' });
          } else if (m.event === 'message') {
            if (m.id) lastEventId = m.id;
            delivered = true;
            sub.onData(await decode(m.data));
          } else if (m.id) {
            // restore-id: the id to resume from when a message carried none.
            lastEventId = m.id;
          }
        });
        queue.catch((err: unknown) => finish({ kind: 'error', message: err instanceof Error ? err.message : String(err) }));
      };
      s.on('connect', () => s.write(req.head));
      s.on('data', (data: Buffer) => {
        touch();
        if (head !== null) {
          head = Buffer.concat([head, data]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          const lines = head.subarray(0, end).toString('latin1').split('\r\n');
          const ok = /^HTTP\/1\.[01] 200 /.test(lines[0] ?? '') && lines.some((l) => /^content-type:\s*text\/event-stream/i.test(l));
          const chunked = lines.some((l) => /^transfer-encoding:.*\bchunked\b/i.test(l));
          const rest = head.subarray(end + 4);
          head = null;
          if (!ok) {
            // Not a stream: the first time oclif explains it; later the daemon changed under us.
            ended = true;
            s.destroy();
            if (!opened) finish({ kind: 'refused' });
            else finish({ kind: 'error', message: `loopd refused to resume the stream (${lines[0] ?? 'no status'})` });
            return;
          }
          if (!chunked) {
            feed = (b) => {
              parser.push(b, onMessage);
              return true;
            };
          }
          data = rest;
        }
        if (data.length > 0 && !feed(data)) s.destroy();
      });
      s.on('error', () => {
        /* 'close' follows */
      });
      s.on('close', () => {
        if (silence) clearTimeout(silence);
        void queue.then(() => {
          if (!ended && !finished) retry();
        });
      });
    };
    open();
  });
}
