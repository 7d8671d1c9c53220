// Who gets the dashboard and its data: a one-time code for a session cookie, the Host check, and no
// cross-site mutations through the cookie. The bearer token keeps working as before.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

interface Res {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function http(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: t.daemon.port, path, method, headers: { host: `127.0.0.1:${t.daemon.port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function signIn(): Promise<string> {
  const { code } = await t.client.dashboard.signIn.mutate();
  const res = await http('GET', `/?code=${encodeURIComponent(code)}`);
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/');
  const setCookie = String(res.headers['set-cookie']);
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  return setCookie.split(';')[0]!;
}

describe('dashboard access', () => {
  it('shows how to get in, and no data, without a code or cookie', async () => {
    const page = await http('GET', '/');
    expect(page.status).toBe(401);
    expect(page.body).toContain('loopctl dashboard');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect((await http('GET', '/trpc/runs.list')).status).toBe(401);
  });

  it('trades a code once for a session cookie that reads the API', async () => {
    const { code } = await t.client.dashboard.signIn.mutate();
    const cookie = await (async () => {
      const res = await http('GET', `/?code=${encodeURIComponent(code)}`);
      return String(res.headers['set-cookie']).split(';')[0]!;
    })();
    const reused = await http('GET', `/?code=${encodeURIComponent(code)}`);
    expect(reused.status).toBe(401);
    expect(reused.body).toContain('already used or has expired');
    expect(reused.headers['set-cookie']).toBeUndefined();

    const list = await http('GET', '/trpc/runs.list', { cookie });
    expect(list.status).toBe(200);
    const app = await http('GET', '/', { cookie });
    expect(app.status).toBe(200);
    expect(app.body).toMatch(/<script type="module"[^>]*src="\/assets\//);
    expect(app.headers['content-security-policy']).toMatch(/default-src 'self'/);
  });

  it('refuses cookie mutations without the dashboard header or from another origin', async () => {
    const cookie = await signIn();
    const body = JSON.stringify({ json: { run: 'no-such-run' } });
    const post = (h: Record<string, string>) => http('POST', '/trpc/runs.scrap', { cookie, 'content-type': 'application/json', ...h }, body);
    const bare = await post({});
    expect(bare.status).toBe(403);
    expect(bare.body).toMatch(/cross-site request refused: missing x-loopd-dashboard header/);
    expect((await post({ 'x-loopd-dashboard': '1', origin: 'http://evil.example' })).status).toBe(403);
    // With the header from our own origin the request reaches the API (and the run is unknown).
    const ok = await post({ 'x-loopd-dashboard': '1', origin: `http://127.0.0.1:${t.daemon.port}` });
    expect(ok.status).toBe(404);
    expect(ok.body).toContain('no run matches');
  });

  it('issues sign-in codes to bearer-token clients only', async () => {
    const cookie = await signIn();
    const res = await http('POST', '/trpc/dashboard.signIn', { cookie, 'x-loopd-dashboard': '1', 'content-type': 'application/json' }, '{}');
    expect(res.status).toBe(403);
    expect(res.body).toContain('bearer-token clients only');
  });

  it('still applies the Host check to the pages, and still takes the bearer token', async () => {
    const cookie = await signIn();
    expect((await http('GET', '/', { cookie, host: `evil.example:${t.daemon.port}` })).status).toBe(403);
    expect((await http('GET', '/trpc/runs.list', { authorization: 'Bearer test-token' })).status).toBe(200);
    expect((await http('GET', '/trpc/runs.list', { cookie: 'loopd_session_1=forged.x.y' })).status).toBe(401);
  });
});
