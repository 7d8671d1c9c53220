// `loopctl daemon install/uninstall/logs`, in this process by bin/loopctl.js's route (one failure and
// the -f follower as real processes); the daemons they start are real. The user's real service manager
// is never touched: XDG_CONFIG_HOME is a temp dir and LOOPD_SYSTEMCTL / LOOPD_JOURNALCTL point at
// recording fakes. The written unit is checked with systemd-analyze verify (required in CI).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { closedPort, followLoopctl, loopctl, repoRoot, requireFreshBuild, runLoopctl, stopTestDaemon, until } from './helpers.js';

requireFreshBuild();
const hasAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

const temp = (prefix: string) => realpathSync(mkdtempSync(join(tmpdir(), prefix)));

let dir = '';
let env: NodeJS.ProcessEnv = {};
let port = 0;
const calls = () => (existsSync(join(dir, 'systemctl.log')) ? readFileSync(join(dir, 'systemctl.log'), 'utf8').trim().split('\n') : []);
const unit = () => join(dir, 'config', 'systemd', 'user', 'loopd.service');

beforeEach(async () => {
  dir = temp('loopd-svc-');
  port = await closedPort();
  const fake = join(dir, 'fake-systemctl');
  writeFileSync(fake, '#!/bin/sh\nprintf \'%s\\n\' "$*" >> "$FAKE_LOG"\nif [ -n "$FAKE_FAIL" ]; then echo "$FAKE_FAIL" >&2; exit 1; fi\n');
  chmodSync(fake, 0o755);
  env = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    LOOPD_HOME: join(dir, 'home'),
    LOOPD_ADDR: `127.0.0.1:${port}`,
    LOOPD_SYSTEMCTL: fake,
    FAKE_LOG: join(dir, 'systemctl.log'),
  };
});

describe('daemon install / uninstall', () => {
  it('writes a user unit for this install and enables it', async () => {
    const r = await loopctl(['daemon', 'install'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${unit()}`);
    expect(r.stdout).toMatch(/enabled: it starts at your next login/);
    expect(calls()).toEqual(['--user daemon-reload', '--user enable loopd.service']);
    const text = readFileSync(unit(), 'utf8');
    const exec = text.split('\n').find((l) => l.startsWith('ExecStart='))!;
    const node = exec.slice('ExecStart='.length).split(' ')[0]!;
    expect(statSync(node).mode & 0o111).not.toBe(0);
    expect(exec).toContain(` ${join(repoRoot, 'bin', 'loopd.js')} --home ${join(dir, 'home')} --addr 127.0.0.1:${port}`);
    expect(exec).not.toContain('--log');
    for (const line of ['Restart=on-failure', 'KillMode=process', `Environment=LOOPD_HOME=${join(dir, 'home')}`, 'WantedBy=default.target']) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toMatch(/^Environment=PATH=/m);
    expect(statSync(join(dir, 'home')).mode & 0o777).toBe(0o700);
  });

  it.skipIf(!hasAnalyze && !process.env.CI)('the unit passes systemd-analyze verify without a warning', async () => {
    // Both units in one systemd-analyze (~40 ms of CPU each): the first kept under another name.
    expect((await loopctl(['daemon', 'install'], { env })).code).toBe(0);
    writeFileSync(join(dir, 'plain.service'), readFileSync(unit()));
    expect((await loopctl(['daemon', 'install', '--journal', '--max-concurrency', '2'], { env })).code).toBe(0);
    // System mode: a user manager is not needed to check the file, and CI has none.
    const v = spawnSync('systemd-analyze', ['verify', join(dir, 'plain.service'), unit()], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stderr.trim()).toBe('');
    // The check is real: a bad setting is reported.
    writeFileSync(join(dir, 'bad.service'), readFileSync(unit(), 'utf8').replace('Restart=on-failure', 'Restart=sometimes'));
    expect(spawnSync('systemd-analyze', ['verify', join(dir, 'bad.service')], { encoding: 'utf8' }).stderr).toMatch(/bad\.service:\d+: Failed to parse service restart specifier/);
  });

  it("the unit's command line and environment start a loopd that loopctl finds", async () => {
    // A data dir with a space and a % exercises the unit's quoting and specifier escaping.
    const home = join(dir, 'data dir 100%');
    const svcEnv = { ...env, LOOPD_HOME: home };
    expect((await loopctl(['daemon', 'install', '--max-concurrency', '2'], { env: svcEnv })).code).toBe(0);
    const lines = readFileSync(unit(), 'utf8').split('\n');
    const argv = systemdWords(lines.find((l) => l.startsWith('ExecStart='))!.slice('ExecStart='.length));
    const unitEnv = Object.fromEntries(
      lines.filter((l) => l.startsWith('Environment=')).map((l) => systemdWords(l.slice('Environment='.length))[0]!.split(/=(.*)/s).slice(0, 2)),
    );
    expect(unitEnv.LOOPD_HOME).toBe(home);
    const cwd = lines.find((l) => l.startsWith('WorkingDirectory='))!.slice('WorkingDirectory='.length).replace(/%%/g, '%');
    expect(cwd).toBe(home);
    // What systemd would run, run by hand (there is no user manager to ask here).
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { HOME: dir, ...unitEnv }, stdio: 'ignore', detached: true });
    child.unref();
    try {
      const status = await waitForStatus(svcEnv);
      expect(status).toMatchObject({ running: true, home, maxConcurrency: 2, port });
    } finally {
      expect((await loopctl(['daemon', 'stop'], { env: svcEnv })).code).toBe(0);
    }
  });

  it('--now --json starts it too; --journal logs to the journal', async () => {
    const r = await loopctl(['daemon', 'install', '--now', '--journal', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ unit: unit(), enabled: true, started: true, log: 'journal', addr: `127.0.0.1:${port}` });
    expect(calls()).toEqual(['--user daemon-reload', '--user enable --now loopd.service']);
    expect(readFileSync(unit(), 'utf8')).toMatch(/^ExecStart=.* --log -$/m);
  });

  it('without a user session: writes the unit and says how to enable it', async () => {
    const r = await loopctl(['daemon', 'install'], { env: { ...env, FAKE_FAIL: 'Failed to connect to bus: No medium found' } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(unit())).toBe(true);
    expect(r.stdout).toMatch(/not enabled: no systemd user session here \(Failed to connect to bus: No medium found\); in a login session run "systemctl --user daemon-reload && systemctl --user enable --now loopd"/);
  });

  it('a systemctl failure is a one-line error (from a whole bin/loopctl.js process)', async () => {
    const r = await runLoopctl(['daemon', 'install'], { env: { ...env, FAKE_FAIL: 'Access denied' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^Error: wrote .*loopd\.service, but "systemctl --user daemon-reload" failed: Access denied/);
  });

  it('uninstall disables, stops and removes it; twice is harmless', async () => {
    await loopctl(['daemon', 'install'], { env });
    const r = await loopctl(['daemon', 'uninstall'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/removed .*loopd\.service\nthe service is stopped and disabled; running agents are left for the next loopd to re-adopt/);
    expect(existsSync(unit())).toBe(false);
    expect(calls().slice(2)).toEqual(['--user disable --now loopd.service', '--user daemon-reload']);
    const again = await loopctl(['daemon', 'uninstall', '--json'], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ removed: false });
  });
});

// One loopd started by `daemon start` for the two tests that need one (a daemon start and stop is
// ~0.3 s of CPU): the first to run starts it in its own temp dir, the logs test stops it.
let started: { dir: string; env: NodeJS.ProcessEnv } | null = null;
async function startedDaemon(): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  if (started) return started;
  // A token file readable by others and a 755 data dir: tightened at start, and said so in the log.
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  chmodSync(home, 0o755);
  writeFileSync(join(home, 'auth-token'), 'a-token-of-32-characters-0123456\n', { mode: 0o644 });
  expect((await loopctl(['daemon', 'start'], { env })).code).toBe(0);
  started = { dir, env };
  return started;
}
afterAll(async () => {
  if (started) await stopTestDaemon(join(started.dir, 'home'), () => loopctl(['daemon', 'stop'], { env: started!.env }));
});

describe('a loopd started by daemon start', () => {
  it('--now refuses while it holds the port', async () => {
    const { env } = await startedDaemon();
    const r = await loopctl(['daemon', 'install', '--now'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^Error: loopd is already running \(pid \d+\) outside the service: stop it with "loopctl daemon stop"/);
    expect(calls()).toEqual([]);
  });

  it('daemon logs prints the JSON log readably, --json as written, --level filters, and -f follows', async () => {
    const { dir, env } = await startedDaemon();
    started = null;
    const home = join(dir, 'home');
    // -n 1: the follower prints the last line once it is reading, so nothing after is missed.
    const follower = followLoopctl(['daemon', 'logs', '-f', '-n', '1'], { env });
    await until(() => /listening on/.test(follower.output()), 'the follower to print the start');
    try {
      expect(statSync(home).mode & 0o777).toBe(0o700);
      expect(statSync(join(home, 'auth-token')).mode & 0o777).toBe(0o600);
      const text = await loopctl(['daemon', 'logs'], { env });
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}tightened .*home 755 -> 700$/m);
      expect(text.stdout).toMatch(/^\S+ INFO {2}listening on http:\/\/127\.0\.0\.1:\d+ pid=\d+ home=/m);
      const json = await loopctl(['daemon', 'logs', '--json'], { env });
      const records = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const rec of records) expect(Object.keys(rec)).toEqual(expect.arrayContaining(['time', 'level', 'msg']));
      const warn = await loopctl(['daemon', 'logs', '--level', 'warn'], { env });
      expect(warn.stdout.trim().split('\n').every((l) => / WARN /.test(l) || / ERROR /.test(l))).toBe(true);
    } finally {
      expect((await loopctl(['daemon', 'stop'], { env })).code).toBe(0);
    }
    await until(() => /INFO {2}stopped$/m.test(follower.output()), 'the follower to print the stop');
    await follower.stop();
    const followed = follower.output().trim().split('\n');
    expect(followed[0]).toMatch(/INFO {2}listening on/);
    expect(followed.slice(-2)).toEqual([expect.stringMatching(/INFO {2}stopping; running agents are left to be re-adopted$/), expect.stringMatching(/INFO {2}stopped$/)]);
  });
});

describe('daemon logs', () => {
  it('reads the journal when the service logs there', async () => {
    await loopctl(['daemon', 'install', '--journal'], { env });
    const fake = join(dir, 'fake-journalctl');
    const line = JSON.stringify({ level: 'info', time: '2026-01-02T03:04:05.006Z', runId: 'r1', stepId: 4, msg: 'STEP_STARTED' });
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$*" > "${join(dir, 'journalctl.args')}"\necho '${line}'\n`);
    chmodSync(fake, 0o755);
    const r = await loopctl(['daemon', 'logs', '-n', '5'], { env: { ...env, LOOPD_JOURNALCTL: fake } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('2026-01-02T03:04:05.006Z INFO  [run r1 step 4] STEP_STARTED\n');
    expect(readFileSync(join(dir, 'journalctl.args'), 'utf8').trim()).toBe('--user --unit loopd.service --output cat --no-pager --lines 5');
  });

  it('says where it looked when there is no log', async () => {
    const r = await loopctl(['daemon', 'logs'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^Error: no daemon log at .*loopd\.log: loopd has not run with this data dir/);
  });
});

describe('daemon start', () => {
  it('refuses a LOOPD_AUTH_TOKEN shorter than 16 characters and shows why', async () => {
    const r = await loopctl(['daemon', 'start'], { env: { ...env, LOOPD_AUTH_TOKEN: 'short' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('loopd: LOOPD_AUTH_TOKEN is 5 characters long, too short to guard the API: use at least 16');
    expect(r.stderr).toMatch(/Error: loopd exited during start-up \(code 1\); see .*loopd\.stderr\.log and loopctl daemon logs/);
    const log = await loopctl(['daemon', 'logs'], { env });
    expect(log.stdout).toMatch(/ERROR start-up failed: LOOPD_AUTH_TOKEN is 5 characters long/);
  });
});

/** Words of a systemd command line: double quotes, backslash escapes, %% and $$. */
function systemdWords(text: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

async function waitForStatus(e: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const r = await loopctl(['daemon', 'status', '--json'], { env: e });
    if (r.code === 0) return JSON.parse(r.stdout) as Record<string, unknown>;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the daemon started from the unit did not answer');
}
