import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killTree, readExitStatus, readProcessStartTime, spawnDetached, waitForExit, type ProcessHandle } from '../../core/agents/process.js';
import { ownChild } from '../../core/agents/spawn.js';
import { gitExec } from '../../core/git-exec.js';
import { runFile, spawnDetachedFile, spawnerPid, stopSpawner } from '../../core/spawner.js';
import { startDaemon } from '../../host/main.js';

const dirs: string[] = [];
const handles: ProcessHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await killTree(h, 100);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-spawner-'));
  dirs.push(d);
  return d;
}

/** Whether a pid is a live process (a zombie counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZXx] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...extra });

describe('spawner', () => {
  it('runs a command in another process than the daemon, with the environment, stdin and cwd of the call', async () => {
    const dir = tempDir();
    const r = await runFile('/bin/sh', ['-c', 'echo "$WHO in $(pwd)"; cat; echo oops >&2; exit 3'], { cwd: dir, env: env({ WHO: 'me' }), input: 'from stdin\n', maxBuffer: 1024 });
    expect(r.stdout).toBe(`me in ${fs.realpathSync(dir)}\nfrom stdin\n`);
    expect(r.stderr).toBe('oops\n');
    expect(r.error?.code).toBe(3);
    const pid = spawnerPid();
    expect(pid).toBeDefined();
    expect(pid).not.toBe(process.pid);
    // One spawner for every call, and the environment is the call's, not the spawner's.
    const again = await runFile('/bin/sh', ['-c', 'echo "${WHO:-nobody}"'], { cwd: dir, env: env(), maxBuffer: 1024 });
    expect(again).toEqual({ error: null, stdout: 'nobody\n', stderr: '' });
    expect(spawnerPid()).toBe(pid);
  });

  it('says what went wrong as before: a missing git, a missing directory, output over the limit', async () => {
    const dir = tempDir();
    const saved = process.env.PATH;
    process.env.PATH = dir;
    try {
      await expect(gitExec(dir, ['status'])).rejects.toThrow(`cannot run git in ${dir}: spawn git ENOENT`);
    } finally {
      process.env.PATH = saved;
    }
    await expect(gitExec(path.join(dir, 'gone'), ['status'])).rejects.toThrow(`cannot run git in ${path.join(dir, 'gone')}: spawn git ENOENT`);
    const big = await runFile('/bin/sh', ['-c', 'head -c 5000 /dev/zero'], { cwd: dir, env: env(), maxBuffer: 100 });
    expect(big.error?.code).toBe('ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
    expect((await gitExec(dir, ['--version'])).stdout).toMatch(/^git version/);
  });

  it('starts a new spawner on the next call after it died', async () => {
    await runFile('/bin/true', [], { cwd: '/', env: env(), maxBuffer: 1024 });
    const first = spawnerPid();
    expect(first).toBeDefined();
    process.kill(first as number, 'SIGKILL');
    await until('the daemon to see the spawner end', () => spawnerPid() !== first);
    const r = await runFile('/bin/echo', ['back'], { cwd: '/', env: env(), maxBuffer: 1024 });
    expect(r.stdout).toBe('back\n');
    expect(spawnerPid()).not.toBe(first);
  });

  it('ends when stopped, once the command it runs has answered, and leaves no process behind', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'started');
    const slow = runFile('/bin/sh', ['-c', `touch "${marker}"; read line; echo "done $line"`], { cwd: dir, env: env(), input: 'x\n', maxBuffer: 1024 });
    const pid = spawnerPid() as number;
    await until('the command to start', () => fs.existsSync(marker));
    stopSpawner();
    expect(spawnerPid()).toBeUndefined();
    expect((await slow).stdout).toBe('done x\n');
    await until('the stopped spawner to exit', () => !running(pid));
  });

  it('starts a detached agent that outlives the spawner, tracked by pid and start time, and reports its exit while it can', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'prompt'), '');
    const spec = { cwd: dir, env: {}, stdinPath: path.join(dir, 'prompt'), logPath: path.join(dir, 'log'), exitPath: path.join(dir, 'exit') };
    // Fast wake-up: the spawner reports the wrapper's exit.
    const quick = await spawnDetached({ ...spec, shellCommand: 'exit 4' });
    handles.push(quick);
    expect(quick.startTime).not.toBe('');
    const woke = ownChild(quick.pid);
    expect(woke).toBeDefined();
    expect(await waitForExit(quick, spec.exitPath, { pollMs: 60_000 })).toMatchObject({ exitCode: 4, vanished: false });

    // The agent survives the spawner's death, and is then followed through /proc.
    const go = path.join(dir, 'go');
    const h = await spawnDetached({ ...spec, exitPath: path.join(dir, 'exit2'), shellCommand: `while [ ! -e "${go}" ]; do sleep 0.05; done; echo survived` });
    handles.push(h);
    const spawner = spawnerPid() as number;
    process.kill(spawner, 'SIGKILL');
    await until('the spawner to end', () => !running(spawner) && spawnerPid() !== spawner);
    expect(readProcessStartTime(h.pid)).toBe(h.startTime);
    expect(ownChild(h.pid)).toBeUndefined();
    fs.writeFileSync(go, '');
    expect(await waitForExit(h, path.join(dir, 'exit2'), { pollMs: 20 })).toMatchObject({ exitCode: 0 });
    expect(fs.readFileSync(spec.logPath, 'utf8')).toContain('survived');
    expect(readExitStatus(path.join(dir, 'exit2'))).toBe(0);
  });

  it('reports a detached start that fails with the spawn error', async () => {
    await expect(spawnDetachedFile('/bin/sh', ['-c', 'true'], { cwd: '/nonexistent-loopd-dir', env: env() })).rejects.toThrow('spawn /bin/sh ENOENT');
  });

  it('is ended by the daemon stop', async () => {
    const home = tempDir();
    const daemon = await startDaemon({ home, host: '127.0.0.1', port: 0, token: 'test-token', maxConcurrency: 1, log: () => {} });
    try {
      await gitExec(home, ['--version']);
    } finally {
      const pid = spawnerPid() as number;
      expect(pid).toBeDefined();
      await daemon.stop();
      expect(spawnerPid()).toBeUndefined();
      await until('the spawner to exit with the daemon', () => !running(pid));
    }
  });

  it('is left running by the stop of a daemon started with keepSpawner, for the next daemon of the process', async () => {
    const first = await startDaemon({ home: tempDir(), host: '127.0.0.1', port: 0, token: 'test-token', maxConcurrency: 1, log: () => {}, keepSpawner: true });
    await gitExec(first.home, ['--version']);
    const pid = spawnerPid() as number;
    expect(pid).toBeDefined();
    await first.stop();
    expect(spawnerPid()).toBe(pid);
    expect(running(pid)).toBe(true);
    const next = await startDaemon({ home: tempDir(), host: '127.0.0.1', port: 0, token: 'test-token', maxConcurrency: 1, log: () => {} });
    try {
      expect((await gitExec(next.home, ['--version'])).stdout).toMatch(/^git version/);
      expect(spawnerPid()).toBe(pid);
    } finally {
      // A daemon without it ends the spawner it found, as ever.
      await next.stop();
    }
    expect(spawnerPid()).toBeUndefined();
    await until('the spawner to exit with the second daemon', () => !running(pid));
  });
});
