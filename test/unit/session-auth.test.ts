import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CODE_TTL_MS, DashboardSessions, SESSION_TTL_MS, readCookie } from '../../host/session-auth.js';

function req(headers: Record<string, string>, method = 'GET'): IncomingMessage {
  return { headers, method } as unknown as IncomingMessage;
}

describe('DashboardSessions', () => {
  it('trades a code once for a signed, HttpOnly, SameSite=Strict cookie', () => {
    const s = new DashboardSessions('token', () => 7700);
    const { code } = s.issueCode();
    const cookie = s.redeem(code);
    expect(cookie).not.toBeNull();
    expect(s.redeem(code)).toBeNull();
    expect(s.setCookieHeader(cookie!)).toMatch(/^loopd_session_7700=.+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(s.hasSession(req({ cookie: `other=1; loopd_session_7700=${cookie}` }))).toBe(true);
    // Another port's daemon, another token, a forged signature: no session.
    expect(s.hasSession(req({ cookie: `loopd_session_7701=${cookie}` }))).toBe(false);
    expect(new DashboardSessions('other-token', () => 7700).hasSession(req({ cookie: `loopd_session_7700=${cookie}` }))).toBe(false);
    expect(s.hasSession(req({ cookie: `loopd_session_7700=${cookie!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}` }))).toBe(false);
    expect(s.redeem('made-up')).toBeNull();
  });

  it('expires codes and sessions', () => {
    let now = 1_000_000;
    const s = new DashboardSessions('token', () => 1, () => now);
    const late = s.issueCode().code;
    now += CODE_TTL_MS + 1;
    expect(s.redeem(late)).toBeNull();
    const cookie = s.redeem(s.issueCode().code)!;
    expect(s.hasSession(req({ cookie: `loopd_session_1=${cookie}` }))).toBe(true);
    now += SESSION_TTL_MS + 1;
    expect(s.hasSession(req({ cookie: `loopd_session_1=${cookie}` }))).toBe(false);
  });

  it('lets reads through on the cookie, and mutations only with the header from our own origin', () => {
    const s = new DashboardSessions('token', () => 7700);
    const cookie = `loopd_session_7700=${s.redeem(s.issueCode().code)!}`;
    const host = '127.0.0.1:7700';
    expect(s.check(req({ cookie, host }))).toBe('session');
    expect(s.check(req({ host }, 'POST'))).toBeNull();
    expect(s.check(req({ cookie, host }, 'POST'))).toEqual({ refused: expect.stringMatching(/missing x-loopd-dashboard header/) });
    expect(s.check(req({ cookie, host, 'x-loopd-dashboard': '1', origin: 'http://evil.example' }, 'POST'))).toEqual({ refused: expect.stringMatching(/Origin http:\/\/evil.example/) });
    expect(s.check(req({ cookie, host, 'x-loopd-dashboard': '1', 'sec-fetch-site': 'cross-site' }, 'POST'))).toEqual({ refused: expect.stringMatching(/Sec-Fetch-Site/) });
    expect(s.check(req({ cookie, host, 'x-loopd-dashboard': '1', origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, 'POST'))).toBe('session');
  });
});

describe('readCookie', () => {
  it('finds a cookie by exact name', () => {
    expect(readCookie('a=1; ab=2;b=3', 'b')).toBe('3');
    expect(readCookie('a=1', 'b')).toBeNull();
    expect(readCookie(undefined, 'b')).toBeNull();
  });
});
