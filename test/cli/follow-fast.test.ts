// `tail -f` and `events -f` on the fast path (cli/fast-sse.ts) across a daemon killed with -9 and
// restarted: the follower reconnects, resumes after the last id it printed, and ends with exactly
// what the daemon stored (every byte of output, every event, nothing twice).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClientFor, type LoopClient } from '../../cli/client.js';
import { runFast } from '../../cli/fast.js';
import type { EventView } from '../../router/index.js';
import { FAKE_AGENT, makeRepo, tempDir } from '../integration/harness.js';
import { closedPort, repoRoot, requireFreshBuild } from './helpers.js';

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
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.kill('SIGTERM');
});

/** Waits until `check` holds, polling the daemon (no fixed sleeps standing in for facts). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A daemon in its own process, a run whose agent prints 30 lines over ~3 s, and `argv` followed on
 * the fast path in this process while the daemon is killed and restarted in the middle.
 */
async function followAcrossRestart(argv: (run: string) => string[]): Promise<{ stdout: string; stderr: string; client: LoopClient; run: string }> {
  const d = new Daemon(tempDir('loopd-follow-'), await closedPort());
  daemons.push(d);
  await d.start();
  const client = createClientFor(`http://127.0.0.1:${d.port}`, TOKEN);
  const repo = makeRepo({ tasks: 1 });
  const agent = `sleep 0.3; for i in $(seq 1 30); do echo "line $i"; sleep 0.1; done; ${FAKE_AGENT}`;
  const run = (await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: { agent: 'command', agent_cmd: agent, reviewer: false, merge_strategy: 'none' } })).id;

  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  try {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LOOPD_HOME: d.home, LOOPD_ADDR: `127.0.0.1:${d.port}`, LOOPD_AUTH_TOKEN: TOKEN };
    const following = runFast(argv(run), env);
    // Kill once the follower has printed output and the agent is still writing.
    await until(async () => stdout.includes('line 3\n') || stdout.includes('AGENT_STARTED'), 'the first output');
    await d.kill();
    await d.start();
    expect(await following, 'the fast path handled it').toBe(true);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr, client, run };
}

requireFreshBuild();

describe('follow mode on the fast path across a daemon restart', () => {
  it('tail -f --raw prints every byte of every step log once', async () => {
    const { stdout, stderr, client, run } = await followAcrossRestart((id) => ['tail', id, '-f', '--raw']);
    const detail = await client.runs.get.query({ run });
    expect(detail.status, detail.lastError ?? '').toBe('COMPLETED');
    const logs = detail.steps.filter((s) => s.outputPath).map((s) => readFileSync(s.outputPath!, 'utf8'));
    expect(stdout).toBe(logs.join(''));
    expect(stdout).toContain('line 30\n');
    expect(stderr).toBe('connection to loopd lost; reconnecting (resumes where it stopped)...\nreconnected to loopd\n');
  }, 120_000);

  it('events -f --json prints every stored event once, in order', async () => {
    const { stdout, stderr, client, run } = await followAcrossRestart((id) => ['events', id, '-f', '-n', 'all', '--json']);
    const printed = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as EventView);
    const stored = await client.runs.eventsList.query({ run, afterSeq: 0, limit: 1000 });
    expect(printed.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    expect(printed.at(-1)?.type).toBe('RUN_COMPLETED');
    expect(stderr).toBe('connection to loopd lost; reconnecting (resumes where it stopped)...\nreconnected to loopd\n');
  }, 120_000);
});
