// How the client finds the daemon and its token, without a daemon.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoverDaemon, normalizeUrl, probeHealth, waitForDaemon } from '../../cli/client.js';
import { notRunningMessage, unauthorizedMessage } from '../../cli/base.js';
import { closedPort } from './helpers.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'loopd-home-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function writeInfo(port: number, host = '127.0.0.1'): void {
  writeFileSync(join(home, 'daemon.json'), JSON.stringify({ pid: process.pid, host, port, startedAt: Date.now(), version: '0.1.0' }));
}

describe('discoverDaemon URL', () => {
  it('defaults to 127.0.0.1:7700 with nothing to go on', () => {
    const loc = discoverDaemon({ env: { LOOPD_HOME: home } });
    expect(loc.url).toBe('http://127.0.0.1:7700');
    expect(loc.urlSource).toBe('default');
    expect(loc.info).toBeNull();
    expect(loc.home).toBe(home);
  });

  it('uses daemon.json from LOOPD_HOME', () => {
    writeInfo(41234);
    const loc = discoverDaemon({ env: { LOOPD_HOME: home } });
    expect(loc.url).toBe('http://127.0.0.1:41234');
    expect(loc.urlSource).toBe('daemon.json');
    expect(loc.info?.pid).toBe(process.pid);
  });

  it('prefers LOOPD_ADDR over daemon.json', () => {
    writeInfo(41234);
    const loc = discoverDaemon({ env: { LOOPD_HOME: home, LOOPD_ADDR: '127.0.0.1:7801' } });
    expect(loc.url).toBe('http://127.0.0.1:7801');
    expect(loc.urlSource).toBe('LOOPD_ADDR');
  });

  it('falls back to daemon.json when LOOPD_ADDR asks for any free port', () => {
    writeInfo(41234);
    expect(discoverDaemon({ env: { LOOPD_HOME: home, LOOPD_ADDR: '127.0.0.1:0' } }).url).toBe('http://127.0.0.1:41234');
  });

  it('prefers an explicit url over everything', () => {
    writeInfo(41234);
    const loc = discoverDaemon({ url: 'http://localhost:9000/trpc', env: { LOOPD_HOME: home, LOOPD_ADDR: ':7801' } });
    expect(loc.url).toBe('http://localhost:9000');
    expect(loc.urlSource).toBe('option');
  });

  it('an explicit home wins over LOOPD_HOME', () => {
    writeInfo(41235);
    expect(discoverDaemon({ home, env: { LOOPD_HOME: '/nonexistent' } }).url).toBe('http://127.0.0.1:41235');
  });

  it('ignores a daemon.json it cannot parse', () => {
    writeFileSync(join(home, 'daemon.json'), '{"pid": 1, "ho');
    expect(discoverDaemon({ env: { LOOPD_HOME: home } }).url).toBe('http://127.0.0.1:7700');
  });

  it('normalizes addresses and URLs', () => {
    expect(normalizeUrl('127.0.0.1:7700')).toBe('http://127.0.0.1:7700');
    expect(normalizeUrl(':7800')).toBe('http://127.0.0.1:7800');
    expect(normalizeUrl('[::1]:7700')).toBe('http://[::1]:7700');
    expect(normalizeUrl('http://127.0.0.1:7700/')).toBe('http://127.0.0.1:7700');
    expect(() => normalizeUrl('10.0.0.1:7700')).toThrow(/loopback only/);
  });
});

describe('discoverDaemon token', () => {
  it('reads <home>/auth-token', () => {
    writeFileSync(join(home, 'auth-token'), 'file-token\n');
    const loc = discoverDaemon({ env: { LOOPD_HOME: home } });
    expect(loc.token).toBe('file-token');
    expect(loc.tokenSource).toBe('file');
    expect(loc.tokenPath).toBe(join(home, 'auth-token'));
  });

  it('prefers LOOPD_AUTH_TOKEN, and an explicit token over both', () => {
    writeFileSync(join(home, 'auth-token'), 'file-token\n');
    expect(discoverDaemon({ env: { LOOPD_HOME: home, LOOPD_AUTH_TOKEN: 'env-token' } })).toMatchObject({
      token: 'env-token',
      tokenSource: 'LOOPD_AUTH_TOKEN',
    });
    expect(discoverDaemon({ token: 'opt', env: { LOOPD_HOME: home, LOOPD_AUTH_TOKEN: 'env-token' } })).toMatchObject({
      token: 'opt',
      tokenSource: 'option',
    });
  });

  it('has no token before the daemon first started', () => {
    expect(discoverDaemon({ env: { LOOPD_HOME: home } })).toMatchObject({ token: null, tokenSource: 'none' });
  });

  it('explains a rejected token by where it came from', () => {
    writeFileSync(join(home, 'auth-token'), 'file-token\n');
    const fromFile = unauthorizedMessage(discoverDaemon({ env: { LOOPD_HOME: home } }));
    expect(fromFile).toMatch(/^the daemon rejected the token: it was read from .*auth-token/);
    expect(fromFile).not.toContain('\n');
    const fromEnv = unauthorizedMessage(discoverDaemon({ env: { LOOPD_HOME: home, LOOPD_AUTH_TOKEN: 'x' } }));
    expect(fromEnv).toMatch(/read from LOOPD_AUTH_TOKEN.*unset LOOPD_AUTH_TOKEN/);
  });

  it('says how to start a daemon that is not running', () => {
    expect(notRunningMessage('http://127.0.0.1:7700')).toBe(
      'loopd is not running at http://127.0.0.1:7700: start it with "loopctl daemon start" (or "npx loopctl daemon start" from the loopd repo)',
    );
  });
});

describe('health probes', () => {
  let server: Server | null = null;
  afterEach(async () => {
    if (server) await new Promise<void>((r) => server?.close(() => r()));
    server = null;
  });

  it('probeHealth is true only for {"ok":true}', async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/health' ? '{"ok":true}' : '{"ok":false}');
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    expect(await probeHealth(`http://127.0.0.1:${port}`, 1000)).toBe(true);
    expect(await waitForDaemon(`http://127.0.0.1:${port}`, 1000)).toBe(true);
  });

  it('waitForDaemon gives up after its budget when nothing listens', async () => {
    const port = await closedPort();
    expect(await waitForDaemon(`http://127.0.0.1:${port}`, 700)).toBe(false);
  });
});
