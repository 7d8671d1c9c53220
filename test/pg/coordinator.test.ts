// The daemon's cluster coordinator on a real PostgreSQL: registration, what a host may run, lease
// loss stopping a step, reaping another host's expired lease, and the cluster's run slots.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardFor, heartbeatFile } from '../../core/agents/heartbeat-guard.js';
import { NONCE_ENV, readProcessStartTime } from '../../core/agents/process.js';
import { EventBus } from '../../host/bus.js';
import { LeaseLostError, lostLease, SingleHost, type CoordinatorHooks } from '../../host/cluster/coordinator.js';
import { hostIdOf, availableAgents } from '../../host/cluster/host-identity.js';
import { PgCoordinator } from '../../host/cluster/pg-coordinator.js';
import { listHosts } from '../../host/pg/hosts.js';
import { PgStore } from '../../host/store/postgres.js';
import type { Pool } from '../../host/pg/connect.js';
import { newRun } from '../unit/store-contract.js';
import { freshDatabase } from './db.js';

let url: string;
let pool: Pool;
let drop: () => Promise<void>;
let ws: string;
beforeAll(async () => {
  ({ url, pool, drop } = await freshDatabase());
  ws = mkdtempSync(join(tmpdir(), 'loopd-coord-ws-'));
});
afterAll(async () => {
  rmSync(ws, { recursive: true, force: true });
  await drop();
});

async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function hooks(running: () => number[] = () => []): CoordinatorHooks & { aborted: Promise<{ stepId: number; why: LeaseLostError }>; wakes: number } {
  let resolve!: (v: { stepId: number; why: LeaseLostError }) => void;
  const aborted = new Promise<{ stepId: number; why: LeaseLostError }>((r) => (resolve = r));
  const h = { running, abort: (stepId: number, why: LeaseLostError) => resolve({ stepId, why }), wake: () => void h.wakes++, stopRun: () => {}, aborted, wakes: 0 };
  return h;
}

function coordinator(id: string, extra: Partial<ConstructorParameters<typeof PgCoordinator>[0]> = {}): PgCoordinator {
  return new PgCoordinator({ url, hostId: id, hostname: `${id}.local`, address: 'http://127.0.0.1:1', maxConcurrency: 2, leaseTtlMs: 900, bus: new EventBus(), agents: ['command'], reapMs: 50, ...extra });
}

describe('SingleHost', () => {
  it('lets one host run everything it finds, up to its own cap', async () => {
    const one = new SingleHost('i-1');
    await one.start();
    expect(one.shared).toBe(false);
    expect(one.canRun()).toBe(true);
    expect(await one.runSlots(3)).toBe(3);
    expect(one.mayClaim() && one.owns()).toBe(true);
    await one.stop();
  });
});

describe('host identity', () => {
  it('keeps one id per data dir, and finds command always and claude/codex only on PATH', () => {
    const home = mkdtempSync(join(tmpdir(), 'loopd-hostid-'));
    try {
      const id = hostIdOf(home);
      expect(id).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
      expect(hostIdOf(home)).toBe(id);
      expect(availableAgents({ PATH: '' })).toEqual(['command']);
      expect(availableAgents({ PATH: join(import.meta.dirname, '..', 'fixtures', 'no-such-dir') })).toEqual(['command']);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('PgCoordinator', () => {
  it('registers the host with its agents and reachable workspaces, counts cluster run slots, and says what it may run', async () => {
    const store = await PgStore.open({ url, hostId: 'c-a' });
    await store.transaction(async (tx) => {
      await tx.ensureWorkspace(ws);
      await tx.ensureWorkspace('/nowhere/on/this/host');
    });
    const a = coordinator('c-a');
    const b = coordinator('c-b', { maxConcurrency: 3 });
    try {
      await a.start(hooks());
      await b.start(hooks());
      const rows = await listHosts(pool);
      expect(rows.find((h) => h.id === 'c-a')).toMatchObject({ hostname: 'c-a.local', agents: ['command'], workspaces: [ws], state: 'alive', maxConcurrency: 2 });
      expect(await a.runSlots(2)).toBe(5);
      const run = { ...newRun('r'), workspace_root: ws, config: { agent: 'command' } } as never;
      expect(a.canRun(run, 'implementation')).toBe(true);
      expect(a.canRun({ ...newRun('r'), workspace_root: ws, config: { agent: 'claude' } } as never, 'implementation')).toBe(false);
      // Phases that run no agent need only the workspace.
      expect(a.canRun({ ...newRun('r'), workspace_root: ws, config: { agent: 'claude' } } as never, 'merge')).toBe(true);
      expect(a.canRun({ ...newRun('r'), workspace_root: '/nowhere/on/this/host', config: { agent: 'command' } } as never, 'merge')).toBe(false);
      expect(a.owns({ lease_owner: 'c-a' } as never)).toBe(true);
      expect(a.owns({ lease_owner: 'c-b' } as never)).toBe(false);
      expect(a.mayClaim()).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
      await store.close();
    }
    expect((await listHosts(pool)).filter((h) => h.id.startsWith('c-')).map((h) => h.state)).toEqual(['stopped', 'stopped']);
  });

  it('tells the time on the database clock, whatever this host clock says', async () => {
    // A database an hour ahead of this host (as a host with a wrong clock would see it).
    const db = await freshDatabase();
    try {
      await db.pool.query(`CREATE OR REPLACE FUNCTION loopd_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS
        $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT + 3600000 $$`);
      const c = new PgCoordinator({ url: db.url, hostId: 'clock', hostname: 'clock.local', maxConcurrency: 1, leaseTtlMs: 60_000, bus: new EventBus(), agents: ['command'] });
      await c.start(hooks());
      try {
        const before = Number((await db.pool.query<{ n: string }>('SELECT loopd_now_ms() AS n')).rows[0]!.n);
        const seen = c.now();
        const after = Number((await db.pool.query<{ n: string }>('SELECT loopd_now_ms() AS n')).rows[0]!.n);
        // The database's reading (give or take a measuring round trip, far below the hour), not this host's.
        expect(seen).toBeGreaterThan(before - 60_000);
        expect(seen).toBeLessThan(after + 60_000);
        expect(seen - Date.now()).toBeGreaterThan(3_000_000);
      } finally {
        await c.stop();
      }
    } finally {
      await db.drop();
    }
  });

  it("stops a step whose lease is gone, and another host reaps it into a new attempt with LEASE_EXPIRED", async () => {
    const store = await PgStore.open({ url, hostId: 'l-a', leaseTtlMs: 900 });
    const runId = '0190a000-0000-7000-8000-0000000c0001';
    const step = await store.transaction(async (tx) => {
      await tx.createRun(newRun(runId, { workspace_root: ws }));
      await tx.admitRun(runId, 1);
      const s = await tx.queueStep({ run_id: runId, phase: 'implementation', iteration: 1, attempt: 1 });
      return tx.claimStep(s.id, 'l-a', 2);
    });
    const a = coordinator('l-a');
    const b = coordinator('l-b');
    const ha = hooks(() => [step!.id]);
    const hb = hooks();
    try {
      await a.start(ha);
      await b.start(hb);
      // The owner froze past its TTL: its lease lapses in the database.
      await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() - 1 WHERE id = $1', [step!.id]);
      const { stepId, why } = await ha.aborted;
      expect(stepId).toBe(step!.id);
      expect(why).toBeInstanceOf(LeaseLostError);
      const signal = AbortSignal.abort(why);
      expect(lostLease(signal)).toBe(true);
      expect(lostLease(AbortSignal.abort(new Error('canceled')))).toBe(false);
      // One reaper (a or b) requeued it; the late finish of the old attempt records nothing.
      for (;;) {
        const steps = await store.stepsForRun(runId);
        if (steps.length === 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const steps = await store.stepsForRun(runId);
      expect(steps.map((s) => [s.status, s.attempt, s.error])).toEqual([['FAILED', 1, 'LEASE_EXPIRED'], ['QUEUED', 2, null]]);
      expect(steps[0]!.result).toEqual({ requeued: true });
      const outcome = { status: 'SUCCEEDED' as const, exit_code: 0, result: {}, error: null, prompt_path: null, output_path: null, usage: null };
      expect(await store.transaction((tx) => tx.finishStep(step!.id, outcome, 3))).toBeNull();
      const { rows } = await pool.query<{ type: string; payload_json: string }>(`SELECT type, payload_json FROM events WHERE run_id = $1 AND type = 'LEASE_EXPIRED'`, [runId]);
      expect(rows).toHaveLength(1);
      expect(JSON.parse(rows[0]!.payload_json)).toMatchObject({ host: 'l-a', nextAttempt: 2 });
    } finally {
      await a.stop();
      await b.stop();
      await store.close();
    }
  });

  it("stops, at start, the agent of its own step that was reaped while it was away", async () => {
    // The agent outlived its daemon (detached, its own process group) and its lease was reaped.
    const nonce = `orphan-${Date.now()}`;
    const agent = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, [NONCE_ENV]: nonce } });
    const gone = new Promise((r) => agent.once('exit', r));
    const handle = { pid: agent.pid!, pgid: agent.pid!, startTime: await until(() => readProcessStartTime(agent.pid!)), nonce };
    const store = await PgStore.open({ url, hostId: 'o-a', leaseTtlMs: 60_000 });
    const runId = '0190a000-0000-7000-8000-0000000c0002';
    const step = await store.transaction(async (tx) => {
      await tx.createRun(newRun(runId, { workspace_root: ws }));
      const s = await tx.queueStep({ run_id: runId, phase: 'implementation', iteration: 1, attempt: 1 });
      await tx.claimStep(s.id, 'o-a', 1);
      await tx.recordProcessStarted(s.id, { ...handle, exitPath: '/nowhere/exit', logPath: '/nowhere/log' });
      return s;
    });
    await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() - 1 WHERE id = $1', [step.id]);
    const reaper = coordinator('o-b');
    await reaper.start(hooks());
    await until(async () => (await store.getStep(step.id))?.error === 'LEASE_EXPIRED');
    await reaper.stop();
    const a = coordinator('o-a');
    try {
      await a.start(hooks());
      await gone;
      expect(agent.signalCode ?? agent.exitCode).not.toBeNull();
    } finally {
      await a.stop();
      await store.close();
      try {
        process.kill(-agent.pid!, 'SIGKILL');
      } catch {
        /* gone, as it should be */
      }
    }
  });

  it('a host that cannot renew stops claiming and stops its steps before the TTL (self-fencing)', async () => {
    const a = coordinator('f-a', { leaseTtlMs: 600 });
    const ha = hooks(() => [424242]);
    await a.start(ha);
    try {
      expect(a.mayClaim()).toBe(true);
      // Its renewals cannot land: another session holds its host row (as a partition would stall them).
      const blocker = await pool.connect();
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM hosts WHERE id = 'f-a' FOR UPDATE`);
      try {
        const { stepId } = await ha.aborted;
        expect(stepId).toBe(424242);
        expect(a.mayClaim()).toBe(false);
      } finally {
        await blocker.query('ROLLBACK');
        blocker.release();
      }
    } finally {
      await a.stop();
    }
  });
});

// Last: the host it registers would count in the host listings above.
describe('PgCoordinator heartbeat file', () => {
  it("keeps the dead-man guard's heartbeat file: set to each successful renewal's send time, one guard for every step process", async () => {
    const home = mkdtempSync(join(tmpdir(), 'loopd-coord-hb-'));
    const file = heartbeatFile(home);
    const c = coordinator('c-hb', { heartbeatFile: file });
    try {
      expect(c.processGuard).toEqual(guardFor(file, 900));
      const before = Date.now();
      await c.start(hooks());
      // Registration counts as the first renewal: the file exists before any agent can start.
      const first = statSync(file).mtimeMs;
      expect(first).toBeGreaterThanOrEqual(before - 1);
      expect(first).toBeLessThanOrEqual(Date.now());
      // The heartbeat (every TTL/3) moves it on.
      await until(() => statSync(file).mtimeMs > first);
      expect(statSync(file).mtimeMs).toBeLessThanOrEqual(Date.now());
    } finally {
      await c.stop();
      rmSync(home, { recursive: true, force: true });
    }
    // Without the file (in-process test hosts) nothing is guarded; one host never is.
    expect(coordinator('c-nohb').processGuard).toBeNull();
    expect(new SingleHost('one').processGuard).toBeNull();
  });
});
