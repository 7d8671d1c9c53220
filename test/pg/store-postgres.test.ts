// The LoopStore contract (test/unit/store-contract.ts), the same one SQLite meets, on PostgreSQL:
// each store opens its own fresh database on the test cluster.
import { afterAll, describe, expect, it } from 'vitest';
import { describeStoreContract, newRun } from '../unit/store-contract.js';
import { PgStore } from '../../host/store/postgres.js';
import { freshDatabase } from './db.js';

const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(drops.map((d) => d()));
});

describeStoreContract('postgres', {
  open: async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    return PgStore.open({ url: db.url });
  },
});

describe('PgStore leases', () => {
  it('a claim stamps a lease; a finish after the lease expired is rejected (null), a live one lands', async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const published: number[] = [];
    const s = await PgStore.open({ url: db.url, leaseTtlMs: 60_000, bus: { publish: (e) => published.push(e.seq) } });
    try {
      const id = '0190a000-0000-7000-8000-0000000000f1';
      const [a, b] = await s.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        await tx.appendEvent(id, null, 'RUN_PAUSED', { reason: 'user' });
        return [
          await tx.queueStep({ run_id: id, phase: 'implementation', iteration: 1, attempt: 1 }),
          await tx.queueStep({ run_id: id, phase: 'implementation', iteration: 2, attempt: 1 }),
        ];
      });
      expect(published).toHaveLength(1);
      await s.transaction((tx) => tx.claimStep(a!.id, 'host-a', 1));
      await s.transaction((tx) => tx.claimStep(b!.id, 'host-a', 1));
      const { rows } = await db.pool.query<{ lease_epoch: number; live: boolean }>('SELECT lease_epoch, lease_expires_at > loopd_now_ms() AS live FROM steps WHERE id = $1', [a!.id]);
      expect(rows[0]).toEqual({ lease_epoch: 1, live: true });
      await db.pool.query('UPDATE steps SET lease_expires_at = loopd_now_ms() - 1 WHERE id = $1', [a!.id]);
      const outcome = { status: 'SUCCEEDED' as const, exit_code: 0, result: { commits: 1 }, error: null, prompt_path: null, output_path: null, usage: null };
      expect(await s.transaction((tx) => tx.finishStep(a!.id, outcome, 2))).toBeNull();
      expect(await s.transaction((tx) => tx.finishStep(b!.id, outcome, 2))).toMatchObject({ status: 'SUCCEEDED' });
    } finally {
      await s.close();
    }
  });
});

describe('PgStore across hosts', () => {
  it('holds max_runs_per_workspace across hosts admitting at once', async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const hosts = await Promise.all([1, 2, 3].map((n) => PgStore.open({ url: db.url, hostId: `h${n}` })));
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `0190a000-0000-7000-8000-0000000003${String(i).padStart(2, '0')}`);
      await hosts[0]!.transaction(async (tx) => {
        for (const id of ids) await tx.createRun(newRun(id));
      });
      // Every host tries to admit every run at once, the way the dispatcher does: count, then admit.
      const cap = 2;
      const tries = hosts.flatMap((h) =>
        ids.map((id) => h.transaction(async (tx) => ((await tx.workspaceSlotsTaken('/ws')) < cap ? tx.admitRun(id, 1) : null))),
      );
      const admitted = (await Promise.all(tries)).filter((r) => r !== null);
      expect(admitted).toHaveLength(cap);
      expect((await hosts[0]!.listRuns({ status: ['RUNNING'] })).length).toBe(cap);
    } finally {
      for (const h of hosts) await h.close();
    }
  });

  it('a claim passes over a step another host is claiming right now instead of waiting for it', async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const [a, b] = await Promise.all([PgStore.open({ url: db.url, hostId: 'a' }), PgStore.open({ url: db.url, hostId: 'b' })]);
    try {
      const id = '0190a000-0000-7000-8000-0000000004f1';
      const step = await a.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        return tx.queueStep({ run_id: id, phase: 'implementation', iteration: 1, attempt: 1 });
      });
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slow = a.transaction(async (tx) => {
        const s = await tx.claimStep(step.id, 'a', 1);
        locked();
        await held;
        return s;
      });
      await isLocked;
      // b does not wait for a's transaction (which stays open until released): it gets null now.
      expect(await b.transaction((tx) => tx.claimStep(step.id, 'b', 1))).toBeNull();
      release();
      expect(await slow).toMatchObject({ status: 'IN_PROGRESS', lease_owner: 'a' });
      expect(await b.transaction((tx) => tx.claimStep(step.id, 'b', 1))).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
