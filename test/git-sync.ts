// The tests' own git commands (set-up and assertions: `git()` of test/integration/harness.ts, `g()`
// of test/unit/tmp.ts), synchronously as execFileSync runs them, but started by a small runner
// process (test/fixtures/git-runner.mjs) instead of the test worker. A process start forks its
// parent, and the fork copies the parent's page tables: a worker of a few hundred MB (more with
// coverage) paid ~1.5-2 ms of CPU more per git than a small process does, on ~1,000 git commands a
// run. The worker asks over two FIFOs with blocking reads and writes, so a call still returns
// only when git has ended, with its output, and throws as execFileSync would when git fails.
// One runner per worker, started at the first call; it ends when the worker closes its end (the
// worker exits). When the runner cannot be started, git runs from the worker as before.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNNER = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'git-runner.mjs');

interface Channel {
  req: number;
  res: number;
}

/** undefined: not started yet; null: no runner, git runs from the worker. */
let channel: Channel | null | undefined;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function connect(): Channel | null {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'loopd-git-runner-'));
    const reqPath = join(dir, 'req');
    const resPath = join(dir, 'res');
    execFileSync('mkfifo', [reqPath, resPath]);
    const child = spawn(process.execPath, ['--max-old-space-size=32', '--lite-mode', RUNNER, reqPath, resPath], { stdio: 'ignore' });
    child.unref();
    // Opening a FIFO to write blocks until its reader opens it; a non-blocking open says whether the
    // runner has, so a runner that never starts costs a few seconds, not a hang.
    let probe = -1;
    for (let i = 0; i < 1000 && probe < 0; i++) {
      try {
        probe = openSync(reqPath, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e;
        pause(5);
      }
    }
    if (probe < 0) {
      child.kill('SIGKILL');
      return null;
    }
    const req = openSync(reqPath, 'w');
    closeSync(probe);
    // The runner opens its answer end right after its request end.
    const res = openSync(resPath, 'r');
    return { req, res };
  } catch {
    return null;
  }
}

function readExactly(fd: number, n: number): Buffer {
  const buf = Buffer.alloc(n);
  for (let off = 0; off < n; ) {
    const got = readSync(fd, buf, off, n - off, null);
    if (got === 0) throw new Error('the git runner of the tests (test/fixtures/git-runner.mjs) ended in the middle of a command');
    off += got;
  }
  return buf;
}

interface Answer {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  error: string | null;
}

/** Runs `git args` in `cwd` with this process's environment; returns its stdout, or throws like execFileSync. */
export function gitSync(cwd: string, args: string[]): string {
  if (channel === undefined) channel = connect();
  const local = (): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (channel === null) return local();
  const line = Buffer.from(`${JSON.stringify({ cwd, args, env: process.env })}\n`);
  try {
    for (let off = 0; off < line.length; ) off += writeSync(channel.req, line, off);
  } catch (e) {
    // EPIPE: the runner is gone and read nothing of this request; run git here from now on.
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
    channel = null;
    return local();
  }
  const size = readExactly(channel.res, 4).readUInt32BE(0);
  const r = JSON.parse(readExactly(channel.res, size).toString('utf8')) as Answer;
  if (r.error !== null || r.status !== 0) {
    const err = Object.assign(new Error(`Command failed: git ${args.join(' ')}\n${r.error ?? r.stderr}`), { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
    throw err;
  }
  return r.stdout;
}
