// The `runs.output` subscription written straight from the log files to the socket.
//
// tRPC's SSE writer turns every 64 KiB chunk into five copies on the JS heap (the decoded string,
// superjson's JSON, the `data:` frame, the TextEncoderStream bytes, plus a fresh read buffer): with
// five runs streaming 20 MB each to five `tail -f` readers that is ~500 MB of garbage in seconds,
// and V8 grows its young generation toward its maximum to absorb it (docs/performance.md). This
// writer frames the same SSE messages (same events, data and ids, so the tRPC client and the fast
// path read them unchanged) into one buffer per connection, escaping the bytes for JSON without
// decoding them, and reuses the buffer only once the socket has taken the previous frame. Nothing
// per chunk reaches the JS heap.
//
// It answers only requests it understands completely (an authorized GET with a valid input for a
// run that exists); anything else goes to tRPC, which gives the canonical error.
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { transformer } from '../router/transformer.js';
import type { LogFn } from './logger.js';
import { OUTPUT_CHUNK_BYTES, type RawOutputChunk } from './service/output-stream.js';

export const OUTPUT_PATH = '/trpc/runs.output';

/** Opens the output stream of a run; rejects (a UserError) when the run does not exist. */
export type OpenOutput = (ref: string, resume: string | null, follow: boolean, signal: AbortSignal) => Promise<AsyncGenerator<RawOutputChunk>>;

/** As the router configures tRPC's SSE (router/trpc.ts): pings every 2 s, client reconnects after 5 s of silence. */
const PING_MS = 2000;
const CONNECTED = 'event: connected\ndata: {"reconnectAfterInactivityMs":5000}\n\n';
const PING = 'event: ping\ndata: \n\n';
const RETURN = 'event: return\ndata: \n\n';

interface OutputInput {
  run: string;
  lastEventId: string | null;
  follow: boolean;
}

/** The subscription's input as tRPC would read it, or null to leave the request to tRPC. */
export function parseOutputRequest(req: IncomingMessage): OutputInput | null {
  if (req.method !== 'GET' || !req.url) return null;
  const url = new URL(req.url, 'http://loopd');
  if (url.pathname !== OUTPUT_PATH) return null;
  let input: unknown;
  try {
    const raw = url.searchParams.get('input');
    input = raw === null ? undefined : transformer.input.deserialize(JSON.parse(raw));
  } catch {
    return null;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return null;
  const { run, lastEventId, follow } = input as Record<string, unknown>;
  if (typeof run !== 'string' || run.length === 0) return null;
  if (lastEventId !== undefined && lastEventId !== null && typeof lastEventId !== 'string') return null;
  if (follow !== undefined && typeof follow !== 'boolean') return null;
  // tRPC lets the reconnecting EventSource's header (or query parameter) win over the input.
  const header = req.headers['last-event-id'];
  const resumed = (typeof header === 'string' && header !== '' ? header : null) ?? url.searchParams.get('lastEventId') ?? url.searchParams.get('Last-Event-Id');
  return { run, lastEventId: resumed || (lastEventId ?? null), follow: follow ?? true };
}

/** JSON's escape for one byte below 0x20 or `"` / `\`; null when the byte stands for itself. */
const ESCAPES: (Buffer | null)[] = Array.from({ length: 256 }, (_, b) => {
  if (b === 0x22) return Buffer.from('\\"');
  if (b === 0x5c) return Buffer.from('\\\\');
  if (b >= 0x20) return null;
  const short: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r' };
  return Buffer.from(short[b] ?? `\\u${b.toString(16).padStart(4, '0')}`);
});

/** Bytes of the JSON string literal of `bytes` (with quotes), as JSON.stringify(bytes.toString()) would give. */
export function jsonStringBytes(bytes: Buffer, out: Buffer, at: number): number {
  let o = at;
  out[o++] = 0x22;
  let run = 0;
  for (let i = 0; i < bytes.length; i++) {
    const e = ESCAPES[bytes[i]!]!;
    if (e === null) continue;
    if (i > run) o += bytes.copy(out, o, run, i);
    o += e.copy(out, o);
    run = i + 1;
  }
  if (bytes.length > run) o += bytes.copy(out, o, run);
  out[o++] = 0x22;
  return o - at;
}

/** The size jsonStringBytes needs for `bytes`. */
export function jsonStringLength(bytes: Buffer): number {
  let n = bytes.length + 2;
  for (let i = 0; i < bytes.length; i++) {
    const e = ESCAPES[bytes[i]!];
    if (e) n += e.length - 1;
  }
  return n;
}

/** One SSE frame per chunk, written into a buffer the connection reuses. */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES + 512);

  frame(c: RawOutputChunk): Buffer {
    // Valid UTF-8 is copied as it is (JSON allows raw UTF-8); anything else is decoded as
    // toString() would (U+FFFD for bad bytes), so the text is what the tRPC writer sends.
    const body = isUtf8(c.bytes) ? c.bytes : null;
    const literal = body ? null : Buffer.from(JSON.stringify(c.bytes.toString('utf8')));
    const head = `data: {"json":{"stepId":${c.stepId},"iteration":${c.iteration},"phase":${JSON.stringify(c.phase)},"attempt":${c.attempt},"offset":${c.offset},"chunk":`;
    const tail = `}}\nid: ${c.stepId}:${c.offset}\n\n`;
    const need = Buffer.byteLength(head) + (body ? jsonStringLength(body) : literal!.length) + Buffer.byteLength(tail);
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    let o = this.buf.write(head, 0, 'latin1');
    o += body ? jsonStringBytes(body, this.buf, o) : literal!.copy(this.buf, o);
    o += this.buf.write(tail, o, 'latin1');
    return this.buf.subarray(0, o);
  }
}

/** Resolves once the socket has taken `data` (so its buffer may be reused); rejects on a closed socket. */
function send(res: ServerResponse, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Answers a `runs.output` subscription if it can; false leaves the request untouched for tRPC.
 * The stream is opened before anything is written, so an unknown run still gets tRPC's NOT_FOUND.
 */
export async function serveOutput(req: IncomingMessage, res: ServerResponse, open: OpenOutput, log: LogFn): Promise<boolean> {
  const input = parseOutputRequest(req);
  if (!input) return false;
  const abort = new AbortController();
  let chunks: AsyncGenerator<RawOutputChunk>;
  try {
    chunks = await open(input.run, input.lastEventId, input.follow, abort.signal);
  } catch {
    return false;
  }
  const stop = () => abort.abort();
  res.on('close', stop);
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
  let busy = false;
  let lastWrite = Date.now();
  const ping = setInterval(() => {
    if (busy || Date.now() - lastWrite < PING_MS || res.writableEnded) return;
    lastWrite = Date.now();
    res.write(PING);
  }, PING_MS);
  const frames = new FrameWriter();
  try {
    await send(res, CONNECTED);
    for await (const c of chunks) {
      busy = true;
      await send(res, frames.frame(c));
      busy = false;
      lastWrite = Date.now();
    }
    if (!abort.signal.aborted) res.end(RETURN);
  } catch (err) {
    if (!abort.signal.aborted && !res.writableEnded) {
      const message = err instanceof Error ? err.message : String(err);
      log(`internal error in runs.output: ${message}`, { level: 'error', stack: err instanceof Error ? err.stack : undefined });
      const shape = { code: -32603, message, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 } };
      res.end(`event: serialized-error\ndata: ${JSON.stringify({ json: shape })}\n\n`);
    }
  } finally {
    clearInterval(ping);
    res.off('close', stop);
    abort.abort();
    await chunks.return(undefined);
  }
  return true;
}
