// A host's side of the lease: its agent is stopped when the lease is lost, and a same-host restart
// adopts the steps whose leases it still holds.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { freshDatabase, seedRun } from './db.js';
import type { Pool } from '../../host/pg/connect.js';
import { ClusterHost, type ClusterHostOptions } from '../../host/pg/cluster-host.js';
import type { Lease } from '../../host/pg/leases.js';
import { loopctl, requireFreshBuild } from '../cli/helpers.js';

// One test runs bin/loopctl (dist/).
requireFreshBuild();

let pool: Pool;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ pool, drop } = await freshDatabase());
});
afterAll(async () => drop());
beforeEach(async () => {
  // The previous test's stopped host may still have a statement of its own in flight, and
  // PostgreSQL then picks the TRUNCATE as the deadlock's victim: start again on a fresh table.
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('TRUNCATE events, merge_locks, agent_holds, steps, runs, hosts RESTART IDENTITY CASCADE');
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== '40P01' || attempt >= 5) throw e;
    }
  }
});

function options(id: string, execute: ClusterHostOptions['execute'], extra: Partial<ClusterHostOptions> = {}): ClusterHostOptions {
  return { pool, id, hostname: id, address: null, agents: ['claude'], workspaces: ['/srv/ws'], maxConcurrency: 2, maxRunsPerWorkspace: 10, leaseTtlMs: 60_000, pollMs: 20, execute, ...extra };
}

it('a host whose lease was taken over stops its agent, and its late completion records nothing', async () => {
  const { runId } = await seedRun(pool);
  let started: (l: Lease) => void = () => {};
  const running = new Promise<Lease>((r) => (started = r));
  let stopped: (reason: unknown) => void = () => {};
  const aborted = new Promise<unknown>((r) => (stopped = r));
  const host = new ClusterHost(options('a', (lease, signal) => {
    started(lease);
    signal.addEventListener('abort', () => stopped(signal.reason));
    return new Promise(() => {}); // an agent that would run forever
  }, { leaseTtlMs: 600 }));
  await host.start();
  const lease = await running;
  // Another host reaps the lease as if this one had been silent for the TTL.
  await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() - 1 WHERE id = $1', [lease.stepId]);
  const reason = await aborted;
  await host.stop();
  expect(String(reason)).toMatch(/no longer held by this host/);
  const { rows } = await pool.query<{ type: string }>(`SELECT type FROM events WHERE run_id = $1 AND type LIKE 'STEP_%' ORDER BY seq`, [runId]);
  expect(rows.map((r) => r.type).filter((t) => t !== 'STEP_CLAIMED')).toEqual([]);
});

/** Host `a` claims the seeded run's first step, its agent (a promise) never ending, and stops: a daemon gone with its agent still running. */
async function claimAndLeave(): Promise<Lease> {
  let first: (l: Lease) => void = () => {};
  const claimed = new Promise<Lease>((r) => (first = r));
  const a1 = new ClusterHost(options('a', (lease) => {
    first(lease);
    return new Promise(() => {});
  }));
  await a1.start();
  const lease = await claimed;
  await a1.stop();
  return lease;
}

it('a restarted host adopts the steps it still holds a live lease on, and claims nothing twice', async () => {
  await seedRun(pool);
  const lease = await claimAndLeave();

  let adopted: (l: Lease) => void = () => {};
  const adoptedLease = new Promise<Lease>((r) => (adopted = r));
  const executed: number[] = [];
  const a2 = new ClusterHost(options('a', async (l) => {
    executed.push(l.stepId);
    return { status: 'SUCCEEDED' };
  }, {
    adopt: async (l) => {
      adopted(l);
      return { status: 'SUCCEEDED', runStatus: 'COMPLETED' };
    },
  }));
  await a2.start();
  expect((await adoptedLease).stepId).toBe(lease.stepId);
  await new Promise<void>((resolve) => {
    const check = async (): Promise<void> => {
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM runs');
      if (rows[0]?.status === 'COMPLETED') resolve();
      else setTimeout(() => void check(), 20);
    };
    void check();
  });
  await a2.stop();
  expect(executed).toEqual([]);
  const { rows } = await pool.query<{ status: string; attempt: number }>('SELECT status, attempt FROM steps');
  expect(rows).toEqual([{ status: 'SUCCEEDED', attempt: 1 }]);
});

it('a restarted host adopts a lease with a moment left only with a whole TTL, so it cannot expire under the adopted agent', async () => {
  await seedRun(pool);
  const lease = await claimAndLeave();
  // The host comes back just before its lease would run out (it died a while after its last beat).
  await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() + 100 WHERE id = $1', [lease.stepId]);
  let adopted: (l: Lease) => void = () => {};
  const adoptedLease = new Promise<Lease>((r) => (adopted = r));
  const a2 = new ClusterHost(options('a', () => new Promise(() => {}), {
    adopt: (l) => {
      adopted(l);
      return new Promise(() => {});
    },
  }));
  await a2.start();
  try {
    const l = await adoptedLease;
    expect(l.stepId).toBe(lease.stepId);
    // The first heartbeat is a third of the TTL away: the registration itself renewed the lease.
    const { rows } = await pool.query<{ left: string; now: string }>('SELECT lease_expires_at - loopd_now_ms() AS left, loopd_now_ms() AS now FROM steps WHERE id = $1', [lease.stepId]);
    expect(Number(rows[0]!.left)).toBeGreaterThan(50_000);
    expect(l.expiresAt - Number(rows[0]!.now)).toBeGreaterThan(50_000);
  } finally {
    await a2.stop();
  }
});

it('loopctl hosts lists the hosts of the database, and says what to do without one', async () => {
  const { execFileSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const { registerHost } = await import('../../host/pg/hosts.js');
  await registerHost(pool, { id: 'h-1', hostname: 'alpha', address: 'http://10.0.0.1:7878', agents: ['claude', 'codex'], workspaces: ['/srv/ws'], maxConcurrency: 4, leaseTtlMs: 30_000 });
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'loopctl');
  const url = (pool as unknown as { options: { connectionString: string } }).options.connectionString;
  // The built binary once, through its sh launcher; the other cases by the same route in this
  // process (test/cli/helpers.ts loopctl: exit code, stdout and stderr), ~0.15 s of CPU less each.
  const out = execFileSync(bin, ['hosts', '--database-url', url], { encoding: 'utf8' });
  expect(out).toMatch(/HOSTNAME\s+ID\s+STATE/);
  expect(out).toMatch(/alpha\s+h-1\s+alive\s+\d+s ago\s+0\/4\s+claude,codex\s+\/srv\/ws\s+http:\/\/10\.0\.0\.1:7878/);
  const env = { ...process.env };
  delete env.LOOPD_DATABASE_URL;
  const listed = await loopctl(['hosts', '--json'], { env: { ...env, LOOPD_DATABASE_URL: url } });
  expect(listed.code, listed.stderr).toBe(0);
  const json = JSON.parse(listed.stdout) as { id: string; state: string }[];
  expect(json.map((h) => [h.id, h.state])).toEqual([['h-1', 'alive']]);
  const none = await loopctl(['hosts'], { env });
  expect(none.code).not.toBe(0);
  expect(none.stderr).toMatch(/no cluster database: pass --database-url/);
  const bad = await loopctl(['hosts', '--database-url', 'mysql://x/y'], { env });
  expect(bad.stderr).toMatch(/not a postgres:\/\/ URL/);
});
