// The same Dispatcher code on PostgreSQL, and on two "hosts" (two PgStores, two pools) sharing one
// database: nothing in host/dispatch/ is SQLite-specific, and every coordination that matters
// across hosts (claims, merge locks, rate-limit holds) is decided by the database.
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../host/bus.js';
import { Dispatcher } from '../../host/dispatcher.js';
import { PgStore } from '../../host/store/postgres.js';
import { claimedDone, progress, rig, runId, T0 } from '../unit/dispatcher-harness.js';
import { freshDatabase } from './db.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function hosts(n: number): Promise<PgStore[]> {
  const db = await freshDatabase();
  cleanup.push(db.drop);
  const stores = await Promise.all(Array.from({ length: n }, () => PgStore.open({ url: db.url })));
  for (const s of stores) cleanup.push(() => s.close());
  return stores;
}

describe('dispatcher on PostgreSQL', () => {
  it('runs a run to COMPLETED and finalises it', async () => {
    const [store] = await hosts(1);
    const r = rig(store);
    await r.create(1);
    r.fake.auto = (c) => (c.input.step.iteration < 2 ? progress : claimedDone);
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    const run = (await r.store.getRun(runId(1)))!;
    expect(run).toMatchObject({ status: 'COMPLETED', exit_reason: 'complete_plan' });
    expect(run.finalized_at).not.toBeNull();
    expect(r.fake.calls).toHaveLength(2);
    await d.stop();
  });

  it('two hosts on one database run every step exactly once; claims and admissions they lose are skipped', async () => {
    const [a, b] = await hosts(2);
    const ra = rig(a);
    for (const n of [1, 2, 3, 4, 5, 6]) await ra.create(n);
    // One set of fake handlers for both hosts, so the calls of both are counted together.
    ra.fake.auto = (c) => (c.input.step.iteration < 2 ? progress : claimedDone);
    const da = ra.dispatcher({ instanceId: 'host-a', maxConcurrency: 2 });
    const db = new Dispatcher({
      store: b!,
      bus: new EventBus(),
      handlers: ra.fake.handlers(),
      maxConcurrency: 2,
      instanceId: 'host-b',
      clock: ra.clock,
    });
    await Promise.all([da.start(), db.start()]);
    for (let i = 0; i < 3; i++) await Promise.all([da.idle(), db.idle()]);
    const steps = (await Promise.all([1, 2, 3, 4, 5, 6].map((n) => a!.stepsForRun(runId(n))))).flat();
    expect(steps).toHaveLength(12);
    expect(ra.fake.calls).toHaveLength(12);
    expect(new Set(ra.fake.calls.map((c) => c.input.step.id)).size).toBe(12);
    expect(await b!.runStatusCounts()).toMatchObject({ COMPLETED: 6 });
    await Promise.all([da.stop(), db.stop()]);
  });

  it('a rate-limit hold one host records keeps the other host from starting that agent', async () => {
    const [a, b] = await hosts(2);
    const ra = rig(a);
    const rb = rig(b!);
    rb.clock.t = ra.clock.t;
    await ra.create(1);
    ra.fake.auto = () => ({ status: 'FAILED', exitCode: 1, error: 'rate limited', result: { errorKind: 'rate_limit', rateLimitResetAt: T0 + 60_000 } });
    const da = ra.dispatcher({ instanceId: 'host-a' });
    await da.start();
    await da.idle();
    await da.stop();
    await rb.create(2);
    const db = rb.dispatcher({ instanceId: 'host-b' });
    await db.start();
    await db.idle();
    expect(rb.fake.calls).toHaveLength(0);
    rb.clock.advance(60_000);
    await db.idle();
    expect(rb.fake.calls.map((c) => c.runId).sort()).toEqual([runId(1), runId(2)]);
    await db.stop();
  });
});
