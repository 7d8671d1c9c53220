// The loopback HTTP server. Guards every request before it reaches the API: a Host header that
// is not a loopback name for our own port is refused (DNS rebinding), no CORS headers are ever
// sent, and only /health answers without the bearer token.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { isLoopbackHost } from '../core/home.js';

export interface ServerOptions {
  host: string;
  port: number;
  token: string;
  /** Handles /trpc/*; receives `authorized` as decided here, and whether a token or a session did it. */
  api: (req: IncomingMessage, res: ServerResponse, authorized: boolean, via?: 'token' | 'session' | null) => void;
  /** The dashboard's session cookie check (host/session-auth.ts). */
  session?: (req: IncomingMessage) => 'session' | { refused: string } | null;
  /** The dashboard's pages (host/dashboard-http.ts); false falls through to 404. */
  web?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m || !m[1]) return false;
  const given = Buffer.from(m[1].trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** True when the Host header names a loopback host and, if it has a port, our port. */
export function hostAllowed(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  let host = hostHeader.trim().toLowerCase();
  let hostPort: string | null = null;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    hostPort = bracket[2] ?? null;
  } else {
    const idx = host.lastIndexOf(':');
    if (idx >= 0) {
      hostPort = host.slice(idx + 1);
      host = host.slice(0, idx);
    }
  }
  if (!isLoopbackHost(host)) return false;
  return hostPort === null ? port === 80 : Number(hostPort) === port;
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function startServer(opts: ServerOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  let boundPort = opts.port;
  const listener: RequestListener = (req, res) => {
    if (!hostAllowed(req.headers.host, boundPort)) {
      send(res, 403, { error: 'forbidden host: loopd only answers requests addressed to 127.0.0.1, localhost or [::1] on its own port' });
      return;
    }
    const url = req.url ?? '/';
    if (url === '/health' || url.startsWith('/health?')) {
      send(res, 200, { ok: true });
      return;
    }
    if (url.startsWith('/trpc/') || url === '/trpc') {
      if (tokenMatches(req.headers.authorization, opts.token)) return opts.api(req, res, true, 'token');
      const session = opts.session?.(req) ?? null;
      if (session !== null && session !== 'session') return send(res, 403, { error: session.refused });
      opts.api(req, res, session === 'session', session);
      return;
    }
    if (opts.web?.(req, res)) return;
    send(res, 404, { error: 'not found: the API is under /trpc' });
  };
  const server = createServer(listener);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const addr = server.address();
      boundPort = typeof addr === 'object' && addr ? addr.port : opts.port;
      resolve({
        server,
        port: boundPort,
        close: () =>
          new Promise<void>((done) => {
            // Open SSE streams would otherwise keep close() waiting forever.
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
