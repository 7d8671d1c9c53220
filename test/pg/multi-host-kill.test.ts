// Three hosts on one PostgreSQL, six runs with slow agents; hosts are killed with SIGKILL together
// with their agents (the whole process group, as a dying machine) and restarted later. The agents'
// own ledger, not loopd's records, proves that no step ever ran on two hosts at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshDatabase, seedRun, until as untilOf } from './db.js';
import type { Pool } from '../../host/pg/connect.js';
import { tempDirs } from '../unit/tmp.js';
import { requireFreshBuild } from '../cli/helpers.js';

// The hosts are test/fixtures/cluster-host.mjs on the compiled cluster layer (dist/host/pg).
requireFreshBuild();

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'cluster-host.mjs');
const RUNS = 6;
const ITERATIONS = 3;
const TTL_MS = 1500;

let pool: Pool;
let url: string;
let drop: () => Promise<void>;
let dir: string;
const tmp = tempDirs('loopd-cluster-');
const procs = new Map<string, ChildProcess>();
/** When each host was last started (ms, the machine's clock, which the database's loopd_now_ms() also reads). */
const startedAt = new Map<string, number>();

beforeAll(async () => {
  ({ pool, url, drop } = await freshDatabase());
});
afterAll(async () => {
  for (const p of procs.values()) if (p.exitCode === null && p.pid) { try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ } }
  await drop();
});

function startHost(id: string): Promise<void> {
  startedAt.set(id, Date.now());
  const p = spawn(process.execPath, [FIXTURE], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DATABASE_URL: url, HOST_ID: id, LEDGER: join(dir, 'ledger.jsonl'), MERGE_DIR: join(dir, 'merges'), LEASE_TTL_MS: String(TTL_MS), AGENT_SLEEP_MS: '300', ITERATIONS: String(ITERATIONS) },
  });
  procs.set(id, p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`host ${id} exited ${code} before it was ready`)));
  });
}

// Every 100 ms rather than db.ts's 50: most probes here are queries, and a few ms later changes nothing.
const until = <T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, limitMs = 60_000, everyMs = 100): Promise<T> => untilOf(what, probe, limitMs, everyMs);

interface Line { what: string; host: string; runId: string; phase: string; iteration: number; attempt: number; pid: number; t: number }

it('every run completes once through repeated SIGKILLs of whole hosts, and no step ever runs on two hosts at once', async () => {
  dir = tmp();
  mkdirSync(join(dir, 'merges'));
  writeFileSync(join(dir, 'ledger.jsonl'), '');
  const runIds: string[] = [];
  for (let i = 0; i < RUNS; i++) runIds.push((await seedRun(pool, { agent: 'fake' })).runId);
  await Promise.all(['h1', 'h2', 'h3'].map(startHost));

  const kills: { host: string; t: number }[] = [];
  for (const restartAtOnce of [false, true, false]) {
    // Kill a host while it is running a step, so something really is lost with it: a step it
    // claimed since it last started (an older one is a lease of its previous life, waiting to
    // expire). Each host in turn while it can be (whichever one runs a step now, so a host the
    // others left without work never stalls the test); a host that already died may die again.
    const victim = await until('a host running a step', async () => {
      const { rows } = await pool.query<{ host: string; started: string }>(
        `SELECT lease_owner AS host, max(started_at) AS started FROM steps WHERE status = 'IN_PROGRESS' AND lease_expires_at > loopd_now_ms() GROUP BY lease_owner`,
      );
      const running = rows.filter((r) => Number(r.started) >= startedAt.get(r.host)!).map((r) => r.host);
      return running.find((h) => !kills.some((k) => k.host === h)) ?? running[0];
    });
    const { rows: before } = await pool.query<{ s: string }>('SELECT COALESCE(max(seq), 0)::bigint AS s FROM events');
    const p = procs.get(victim)!;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(-p.pid!, 'SIGKILL');
    // Taken once the kill is sent, not before: an agent the host spawned in between (its ledger
    // line's time is read before the line is written, and no process of the group writes once
    // the SIGKILL is sent) is one this kill ended.
    kills.push({ host: victim, t: Date.now() });
    await exited;
    if (!restartAtOnce) {
      // Restart only once another host has taken the lost step over: its lease expired (of this
      // death: a host that died before may have left one already), or, when the step ended just
      // before the kill landed, the dead host holds no lease at all any more.
      await until(`the lease of ${victim} to expire`, async () => {
        const { rowCount: expired } = await pool.query(`SELECT 1 FROM events WHERE type = 'LEASE_EXPIRED' AND payload_json::jsonb->>'host' = $1 AND seq > $2`, [victim, before[0]!.s]);
        const { rowCount: held } = await pool.query(`SELECT 1 FROM steps WHERE status = 'IN_PROGRESS' AND lease_owner = $1`, [victim]);
        return expired! > 0 || held === 0;
      });
    }
    await startHost(victim);
  }

  await until(
    'every run to complete',
    async () => {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE status = 'COMPLETED'`);
      return rows[0]!.n === RUNS;
    },
    60_000,
    250,
  );

  // Each host's agents end at the latest when their host was killed.
  const ledger = readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  const intervals = new Map<string, { host: string; start: number; end: number }[]>();
  const open = new Map<number, Line>();
  for (const l of ledger) {
    if (l.what === 'start') open.set(l.pid, l);
    // 'stopped' is written by the host when it fenced itself off and killed the agent.
    if ((l.what === 'end' || l.what === 'stopped') && open.has(l.pid)) {
      const s = open.get(l.pid)!;
      open.delete(l.pid);
      const key = `${s.runId}/${s.phase}/${s.iteration}`;
      intervals.set(key, [...(intervals.get(key) ?? []), { host: s.host, start: s.t, end: l.t }]);
    }
  }
  for (const s of open.values()) {
    const killedAt = kills.filter((k) => k.host === s.host && k.t >= s.t).map((k) => k.t)[0];
    expect(killedAt, `agent ${s.pid} on ${s.host} never ended and its host was not killed`).toBeDefined();
    const key = `${s.runId}/${s.phase}/${s.iteration}`;
    intervals.set(key, [...(intervals.get(key) ?? []), { host: s.host, start: s.t, end: killedAt! }]);
  }
  for (const [key, list] of intervals) {
    const byStart = [...list].sort((a, b) => a.start - b.start);
    for (let i = 1; i < byStart.length; i++) expect(byStart[i]!.start, `${key} ran twice at once`).toBeGreaterThanOrEqual(byStart[i - 1]!.end);
  }

  // No iteration lost or done twice: exactly one success per (run, phase, iteration).
  const { rows: done } = await pool.query<{ run_id: string; phase: string; iteration: number; n: number }>(
    `SELECT run_id, phase, iteration, count(*)::int AS n FROM steps WHERE status = 'SUCCEEDED' GROUP BY run_id, phase, iteration`,
  );
  expect(done).toHaveLength(RUNS * (ITERATIONS + 1));
  expect(done.every((d) => d.n === 1)).toBe(true);
  for (const id of runIds) {
    expect(done.filter((d) => d.run_id === id && d.phase === 'implementation').map((d) => d.iteration).sort()).toEqual([1, 2, 3]);
  }
  // Exactly one merge per run, from the merge agents' own markers and ledger.
  expect(readdirSync(join(dir, 'merges')).sort()).toEqual([...runIds].sort());
  // (A merge agent killed between its marker and its ledger line leaves the line to its retry's
  // "already-merged"; what may never happen is two merges of one run.)
  const merged = ledger.filter((l) => l.what === 'merged').map((l) => l.runId);
  expect(new Set(merged).size).toBe(merged.length);
  // Failover really happened, and the sequence of events has no duplicates.
  const { rows: expired } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'LEASE_EXPIRED'`);
  expect(expired[0]!.n).toBeGreaterThanOrEqual(2);
  const { rows: seqs } = await pool.query<{ n: number; d: number }>('SELECT count(*)::int AS n, count(DISTINCT seq)::int AS d FROM events');
  expect(seqs[0]!.n).toBe(seqs[0]!.d);

  for (const p of procs.values()) p.kill('SIGTERM');
}, 120_000);
