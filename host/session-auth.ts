// The dashboard's way in. A bearer-token client (loopctl dashboard) asks for a one-time code; the
// browser brings it once in the URL and gets an HttpOnly, SameSite=Strict session cookie instead.
//
// The cookie is signed with a key derived from the daemon's bearer token, so sessions survive a
// daemon restart (nothing to store) and all die when the token changes. Codes live in memory only:
// they are single-use and short-lived, so a restart simply means asking for a new one.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CODE_TTL_MS = 2 * 60 * 1000;
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** The header the dashboard sends with every request; a cross-site form or image cannot send it. */
export const CSRF_HEADER = 'x-loopd-dashboard';

export type SessionCheck = 'session' | { refused: string } | null;

export class DashboardSessions {
  private readonly codes = new Map<string, number>();
  private readonly key: Buffer;

  constructor(
    token: string,
    private readonly port: () => number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', 'loopd dashboard session key').update(token).digest();
  }

  /** Cookies ignore ports: two daemons on one host must not overwrite each other's session. */
  cookieName(): string {
    return `loopd_session_${this.port()}`;
  }

  issueCode(): { code: string; expiresAt: number } {
    const t = this.now();
    for (const [c, exp] of this.codes) if (exp <= t) this.codes.delete(c);
    const code = randomBytes(24).toString('base64url');
    const expiresAt = t + CODE_TTL_MS;
    this.codes.set(code, expiresAt);
    return { code, expiresAt };
  }

  /** Exchanges a code for a session cookie value; null when unknown, used or expired. */
  redeem(code: string): string | null {
    const exp = this.codes.get(code);
    if (exp === undefined) return null;
    this.codes.delete(code);
    if (exp <= this.now()) return null;
    const expires = this.now() + SESSION_TTL_MS;
    const body = `${expires}.${randomBytes(12).toString('base64url')}`;
    return `${body}.${this.sign(body)}`;
  }

  setCookieHeader(value: string): string {
    return `${this.cookieName()}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(SESSION_TTL_MS / 1000)}`;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  /** True when the request carries a valid, unexpired session cookie of this daemon. */
  hasSession(req: IncomingMessage): boolean {
    const value = readCookie(req.headers.cookie, this.cookieName());
    if (!value) return false;
    const m = /^(\d+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(value);
    if (!m) return false;
    const given = Buffer.from(m[3]!);
    const expected = Buffer.from(this.sign(`${m[1]}.${m[2]}`));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return Number(m[1]) > this.now();
  }

  /**
   * For an API request: 'session' when the cookie authorizes it, null without a valid cookie, and a
   * refusal for a cookie-carrying request that may come from another site. Reads need only the
   * cookie (SameSite=Strict keeps it off cross-site requests, and no CORS header lets another
   * origin read an answer); anything else must also carry the dashboard's header and, when the
   * browser names one, our own Origin.
   */
  check(req: IncomingMessage): SessionCheck {
    if (!this.hasSession(req)) return null;
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'GET' || method === 'HEAD') return 'session';
    const why = crossSiteReason(req);
    return why === null ? 'session' : { refused: `cross-site request refused: ${why}; the dashboard sends the ${CSRF_HEADER} header from its own origin` };
  }
}

export function crossSiteReason(req: IncomingMessage): string | null {
  if (req.headers[CSRF_HEADER] !== '1') return `missing ${CSRF_HEADER} header`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) return `Origin ${origin} is not this daemon`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${String(site)}`;
  return null;
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const idx = part.indexOf('=');
    if (idx < 0) continue;
    if (part.slice(0, idx).trim() === name) return part.slice(idx + 1).trim();
  }
  return null;
}
