import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NONCE_ENV,
  isAlive,
  killTree,
  readExitStatus,
  readProcessStartTime,
  spawnDetached,
  waitForExit,
  type ProcessHandle,
  type SpawnSpec,
} from '../../core/agents/process.js';
import { pidMark, pidsSince, pidsSinceMark } from '../../core/agents/proc.js';

const dirs: string[] = [];
const handles: ProcessHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await killTree(h, 100);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function spec(shellCommand: string, env: Record<string, string> = {}): SpawnSpec {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-proc-'));
  dirs.push(dir);
  const stdinPath = path.join(dir, 'prompt.txt');
  fs.writeFileSync(stdinPath, 'the prompt\nsecond line\n');
  return { shellCommand, cwd: dir, env, stdinPath, logPath: path.join(dir, 'logs', 'iter.log'), exitPath: path.join(dir, 'logs', 'iter.exit') };
}

async function start(s: SpawnSpec): Promise<ProcessHandle> {
  const h = await spawnDetached(s);
  handles.push(h);
  return h;
}

/** Live (non-zombie) processes in a group, straight from /proc. */
function liveInGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let raw: string;
    try {
      raw = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(name));
  }
  return out;
}

function isLivePid(pid: number): boolean {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('spawnDetached / waitForExit', () => {
  it('captures the exit code in the exit file', async () => {
    const s = spec('echo working; exit 7');
    const h = await start(s);
    expect(h.pgid).toBe(h.pid);
    expect(h.startTime).toMatch(/^\d+$/);
    const r = await waitForExit(h, s.exitPath);
    expect(r).toEqual({ exitCode: 7, timedOut: false, canceled: false, vanished: false });
    expect(readExitStatus(s.exitPath)).toBe(7);
    expect(fs.readFileSync(s.logPath, 'utf8')).toBe('working\n');
    expect(isAlive(h)).toBe(false);
    expect(fs.readdirSync(path.dirname(s.exitPath)).filter((f) => f.includes('.tmp.'))).toEqual([]);
  });

  it('feeds the prompt on stdin and passes env plus a nonce', async () => {
    const s = spec('cat; echo "foo=$FOO nonce=$LOOP_PROCESS_NONCE"; pwd', { FOO: 'bar baz' });
    const h = await start(s);
    expect((await waitForExit(h, s.exitPath)).exitCode).toBe(0);
    expect(fs.readFileSync(s.logPath, 'utf8')).toBe(`the prompt\nsecond line\nfoo=bar baz nonce=${h.nonce}\n${fs.realpathSync(s.cwd)}\n`);
    expect(NONCE_ENV).toBe('LOOP_PROCESS_NONCE');
  });

  it('keeps stdout and stderr in the order they were written', async () => {
    const s = spec('for i in 1 2 3 4 5; do echo "out$i"; echo "err$i" >&2; done');
    const h = await start(s);
    await waitForExit(h, s.exitPath);
    const expected = [1, 2, 3, 4, 5].flatMap((i) => [`out${i}`, `err${i}`]).join('\n') + '\n';
    expect(fs.readFileSync(s.logPath, 'utf8')).toBe(expected);
  });

  it('appends to an existing log and reports a missing prompt file in it', async () => {
    const s = spec('echo second');
    fs.mkdirSync(path.dirname(s.logPath), { recursive: true });
    fs.writeFileSync(s.logPath, 'first\n');
    await waitForExit(await start(s), s.exitPath);
    expect(fs.readFileSync(s.logPath, 'utf8')).toBe('first\nsecond\n');

    const s2 = { ...spec('echo never'), stdinPath: '/nonexistent/prompt.txt' };
    const r = await waitForExit(await start(s2), s2.exitPath);
    expect(r.exitCode).not.toBe(0);
    expect(fs.readFileSync(s2.logPath, 'utf8')).toMatch(/prompt\.txt/);
  });

  it('ignores a stale exit file from an earlier process', async () => {
    const s = spec('sleep 0.3; exit 3');
    fs.mkdirSync(path.dirname(s.exitPath), { recursive: true });
    fs.writeFileSync(s.exitPath, '0\n');
    const r = await waitForExit(await start(s), s.exitPath);
    expect(r.exitCode).toBe(3);
  });

  it('on timeout kills a TERM-ignoring child and its grandchild, leaving nothing in the group', async () => {
    const s = spec(`trap "" TERM; echo $$ > inner.pid; sleep 60 & echo $! > grandchild.pid; wait`);
    const h = await start(s);
    await until(() => fs.existsSync(path.join(s.cwd, 'grandchild.pid')) && fs.readFileSync(path.join(s.cwd, 'grandchild.pid'), 'utf8').trim() !== '');
    const inner = Number(fs.readFileSync(path.join(s.cwd, 'inner.pid'), 'utf8'));
    const grandchild = Number(fs.readFileSync(path.join(s.cwd, 'grandchild.pid'), 'utf8'));
    expect(isLivePid(grandchild)).toBe(true);

    const r = await waitForExit(h, s.exitPath, { timeoutMs: 300, graceMs: 300, pollMs: 50 });
    expect(r.timedOut).toBe(true);
    expect(r.canceled).toBe(false);
    expect(isLivePid(inner)).toBe(false);
    expect(isLivePid(grandchild)).toBe(false);
    expect(liveInGroup(h.pgid)).toEqual([]);
    expect(isAlive(h)).toBe(false);
  });

  it('is canceled through an AbortSignal, killing the group', async () => {
    const s = spec('sleep 60');
    const h = await start(s);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await waitForExit(h, s.exitPath, { signal: ac.signal, graceMs: 500 });
    expect(r.canceled).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(liveInGroup(h.pgid)).toEqual([]);

    const s2 = spec('sleep 60');
    const h2 = await start(s2);
    const r2 = await waitForExit(h2, s2.exitPath, { signal: AbortSignal.abort(), graceMs: 300 });
    expect(r2.canceled).toBe(true);
    expect(liveInGroup(h2.pgid)).toEqual([]);
  });

  it('reports vanished when the process dies without an exit status, and cleans up its group', async () => {
    const s = spec('sleep 60');
    const h = await start(s);
    await until(() => liveInGroup(h.pgid).length >= 2);
    process.kill(h.pid, 'SIGKILL'); // only the wrapper: the exit file can never be written
    // The sleep outlives the settle time: the group is emptied by the kill, not by itself.
    const r = await waitForExit(h, s.exitPath, { graceMs: 300, settleMs: 300 });
    expect(r).toEqual({ exitCode: null, timedOut: false, canceled: false, vanished: true });
    expect(liveInGroup(h.pgid)).toEqual([]);
  });

  it('guards against pid reuse with the start time and the nonce', async () => {
    const s = spec('sleep 60');
    const h = await start(s);
    expect(isAlive(h)).toBe(true);
    expect(isAlive({ ...h, startTime: String(Number(h.startTime) + 1) })).toBe(false);
    expect(isAlive({ ...h, nonce: 'someone-else' })).toBe(false);
    // A handle whose pid now belongs to someone else must not get that group killed.
    await killTree({ ...h, startTime: '1', nonce: 'someone-else' }, 100);
    expect(isAlive(h)).toBe(true);
    await killTree(h, 200);
    expect(isAlive(h)).toBe(false);
  });

  it('follows a process it did not start (re-adoption after a daemon restart)', async () => {
    const s = spec('unused');
    const nonce = 'adopted-nonce';
    const exitPath = path.join(s.cwd, 'adopted.exit');
    const child = spawn('/bin/sh', ['-c', `sleep 0.3; echo 5 > "${exitPath}.tmp"; mv "${exitPath}.tmp" "${exitPath}"`], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, [NONCE_ENV]: nonce },
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error('spawn failed');
    child.unref();
    const startTime = readProcessStartTime(pid);
    expect(startTime).not.toBeNull();
    const h: ProcessHandle = { pid, pgid: pid, startTime: startTime ?? '', nonce };
    handles.push(h);
    expect(isAlive(h)).toBe(true);
    const r = await waitForExit(h, exitPath, { pollMs: 20 });
    expect(r).toEqual({ exitCode: 5, timedOut: false, canceled: false, vanished: false });
  });

  it('readExitStatus is null for missing or garbage files', () => {
    const s = spec('true');
    expect(readExitStatus(s.exitPath)).toBeNull();
    fs.mkdirSync(path.dirname(s.exitPath), { recursive: true });
    fs.writeFileSync(s.exitPath, 'oops');
    expect(readExitStatus(s.exitPath)).toBeNull();
    fs.writeFileSync(s.exitPath, '0\n');
    expect(readExitStatus(s.exitPath)).toBe(0);
  });
});

describe('containment', () => {
  it('step processes get the daemon environment minus every LOOPD_* variable, plus their own', async () => {
    process.env.LOOPD_AUTH_TOKEN = 'daemon-secret';
    process.env.LOOPD_SOMETHING_NEW = 'x';
    process.env.LOOPD_TEST_VISIBLE_PATH_LIKE = 'y';
    try {
      const s = spec('env', { LOOP_RUN_ID: 'r1' });
      const h = await start(s);
      await waitForExit(h, s.exitPath, { timeoutMs: 5000 });
      const env = fs.readFileSync(s.logPath, 'utf8');
      expect(env).not.toMatch(/^LOOPD_/m);
      expect(env).toMatch(/^LOOP_RUN_ID=r1$/m);
      expect(env).toMatch(/^PATH=/m);
      expect(env).toContain(`${NONCE_ENV}=${h.nonce}`);
    } finally {
      delete process.env.LOOPD_AUTH_TOKEN;
      delete process.env.LOOPD_SOMETHING_NEW;
      delete process.env.LOOPD_TEST_VISIBLE_PATH_LIKE;
    }
  });

  it('kills a TERM-ignoring grandchild that left the process group with setsid, when the step ends', async () => {
    const s = spec('setsid sh -c \'trap "" TERM; echo $$ > escaped.pid; exec sleep 600\' & sleep 0.3; echo started');
    const h = await start(s);
    const pidFile = path.join(s.cwd, 'escaped.pid');
    await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const escaped = Number(fs.readFileSync(pidFile, 'utf8').trim());
    expect(liveInGroup(h.pgid)).not.toContain(escaped);
    // The scan looks only at the pids handed out since the wrapper's start, the stray among them.
    expect(h.since).toBeDefined();
    expect(pidsSinceMark(h.since)!(escaped)).toBe(true);
    const r = await waitForExit(h, s.exitPath, { timeoutMs: 10_000, graceMs: 200 });
    expect(r.exitCode).toBe(0);
    expect(isLivePid(escaped)).toBe(false);
  });

  it('kills the escaped grandchild at a timeout too', async () => {
    const s = spec('setsid sh -c \'trap "" TERM; echo $$ > escaped.pid; exec sleep 600\' & sleep 600');
    const h = await start(s);
    const pidFile = path.join(s.cwd, 'escaped.pid');
    await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const escaped = Number(fs.readFileSync(pidFile, 'utf8').trim());
    const r = await waitForExit(h, s.exitPath, { timeoutMs: 300, graceMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(isLivePid(escaped)).toBe(false);
  });
});

describe('pidsSince: which pids can belong to processes started after a mark', () => {
  const max = 32768;
  it('is the arc of pids handed out since, wrapping from pid_max to the low pids', () => {
    const plain = pidsSince({ lastPid: 1000, forks: 50 }, { lastPid: 1200, forks: 260 }, max)!;
    expect([1000, 1001, 1200, 1201, 999, 5].map(plain)).toEqual([false, true, true, false, false, false]);
    const wrapped = pidsSince({ lastPid: 32000, forks: 50 }, { lastPid: 700, forks: 1600 }, max)!;
    expect([32000, 32001, 32767, 300, 700, 701, 20000].map(wrapped)).toEqual([false, true, true, true, true, false, false]);
    // Nothing handed out in this namespace (creations counted elsewhere do not matter).
    expect(pidsSince({ lastPid: 1000, forks: 50 }, { lastPid: 1000, forks: 90 }, max)!(1001)).toBe(false);
  });

  it('gives up (a full scan) when allocation may have gone round once, or the counts make no sense', () => {
    expect(pidsSince({ lastPid: 1000, forks: 0 }, { lastPid: 1200, forks: 16234 }, max)).toBeUndefined();
    expect(pidsSince({ lastPid: 1000, forks: 0 }, { lastPid: 1000, forks: 40000 }, max)).toBeUndefined();
    expect(pidsSince({ lastPid: 1000, forks: 10 }, { lastPid: 1200, forks: 5 }, max)).toBeUndefined();
    expect(pidsSince({ lastPid: 100, forks: 0 }, { lastPid: 200, forks: 1 }, 500)).toBeUndefined();
    expect(pidsSinceMark(undefined)).toBeUndefined();
  });

  it('reads a mark from /proc that a process started afterwards falls after', async () => {
    const mark = pidMark();
    expect(mark).toBeDefined();
    const child = spawn('sleep', ['5']);
    try {
      expect(pidsSinceMark(mark)!(child.pid!)).toBe(true);
    } finally {
      child.kill();
    }
  });
});
