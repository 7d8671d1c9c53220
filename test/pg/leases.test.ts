// Claims, leases, fencing and failover on a real PostgreSQL. Time passing is simulated by moving a
// lease's expiry into the past on the database clock, never by sleeping.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, seedRun } from './db.js';
import { LeaseKeeper } from '../../host/cluster/lease-keeper.js';
import { openPool, type Pool } from '../../host/pg/connect.js';
import { admitRuns, claimStep, completeStep, heartbeat, LeaseLostError, liveLeasesOf, reapExpiredLeases, type ClaimLimits } from '../../host/pg/leases.js';
import { listHosts, markHostStopped, registerHost } from '../../host/pg/hosts.js';

let pool: Pool;
let url: string;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ pool, url, drop } = await freshDatabase());
});
afterAll(async () => drop());
beforeEach(async () => {
  await pool.query('TRUNCATE events, merge_locks, agent_holds, steps, runs, hosts RESTART IDENTITY CASCADE');
});

const host = (id: string, o: Partial<ClaimLimits> = {}): ClaimLimits => ({
  hostId: id, leaseTtlMs: 30_000, maxConcurrency: 100, agents: ['claude'], workspaces: ['/srv/ws'], ...o,
});

async function expire(stepId: number): Promise<void> {
  await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() - 1 WHERE id = $1', [stepId]);
}

async function eventTypes(runId: string): Promise<string[]> {
  const { rows } = await pool.query<{ type: string }>('SELECT type FROM events WHERE run_id = $1 ORDER BY seq', [runId]);
  return rows.map((r) => r.type);
}

describe('claims', () => {
  it('three hosts claiming at once never take the same step', async () => {
    const seeded = [];
    for (let i = 0; i < 12; i++) seeded.push(await seedRun(pool));
    const hosts = ['a', 'b', 'c'].map((h) => host(h));
    // Each host keeps claiming until the queue is empty; a claimer that finds every candidate
    // locked by another gets null for that round and tries again, as a dispatcher tick would.
    const got: number[] = [];
    for (let round = 0; round < 20 && got.length < 12; round++) {
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => claimStep(pool, hosts[i % 3]!)));
      for (const c of claims) if (c) got.push(c.stepId);
    }
    expect(got.sort((x, y) => x - y)).toEqual(seeded.map((s) => s.stepId).sort((x, y) => x - y));
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'STEP_CLAIMED'`);
    expect(rows[0]!.n).toBe(12);
  });

  it('a host claims only runs whose workspace it reaches and whose agent it has', async () => {
    await seedRun(pool, { workspace: '/srv/other' });
    await seedRun(pool, { agent: 'codex' });
    const mine = await seedRun(pool);
    const c = await claimStep(pool, host('a'));
    expect(c?.stepId).toBe(mine.stepId);
    expect(await claimStep(pool, host('a'))).toBeNull();
    expect((await claimStep(pool, host('b', { agents: ['codex'] })))?.runId).toBeDefined();
  });

  it('max_concurrency caps one host, not the cluster', async () => {
    for (let i = 0; i < 3; i++) await seedRun(pool);
    expect(await claimStep(pool, host('a', { maxConcurrency: 1 }))).not.toBeNull();
    expect(await claimStep(pool, host('a', { maxConcurrency: 1 }))).toBeNull();
    expect(await claimStep(pool, host('b', { maxConcurrency: 1 }))).not.toBeNull();
  });

  it('merges into one target branch are serialized across hosts; another target is not held up', async () => {
    await seedRun(pool, { phase: 'merge', target: 'main' });
    await seedRun(pool, { phase: 'merge', target: 'main' });
    const other = await seedRun(pool, { phase: 'merge', target: 'release' });
    const [x, y] = await Promise.all([claimStep(pool, host('a')), claimStep(pool, host('b'))]);
    const claimed = [x, y].filter((c) => c !== null);
    expect(claimed).toHaveLength(2);
    expect(claimed.map((c) => c.stepId)).toContain(other.stepId);
    expect(await claimStep(pool, host('c'))).toBeNull();
    const mainMerge = claimed.find((c) => c.stepId !== other.stepId)!;
    await completeStep(pool, mainMerge === x ? 'a' : 'b', mainMerge, { status: 'SUCCEEDED' });
    expect(await claimStep(pool, host('c'))).not.toBeNull();
  });

  it("a dead host's merge lock goes with its lease: the requeued merge can be claimed", async () => {
    await seedRun(pool, { phase: 'merge', target: 'main' });
    const lease = (await claimStep(pool, host('a')))!;
    expect((await pool.query('SELECT step_id FROM merge_locks')).rows).toEqual([{ step_id: lease.stepId }]);
    await expire(lease.stepId);
    await reapExpiredLeases(pool, 'b');
    const next = (await claimStep(pool, host('b')))!;
    expect(next).toMatchObject({ phase: 'merge', attempt: 2 });
    expect((await pool.query('SELECT step_id FROM merge_locks')).rows).toEqual([{ step_id: next.stepId }]);
    await completeStep(pool, 'b', next, { status: 'SUCCEEDED' });
    expect((await pool.query('SELECT step_id FROM merge_locks')).rows).toEqual([]);
  });

  it('a rate-limit hold on an agent kind stops every host from claiming its steps until it ends', async () => {
    await seedRun(pool);
    await pool.query(`INSERT INTO agent_holds (agent, until, created_at, updated_at) VALUES ('claude', loopd_now_ms() + 60000, 0, 0)`);
    expect(await claimStep(pool, host('a'))).toBeNull();
    expect(await claimStep(pool, host('b'))).toBeNull();
    await pool.query(`UPDATE agent_holds SET until = loopd_now_ms() - 1`);
    expect(await claimStep(pool, host('a'))).not.toBeNull();
  });

  it('max_runs_per_workspace holds across hosts admitting at once', async () => {
    for (let i = 0; i < 6; i++) await seedRun(pool, { status: 'PENDING' });
    await seedRun(pool, { status: 'PENDING', workspace: '/srv/other' });
    const admitted = (await Promise.all(['a', 'b', 'c'].map((h) => admitRuns(pool, h, 2)))).flat();
    expect(admitted).toHaveLength(3);
    const { rows } = await pool.query<{ workspace_root: string; n: number }>(
      `SELECT workspace_root, count(*)::int AS n FROM runs WHERE status = 'RUNNING' GROUP BY workspace_root ORDER BY workspace_root`,
    );
    expect(rows).toEqual([{ workspace_root: '/srv/other', n: 1 }, { workspace_root: '/srv/ws', n: 2 }]);
  });
});

describe('leases and fencing', () => {
  it('a completion under a live lease lands with its event and the next step', async () => {
    const { runId } = await seedRun(pool);
    const lease = (await claimStep(pool, host('a')))!;
    await completeStep(pool, 'a', lease, { status: 'SUCCEEDED', next: { phase: 'verification', iteration: 1 } });
    expect(await eventTypes(runId)).toEqual(['STEP_CLAIMED', 'STEP_SUCCEEDED']);
    const { rows } = await pool.query<{ phase: string; status: string }>('SELECT phase, status FROM steps WHERE run_id = $1 ORDER BY id', [runId]);
    expect(rows).toEqual([{ phase: 'implementation', status: 'SUCCEEDED' }, { phase: 'verification', status: 'QUEUED' }]);
  });

  it('a completion after the lease expired is rejected and changes nothing', async () => {
    const { runId } = await seedRun(pool);
    const lease = (await claimStep(pool, host('a')))!;
    await expire(lease.stepId);
    await expect(completeStep(pool, 'a', lease, { status: 'SUCCEEDED', next: { phase: 'verification', iteration: 1 } })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await eventTypes(runId)).toEqual(['STEP_CLAIMED']);
  });

  it('the heartbeat renews live leases and reports expired ones as lost, without reviving them', async () => {
    await seedRun(pool);
    await seedRun(pool);
    const l1 = (await claimStep(pool, host('a')))!;
    const l2 = (await claimStep(pool, host('a')))!;
    await expire(l2.stepId);
    const { lost, renewed } = await heartbeat(pool, 'a', 30_000, [l1, l2]);
    expect(renewed.map((l) => l.stepId)).toEqual([l1.stepId]);
    expect(lost.map((l) => l.stepId)).toEqual([l2.stepId]);
    await expect(completeStep(pool, 'a', l2, { status: 'SUCCEEDED' })).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('an expired lease is requeued once as a new attempt with LEASE_EXPIRED, however many hosts reap', async () => {
    const { runId } = await seedRun(pool);
    const lease = (await claimStep(pool, host('a')))!;
    await expire(lease.stepId);
    const reaped = (await Promise.all(['b', 'c', 'b', 'c'].map((h) => reapExpiredLeases(pool, h)))).flat();
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ stepId: lease.stepId, host: 'a' });
    const { rows } = await pool.query<{ status: string; attempt: number; error: string | null }>('SELECT status, attempt, error FROM steps WHERE run_id = $1 ORDER BY id', [runId]);
    expect(rows).toEqual([{ status: 'FAILED', attempt: 1, error: 'LEASE_EXPIRED' }, { status: 'QUEUED', attempt: 2, error: null }]);
    expect(await eventTypes(runId)).toEqual(['STEP_CLAIMED', 'LEASE_EXPIRED']);
    // The new attempt goes to a live host; the old owner's late completion is fenced off.
    const next = (await claimStep(pool, host('b')))!;
    expect(next).toMatchObject({ attempt: 2, iteration: 1 });
    await expect(completeStep(pool, 'a', lease, { status: 'SUCCEEDED' })).rejects.toBeInstanceOf(LeaseLostError);
    await completeStep(pool, 'b', next, { status: 'SUCCEEDED', runStatus: 'COMPLETED' });
    expect(await eventTypes(runId)).toEqual(['STEP_CLAIMED', 'LEASE_EXPIRED', 'STEP_CLAIMED', 'STEP_SUCCEEDED', 'RUN_COMPLETED']);
  });

  it('a live lease is never reaped, and a restarted host finds the leases it still holds', async () => {
    await seedRun(pool);
    const lease = (await claimStep(pool, host('a')))!;
    expect(await reapExpiredLeases(pool, 'b')).toEqual([]);
    expect((await liveLeasesOf(pool, 'a')).map((l) => [l.stepId, l.epoch])).toEqual([[lease.stepId, lease.epoch]]);
    expect(await liveLeasesOf(pool, 'b')).toEqual([]);
  });

  it("a host's registration renews the leases it still holds, as its first heartbeat, and never revives an expired one", async () => {
    // A restarted host counts its registration as a renewal and adopts its live leases at once:
    // one with a moment left must get a whole TTL, or it expires under the adopted agent before
    // the first heartbeat while another host takes the step over.
    await seedRun(pool);
    await seedRun(pool);
    await seedRun(pool);
    const almostGone = (await claimStep(pool, host('a')))!;
    const expired = (await claimStep(pool, host('a')))!;
    const others = (await claimStep(pool, host('b')))!;
    await pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() + 10000 WHERE id = ANY($1::bigint[])', [[almostGone.stepId, others.stepId]]);
    await expire(expired.stepId);
    await registerHost(pool, { id: 'a', hostname: 'alpha', address: null, agents: ['claude'], workspaces: ['/srv/ws'], maxConcurrency: 2, leaseTtlMs: 30_000 });
    const { rows } = await pool.query<{ id: string; left: string }>('SELECT id, lease_expires_at - loopd_now_ms() AS left FROM steps ORDER BY id');
    const left = new Map(rows.map((r) => [Number(r.id), Number(r.left)]));
    expect(left.get(almostGone.stepId)).toBeGreaterThan(29_000);
    expect(left.get(expired.stepId)).toBeLessThanOrEqual(0);
    expect(left.get(others.stepId)).toBeLessThanOrEqual(10_000); // another host's lease is not this host's to renew
    // The expired lease is still reaped; the renewed one is not.
    expect((await reapExpiredLeases(pool, 'c')).map((r) => r.stepId)).toEqual([expired.stepId]);
    expect((await liveLeasesOf(pool, 'a')).map((l) => l.stepId)).toEqual([almostGone.stepId]);
  });
});

describe('hosts', () => {
  it('lists hosts with what they run and reach, and their state', async () => {
    const base = { address: 'http://10.0.0.1:7878', agents: ['claude'], workspaces: ['/srv/ws'], maxConcurrency: 2, leaseTtlMs: 30_000 };
    await registerHost(pool, { id: 'h1', hostname: 'alpha', ...base });
    await registerHost(pool, { id: 'h2', hostname: 'beta', ...base });
    await registerHost(pool, { id: 'h3', hostname: 'gamma', ...base });
    await pool.query(`UPDATE hosts SET heartbeat_at = loopd_now_ms() - 60000 WHERE id = 'h2'`);
    await markHostStopped(pool, 'h3');
    await seedRun(pool);
    await claimStep(pool, host('h1'));
    const hosts = await listHosts(pool);
    expect(hosts.map((h) => [h.hostname, h.state, h.runningSteps])).toEqual([['alpha', 'alive', 1], ['beta', 'lost', 0], ['gamma', 'stopped', 0]]);
    expect(hosts[0]).toMatchObject({ agents: ['claude'], workspaces: ['/srv/ws'], maxConcurrency: 2, address: 'http://10.0.0.1:7878' });
    // Re-registering (a restart) brings a host back.
    await registerHost(pool, { id: 'h3', hostname: 'gamma', ...base });
    expect((await listHosts(pool)).find((h) => h.id === 'h3')?.state).toBe('alive');
  });
});

describe('LeaseKeeper.stop', () => {
  it('waits for a renewal in flight, so a host marked stopped right after stays stopped', async () => {
    // The keeper's pool has one connection, held here: its renewal is in flight and cannot finish.
    const keeperPool = openPool(url, 1);
    let release = (): void => {};
    try {
      await registerHost(pool, { id: 'k', hostname: 'k.local', address: null, agents: ['claude'], workspaces: [], maxConcurrency: 1, leaseTtlMs: 30_000 });
      const held = await keeperPool.connect();
      release = () => {
        release = () => {};
        held.release();
      };
      const keeper = new LeaseKeeper({ pool: keeperPool, hostId: 'k', leaseTtlMs: 30_000, held: () => [], lose: () => {} });
      const beat = keeper.beat();
      let stopped = false;
      const stopping = keeper.stop().then(() => {
        stopped = true;
      });
      // Whatever can settle without the connection has settled after a turn of the event loop.
      await new Promise((r) => setImmediate(r));
      expect(stopped).toBe(false);
      release();
      await stopping;
      await beat;
      await markHostStopped(pool, 'k');
      expect((await listHosts(pool)).find((h) => h.id === 'k')?.state).toBe('stopped');
      // Stopped means stopped: no renewal starts afterwards.
      await keeper.beat();
      expect((await listHosts(pool)).find((h) => h.id === 'k')?.state).toBe('stopped');
    } finally {
      release();
      await keeperPool.end();
    }
  });
});

