// The real Dispatcher on PostgreSQL, two hosts (each its PgStore and PgCoordinator) on one
// database, with the dispatcher tests' fake handlers: every step runs once across hosts, the
// workspace cap holds across them, and a step whose lease is lost mid-way records nothing while
// another attempt finishes the run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../host/bus.js';
import { PgCoordinator } from '../../host/cluster/pg-coordinator.js';
import { Dispatcher } from '../../host/dispatcher.js';
import type { Pool } from '../../host/pg/connect.js';
import { PgStore } from '../../host/store/postgres.js';
import { tempDir } from '../integration/harness.js';
import { claimedDone, FakeHandlers, newRun, runId } from '../unit/dispatcher-harness.js';
import { freshDatabase, until as untilOf } from './db.js';

let url: string;
let pool: Pool;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ url, pool, drop } = await freshDatabase());
});
afterAll(async () => drop());

interface PgHost {
  store: PgStore;
  fake: FakeHandlers;
  dispatcher: Dispatcher;
}

async function host(id: string, ttlMs = 60_000): Promise<PgHost> {
  const bus = new EventBus();
  const store = await PgStore.open({ url, bus, hostId: id, leaseTtlMs: ttlMs });
  const fake = new FakeHandlers();
  const cluster = new PgCoordinator({ url, hostId: id, hostname: id, maxConcurrency: 2, leaseTtlMs: ttlMs, bus, agents: ['claude', 'codex', 'command'], reapMs: 50 });
  const dispatcher = new Dispatcher({ store, bus, handlers: fake.handlers(), maxConcurrency: 2, instanceId: id, cluster });
  return { store, fake, dispatcher };
}

const until = <T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, limitMs = 30_000): Promise<T> => untilOf(what, probe, limitMs);

describe('the dispatcher on PostgreSQL, two hosts', () => {
  it('runs every step once across hosts and holds max_runs_per_workspace across them', async () => {
    const dir = tempDir('loopd-pgdisp-');
    mkdirSync(join(dir, 'ws'));
    const a = await host('da');
    const b = await host('db');
    // Calls are held, so the test sees how many runs are in flight across both hosts.
    a.fake.hold = true;
    b.fake.hold = true;
    const ids = Array.from({ length: 6 }, (_, i) => runId(100 + i));
    await a.store.transaction(async (tx) => {
      for (const id of ids) await tx.createRun(newRun(id, dir, { config: { max_runs_per_workspace: 2 } }));
    });
    await Promise.all([a.dispatcher.start(), b.dispatcher.start()]);
    try {
      let finished = 0;
      const ended = new Set<unknown>();
      while (finished < ids.length) {
        await until('a call', async () => a.fake.calls.length + b.fake.calls.length > finished && true);
        const inFlight = new Set((await pool.query<{ run_id: string }>(`SELECT run_id FROM steps WHERE status = 'IN_PROGRESS'`)).rows.map((r) => r.run_id));
        const running = Number((await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE status = 'RUNNING'`)).rows[0]!.n);
        expect(running).toBeLessThanOrEqual(2);
        expect(inFlight.size).toBeLessThanOrEqual(2);
        const call = [...a.fake.calls, ...b.fake.calls].find((c) => !ended.has(c))!;
        ended.add(call);
        call.finish(claimedDone);
        finished++;
        a.dispatcher.wake();
        b.dispatcher.wake();
      }
      await until('every run to complete', async () => (await a.store.listRuns({ status: ['COMPLETED'] })).length === ids.length);
      const calls = [...a.fake.calls, ...b.fake.calls].map((c) => c.runId).sort();
      expect(calls).toEqual([...ids].sort());
      const { rows } = await pool.query<{ owner: string; n: number }>(`SELECT lease_owner AS owner, count(*)::int AS n FROM steps GROUP BY lease_owner ORDER BY 1`);
      expect(rows.every((r) => r.owner === 'da' || r.owner === 'db')).toBe(true);
    } finally {
      await a.dispatcher.stop();
      await b.dispatcher.stop();
      await a.store.close();
      await b.store.close();
    }
  });

  it('a step whose lease is lost records nothing; another host runs it again and the run completes once', async () => {
    const dir = tempDir('loopd-pgdisp-');
    mkdirSync(join(dir, 'ws'));
    const a = await host('la', 900);
    a.fake.hold = true;
    const id = runId(200);
    await a.store.transaction((tx) => tx.createRun(newRun(id, dir)));
    await a.dispatcher.start();
    const b = await host('lb', 900);
    try {
      await a.fake.calledTimes(1);
      a.fake.hold = false; // the next attempt, on whichever host, ends at once
      const [first] = await a.store.stepsForRun(id);
      // The host froze past its TTL: the database expires its lease; it is reaped and run again.
      await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() - 1 WHERE id = $1', [first!.id]);
      await b.dispatcher.start();
      await until('the run to complete', async () => (await a.store.getRun(id))?.status === 'COMPLETED');
      // a's handler ends late, claiming success: nothing of it lands.
      a.fake.calls[0]!.finish(claimedDone);
      await a.dispatcher.idle();
      const steps = await a.store.stepsForRun(id);
      expect(steps.filter((s) => s.phase === 'implementation').map((s) => [s.status, s.attempt, s.error])).toEqual([
        ['FAILED', 1, 'LEASE_EXPIRED'],
        ['SUCCEEDED', 2, null],
      ]);
      const types = (await a.store.eventsAfter({ runId: id, afterSeq: 0 })).map((e) => e.type as string);
      expect(types.filter((t) => t === 'STEP_FINISHED')).toHaveLength(1);
      expect(types).toContain('LEASE_EXPIRED');
      expect([...a.fake.calls, ...b.fake.calls].map((c) => c.runId)).toEqual([id, id]);
    } finally {
      await a.dispatcher.stop();
      await b.dispatcher.stop();
      await a.store.close();
      await b.store.close();
    }
  });

  it('a cancel asked of one host stops the agent running on another', async () => {
    const dir = tempDir('loopd-pgdisp-');
    mkdirSync(join(dir, 'ws'));
    const a = await host('ca');
    a.fake.hold = true;
    const id = runId(300);
    await a.store.transaction((tx) => tx.createRun(newRun(id, dir)));
    await a.dispatcher.start();
    const b = await host('cb');
    await b.dispatcher.start();
    try {
      await a.fake.calledTimes(1);
      const signal = a.fake.calls[0]!.input.signal;
      const stopped = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      await b.dispatcher.cancel(id);
      await stopped;
      // The agent stopped, its handler ends canceled: the run stays canceled, nothing runs again.
      a.fake.calls[0]!.finish({ status: 'CANCELED', error: 'canceled', result: {} });
      await a.dispatcher.idle();
      expect((await a.store.getRun(id))?.status).toBe('CANCELED');
      expect((await a.store.stepsForRun(id)).map((s) => s.status)).toEqual(['CANCELED']);
    } finally {
      await a.dispatcher.stop();
      await b.dispatcher.stop();
      await a.store.close();
      await b.store.close();
    }
  });
});
