// `tail -f` and `events -f` on the fast path (cli/fast-sse.ts) across a daemon killed with -9 and
// restarted: each follower reconnects, resumes after the last id it printed, and ends with exactly
// what the daemon stored (every byte of output, every event, nothing twice).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClientFor } from '../../cli/client.js';
import { runFast } from '../../cli/fast.js';
import type { EventView } from '../../router/index.js';
import { FAKE_AGENT, makeRepo, tempDir } from '../integration/harness.js';
import { closedPort, followLoopctl, type FollowingLoopctl, repoRoot, requireFreshBuild, until } from './helpers.js';

const TOKEN = 'follow-test-token-0123456789';

class Daemon {
  child: ChildProcess | null = null;
  constructor(
    readonly home: string,
    readonly port: number,
  ) {}
  async start(): Promise<void> {
    this.child = spawn(process.execPath, [join(repoRoot, 'bin', 'loopd.js'), '--addr', `127.0.0.1:${this.port}`, '--home', this.home], {
      stdio: 'ignore',
      env: { ...process.env, LOOPD_AUTH_TOKEN: TOKEN },
    });
    for (let i = 0; i < 400; i++) {
      if (await fetch(`http://127.0.0.1:${this.port}/health`).then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('loopd did not start');
  }
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((res) => {
      c.once('exit', () => res());
      c.kill(signal);
    });
  }
}

const daemons: Daemon[] = [];
const followers: FollowingLoopctl[] = [];
afterEach(async () => {
  for (const f of followers.splice(0)) await f.stop();
  for (const d of daemons.splice(0)) await d.kill('SIGTERM');
});

requireFreshBuild();

describe('follow mode on the fast path across a daemon restart', () => {
  // One daemon in its own process, a run whose agent prints 10 lines over ~3 s, and two followers
  // across one kill -9 and restart in the middle: `tail -f --raw` on the fast path in this process,
  // `events -f` through bin/loopctl.js in its own.
  it('tail -f --raw prints every byte of every step log once; events -f --json every stored event once, in order', async () => {
    const d = new Daemon(tempDir('loopd-follow-'), await closedPort());
    daemons.push(d);
    await d.start();
    const client = createClientFor(`http://127.0.0.1:${d.port}`, TOKEN);
    const repo = makeRepo({ tasks: 1 });
    // 10 lines 0.3 s apart: the same ~3 s of writing as 30 lines 0.1 s apart, with 20 sleep processes fewer.
    const agent = `sleep 0.3; for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i"; sleep 0.3; done; ${FAKE_AGENT}`;
    const run = (await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: { agent: 'command', agent_cmd: agent, reviewer: false, merge_strategy: 'none' } })).id;
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LOOPD_HOME: d.home, LOOPD_ADDR: `127.0.0.1:${d.port}`, LOOPD_AUTH_TOKEN: TOKEN };

    const events = followLoopctl(['events', run, '-f', '-n', 'all', '--json'], { env });
    followers.push(events);
    let stdout = '';
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
    try {
      const following = runFast(['tail', run, '-f', '--raw'], env);
      // Kill once both followers have printed output and the agent is still writing.
      await until(async () => stdout.includes('line 2\n') && events.output().includes('AGENT_STARTED'), 'the first output');
      await d.kill();
      await d.start();
      expect(await following, 'the fast path handled it').toBe(true);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    // The run ended, so the events follower ends by itself.
    expect(await events.ended).toBe(0);

    const detail = await client.runs.get.query({ run });
    expect(detail.status, detail.lastError ?? '').toBe('COMPLETED');
    const logs = detail.steps.filter((s) => s.outputPath).map((s) => readFileSync(s.outputPath!, 'utf8'));
    expect(stdout).toBe(logs.join(''));
    expect(stdout).toContain('line 10\n');
    const reconnected = 'connection to loopd lost; reconnecting (resumes where it stopped)...\nreconnected to loopd\n';
    expect(stderr).toBe(reconnected);

    const printed = events
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as EventView);
    const stored = await client.runs.eventsList.query({ run, afterSeq: 0, limit: 1000 });
    expect(printed.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    expect(printed.at(-1)?.type).toBe('RUN_COMPLETED');
    expect(events.stderr()).toBe(reconnected);
  }, 120_000);
});
