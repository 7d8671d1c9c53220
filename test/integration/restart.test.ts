// Crash-only: loopd runs as its own process and is kill -9'd at random points (during agent
// steps, reviews, verification and merges), then restarted. Every run must end as an undisturbed
// run would, no agent iteration may run twice, and no event sequence number may repeat.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createClientFor, type LoopClient } from '../../cli/client.js';
import { parsePlan } from '../../core/plan.js';
import type { EventView, RunView } from '../../router/index.js';
import { FAKE_AGENT_SH, git, makeRepo, tempDir } from './harness.js';
import { requireFreshBuild } from '../cli/helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOOPD = join(ROOT, 'bin', 'loopd.js');
requireFreshBuild();

function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

class DaemonProcess {
  child: ChildProcess | null = null;
  constructor(
    readonly home: string,
    readonly port: number,
  ) {}
  async start(): Promise<void> {
    this.child = spawn(process.execPath, [LOOPD, '--addr', `127.0.0.1:${this.port}`, '--home', this.home, '--max-concurrency', '3'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOOPD_AUTH_TOKEN: 'kill-test-token-0123456789' },
    });
    let log = '';
    this.child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/health`)).ok) return;
      } catch {
        /* starting */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`loopd did not start: ${log}`);
  }
  kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((res) => {
      c.once('exit', () => res());
      c.kill('SIGKILL');
    });
  }
}

const daemons: DaemonProcess[] = [];
afterAll(async () => {
  for (const d of daemons) await d.kill9();
});

/**
 * A look straight into the daemon's database (read-only; WAL lets it read beside the writer, and
 * across a kill -9), for the loops that wait on the daemon: the kill loop looks every 40 ms, and
 * three run views over HTTP per look cost both processes more CPU than the rest of the loop. What
 * the tests assert still comes over the API. Null while the database cannot be read: look again.
 * One connection per data dir, kept open between looks (each look's transaction sees the latest
 * commit; a reader outlives a killed writer in WAL mode) and dropped after a failed look.
 */
const readers = new Map<string, DatabaseSync>();
afterAll(() => {
  for (const db of readers.values()) db.close();
  readers.clear();
});
function peek<T>(home: string, look: (db: DatabaseSync) => T): T | null {
  let db = readers.get(home);
  try {
    if (!db) {
      db = new DatabaseSync(join(home, 'loopd.db'), { readOnly: true });
      readers.set(home, db);
    }
    return look(db);
  } catch {
    readers.delete(home);
    try {
      db?.close();
    } catch {
      /* already unusable */
    }
    return null;
  }
}

const ENDED = ['COMPLETED', 'FAILED', 'CANCELED'];

/** Which phases have a step in progress, and whether every run ended. */
function standing(home: string, ids: string[]): { ended: boolean; active: Set<string> } | null {
  const marks = ids.map(() => '?').join(',');
  return peek(home, (db) => {
    const statuses = db.prepare(`SELECT status FROM runs WHERE id IN (${marks})`).all(...ids) as { status: string }[];
    const phases = db.prepare(`SELECT DISTINCT phase FROM steps WHERE status = 'IN_PROGRESS' AND run_id IN (${marks})`).all(...ids) as { phase: string }[];
    return { ended: statuses.length === ids.length && statuses.every((r) => ENDED.includes(r.status)), active: new Set(phases.map((r) => r.phase)) };
  });
}

/** Resolves once the run's record says it ended (the caller asserts how, over the API). */
async function runEnded(home: string, id: string): Promise<void> {
  while (!peek(home, (db) => ENDED.includes((db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as { status: string }).status))) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function allEnded(client: LoopClient, ids: string[]): Promise<RunView[] | null> {
  const runs = await Promise.all(ids.map((id) => client.runs.get.query({ run: id })));
  return runs.every((r) => ENDED.includes(r.status)) ? runs : null;
}

// A daemon process costs about half a second of CPU to start: the tests share one data dir and
// hand the daemon on, each leaving it running for the next (the kill test last).
let shared: DaemonProcess | undefined;

/** The running daemon the previous test left, or a fresh one when a test runs alone (-t). */
async function sharedDaemon(): Promise<DaemonProcess> {
  if (!shared) {
    shared = new DaemonProcess(tempDir('loopd-stop-'), await freePort());
    daemons.push(shared);
    await shared.start();
  }
  return shared;
}

describe('one data dir, one daemon', () => {
  it('refuses a second daemon on the same data dir, and allows one after a kill -9', async () => {
    const home = tempDir('loopd-two-');
    const d = new DaemonProcess(home, await freePort());
    daemons.push(d);
    await d.start();
    const second = spawn(process.execPath, [LOOPD, '--addr', `127.0.0.1:${await freePort()}`, '--home', home], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    second.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((res) => second.once('exit', (c) => res(c)));
    expect(code).toBe(1);
    expect(err).toMatch(/another loopd \(pid \d+, .*\) already uses the data dir/);
    // A dead daemon's leftover daemon.json does not block the next one.
    await d.kill9();
    await d.start();
    shared = d;
  });
});

describe('daemon stop', () => {
  async function setup() {
    const d = await sharedDaemon();
    const client = createClientFor(`http://127.0.0.1:${d.port}`, 'kill-test-token-0123456789');
    const repo = makeRepo({ tasks: 1 });
    const run = await client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: { agent: 'command', agent_cmd: `FAKE_SLEEP_MS=1500 ${FAKE_AGENT_SH}`, reviewer: false },
    });
    while (!peek(d.home, (db) => db.prepare(`SELECT 1 FROM events WHERE run_id = ? AND type = 'AGENT_STARTED'`).get(run.id))) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const exited = new Promise<void>((res) => d.child!.once('exit', () => res()));
    return { d, client, run, exited };
  }

  it('--drain waits for the running step to finish before the daemon exits', async () => {
    const { d, client, run, exited } = await setup();
    await client.daemon.stop.mutate({ drain: true });
    await exited;
    await d.start();
    const evs = await client.runs.eventsList.query({ run: run.id });
    // The step ended under the first daemon: nothing to adopt.
    expect(evs.filter((e) => e.type === 'STEP_ADOPTED')).toHaveLength(0);
    await runEnded(d.home, run.id);
    expect((await client.runs.get.query({ run: run.id })).status).toBe('COMPLETED');
  });

  it('without --drain the daemon exits at once and the next one re-adopts the agent', async () => {
    const { d, client, run, exited } = await setup();
    const started = (await client.runs.eventsList.query({ run: run.id })).find((e) => e.type === 'AGENT_STARTED');
    const agentPid = Number(started?.payload.pid);
    expect(agentPid).toBeGreaterThan(0);
    await client.daemon.stop.mutate();
    await exited;
    // "At once" as a fact, not a stopwatch: the daemon is gone while its agent still runs.
    expect(() => process.kill(agentPid, 0)).not.toThrow();
    await d.start();
    await runEnded(d.home, run.id);
    expect((await client.runs.get.query({ run: run.id })).status).toBe('COMPLETED');
    const evs = await client.runs.eventsList.query({ run: run.id });
    expect(evs.filter((e) => e.type === 'STEP_ADOPTED')).toHaveLength(1);
    const ledger = readFileSync(join((await client.runs.get.query({ run: run.id })).runDir, '.fake-ledger'), 'utf8').trim().split('\n');
    expect(ledger).toHaveLength(1);
  });
});

describe('kill -9 at random points', () => {
  it('loses nothing and repeats nothing', async () => {
    // The daemon the earlier tests handed on: its data dir holds their two ended runs, which the
    // kill test leaves alone (everything below looks at its own three runs).
    const d = await sharedDaemon();
    const { home, port } = d;
    const client = createClientFor(`http://127.0.0.1:${port}`, 'kill-test-token-0123456789');

    // The sh fake agent, with the default output cap: the capping side of the wrapper too must
    // outlive each kill and be adopted with the agent.
    const agent = `FAKE_SLEEP_MS=600 FAKE_REVIEW_SLEEP_MS=250 ${FAKE_AGENT_SH}`;
    const repos = [0, 1, 2].map(() => makeRepo({ tasks: 3 }));
    for (const r of repos) {
      // Slows every update of an agent/* branch (the merge) by a second: room for a kill mid-merge.
      r.write('.git/hooks/reference-transaction', '#!/bin/sh\n[ "$1" = prepared ] || exit 0\nwhile read -r old new ref; do case "$ref" in refs/heads/agent/*) sleep 1;; esac; done\nexit 0\n');
      chmodSync(join(r.root, '.git', 'hooks', 'reference-transaction'), 0o755);
      r.write('.loop/config', `agent=command\nagent_cmd="${agent}"\nverify_cmds=sleep 0.3 && test -f task-1.txt\nclaude_retry_backoff_sec=0\n`);
    }
    const ids: string[] = [];
    for (const r of repos) ids.push((await client.runs.create.mutate({ cwd: r.root, spec: 'specs/demo.md' })).id);

    // A live subscriber to the first run's events and output, kept across every kill -9: it must
    // end with exactly the stored events and the full logs, no gaps and no duplicates.
    const streamed: EventView[] = [];
    const streamDone = new Promise<void>((res, rej) => {
      client.runs.events.subscribe({ run: ids[0]!, follow: true }, { onData: (e) => streamed.push(e.data), onError: rej, onComplete: () => res() });
    });
    const chunks: { stepId: number; chunk: string }[] = [];
    const outputDone = new Promise<void>((res, rej) => {
      client.runs.output.subscribe({ run: ids[0]!, follow: true }, { onData: (c) => chunks.push(c.data), onError: rej, onComplete: () => res() });
    });

    // Kill while a step of each named phase is in progress (merges are slowed by a git hook so
    // there is a moment to hit), and at random moments besides, until everything has ended.
    let kills = 0;
    // Every restart is a daemon start (half a second of CPU): the four phase kills and a few random
    // ones. A fresh seed each run samples other random points.
    const MAX_KILLS = 8;
    const hitPhases = new Set<string>();
    // A fresh seed each time (printed, and settable with KILL_SEED to replay a failure).
    let seed = Number(process.env.KILL_SEED ?? Date.now() % 2147483648);
    process.stderr.write(`kill test seed ${seed}\n`);
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const restart = async () => {
      await d.kill9();
      kills++;
      await new Promise((r) => setTimeout(r, rand() * 400));
      await d.start();
    };
    const deadline = Date.now() + 150_000;
    let nextRandomKill = Date.now() + 150 + rand() * 900;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 40));
      const now = standing(home, ids);
      if (!now) continue;
      if (now.ended) break;
      const active = now.active;
      const target = (['implementation', 'review', 'verification', 'merge'] as const).find((p) => active.has(p) && !hitPhases.has(p));
      if (target) {
        hitPhases.add(target);
        await restart();
      } else if (kills < MAX_KILLS && Date.now() >= nextRandomKill) {
        await restart();
        nextRandomKill = Date.now() + 150 + rand() * 900;
      }
    }
    const runs = await allEnded(client, ids);
    expect(runs, 'every run ended in time').not.toBeNull();
    expect(kills).toBeGreaterThanOrEqual(3);
    expect([...hitPhases].sort(), 'killed during each phase').toEqual(['implementation', 'merge', 'review', 'verification']);

    for (const [i, run] of runs!.entries()) {
      const repo = repos[i]!;
      // Same end state as an undisturbed run.
      expect(run.status, `run ${i}: ${run.lastError}`).toBe('COMPLETED');
      expect(run.exitReason).toBe('complete_plan');
      const files = git(repo.root, 'ls-tree', '--name-only', 'agent/demo').split('\n');
      expect(files).toEqual(expect.arrayContaining(['task-1.txt', 'task-2.txt', 'task-3.txt']));
      expect(parsePlan(git(repo.root, 'show', 'agent/demo:specs/planning/demo-plan.md')).counts).toMatchObject({ reviewed: 3, open: 0 });
      expect(git(repo.root, 'rev-list', '--count', 'main..agent/demo')).toBe('1');
      // No agent iteration (implementation or review) was executed twice.
      const ledger = readFileSync(join(run.runDir, '.fake-ledger'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '));
      expect(ledger.filter((l, k) => ledger.indexOf(l) !== k), `run ${i} ledger`).toEqual([]);
      expect(ledger.filter((l) => l.startsWith('implementation'))).toEqual(['implementation 1', 'implementation 2', 'implementation 3']);
      // Events: strictly increasing, no repeated sequence number, one terminal event.
      const evs: EventView[] = await client.runs.eventsList.query({ run: run.id, limit: 10000 });
      const seqs = evs.map((e) => e.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(evs.filter((e) => e.type.startsWith('RUN_') && ['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELED'].includes(e.type))).toHaveLength(1);
      const summary = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8'));
      expect(summary.exit_reason).toBe('complete_plan');
    }
    await Promise.race([Promise.all([streamDone, outputDone]), new Promise((_, rej) => setTimeout(() => rej(new Error('streams did not end')), 30_000))]);
    const stored = await client.runs.eventsList.query({ run: ids[0]!, limit: 10000 });
    expect(streamed.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    const detail = await client.runs.get.query({ run: ids[0]! });
    for (const step of detail.steps.filter((x) => x.outputPath)) {
      const got = chunks.filter((c) => c.stepId === step.id).map((c) => c.chunk).join('');
      expect(got, `output of step ${step.id}`).toBe(readFileSync(step.outputPath!, 'utf8'));
    }

    const all = (await Promise.all(ids.map((id) => client.runs.eventsList.query({ run: id, limit: 10000 })))).flat();
    const adopted = all.filter((e) => e.type === 'STEP_ADOPTED').length;
    const requeued = all.filter((e) => e.type === 'STEP_REQUEUED').length;
    process.stderr.write(`kill test: ${kills} kills (during ${[...hitPhases].join(', ')}), ${adopted} steps re-adopted, ${requeued} requeued\n`);
    expect(adopted).toBeGreaterThan(0);
    await d.kill9();
  }, 180_000);
});
