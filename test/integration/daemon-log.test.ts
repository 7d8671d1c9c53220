// The loopd binary's log: `--log -` (what a --journal service uses) prints JSON lines on stdout,
// a bad --log-level is refused in one line, and a SIGTERM stop is logged through to "stopped".
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './harness.js';
import { requireFreshBuild } from '../cli/helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOOPD = join(ROOT, 'bin', 'loopd.js');
requireFreshBuild();

/** Resolves once the daemon's stdout satisfies `done`; a slow start on a loaded machine just waits longer (the test timeout bounds it). */
function untilOutput(child: ChildProcess, done: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (done()) {
        child.stdout?.off('data', check);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`loopd exited (${code}) before it was ready`)));
    check();
  });
}

describe('loopd --log', () => {
  it('--log - writes JSON lines to stdout, from listening to stopped', async () => {
    const home = tempDir('loopd-journal-');
    const child = spawn(process.execPath, [LOOPD, '--home', home, '--addr', '127.0.0.1:0', '--log', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await untilOutput(child, () => out.includes('listening on'));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^listening on http:\/\/127\.0\.0\.1:\d+$/), 'SIGTERM received', 'stopping; running agents are left to be re-adopted', 'stopped']);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Nothing went to a log file instead.
    expect(existsSync(join(home, 'loopd.log'))).toBe(false);
  });

  it('at debug level, a refused API call is logged with its stack (which the answer leaves out)', async () => {
    const home = tempDir('loopd-debug-');
    const child = spawn(process.execPath, [LOOPD, '--home', home, '--addr', '127.0.0.1:0', '--log', '-', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await untilOutput(child, () => out.includes('listening on'));
    const url = /listening on (http:\/\/\S+)"/.exec(out)![1]!;
    const answer = await (await fetch(`${url}/trpc/runs.list`)).text();
    expect(answer).not.toMatch(/stack/);
    await untilOutput(child, () => out.includes('UNAUTHORIZED in runs.list'));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const line = out.split('\n').find((l) => l.includes('UNAUTHORIZED in runs.list'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 'debug', msg: expect.stringMatching(/^UNAUTHORIZED in runs\.list: missing or wrong bearer token/), stack: expect.stringMatching(/^TRPCError: /) });
  });

  it('refuses an unknown --log-level in one line', () => {
    const r = spawnSync(process.execPath, [LOOPD, '--home', tempDir('loopd-level-'), '--addr', '127.0.0.1:0', '--log-level', 'loud'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('loopd: invalid --log-level "loud": expected one of debug, info, warn, error\n');
  });
});
