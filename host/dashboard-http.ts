// Serves the dashboard: the built single-page app (dist/dashboard, made by `npm run build`) to a
// browser with a session, the one-time-code exchange, and a page that says how to get in to one
// without. Assets carry no data and are served to anyone who passed the Host check.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { installedPath } from '../core/package-root.js';
import type { DashboardSessions } from './session-auth.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // The login URL carries the one-time code: never hand it on.
  'referrer-policy': 'no-referrer',
};

/** The built dashboard (dist/dashboard, made by `npm run build`); null when it was not built. */
export function locateDashboard(): string | null {
  const dir = installedPath('dist', 'dashboard');
  return existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'assets')) ? dir : null;
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2328}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}h1{font-size:1.4rem}</style>
</head><body>${body}</body></html>`;
}

export function loginPage(note: string | null): string {
  return page(
    'loopd dashboard: sign in',
    `<h1>loopd dashboard</h1>
${note ? `<p><strong>${note}</strong></p>` : ''}
<p>This page needs a session. Open the dashboard from a terminal on this machine:</p>
<p><code>loopctl dashboard</code></p>
<p>It opens your browser with a one-time sign-in link (<code>loopctl dashboard --print-url</code> prints the link instead). The link works once and for two minutes; the session lasts seven days or until the daemon's token changes.</p>`,
  );
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS, ...extra });
  res.end(body);
}

export function createDashboardHandler(sessions: DashboardSessions, dir: string | null = locateDashboard()) {
  /** Returns false for requests that are not the dashboard's (the server answers 404). */
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://loopd.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') return false;

    if (url.pathname.startsWith('/assets/')) {
      if (!dir) return false;
      const file = normalize(join(dir, url.pathname));
      if (!file.startsWith(join(dir, 'assets') + sep) || !existsSync(file) || !statSync(file).isFile()) return false;
      // File names carry a content hash: cache them for good.
      send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file), { 'cache-control': 'public, max-age=31536000, immutable' });
      return true;
    }
    if (url.pathname !== '/' && url.pathname !== '/index.html') return false;

    const code = url.searchParams.get('code');
    if (code !== null) {
      const cookie = sessions.redeem(code);
      if (cookie === null) {
        send(res, 401, TYPES['.html']!, loginPage('That sign-in link was already used or has expired.'), { 'cache-control': 'no-store' });
        return true;
      }
      // Redirect so the code leaves the address bar and the history.
      res.writeHead(303, { location: '/', 'set-cookie': sessions.setCookieHeader(cookie), 'cache-control': 'no-store', ...SECURITY_HEADERS });
      res.end();
      return true;
    }
    if (!sessions.hasSession(req)) {
      send(res, 401, TYPES['.html']!, loginPage(null), { 'cache-control': 'no-store' });
      return true;
    }
    if (!dir) {
      send(res, 503, TYPES['.html']!, page('loopd dashboard', '<h1>loopd dashboard</h1><p>The dashboard was not built: run <code>npm run build</code> in the loopd checkout and reload.</p>'), { 'cache-control': 'no-store' });
      return true;
    }
    send(res, 200, TYPES['.html']!, readFileSync(join(dir, 'index.html')), { 'cache-control': 'no-store' });
    return true;
  };
}
