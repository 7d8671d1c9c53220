// Events across hosts for the daemon: the settled horizon (no cursor skips an event that commits
// late) and the relay that publishes other hosts' events into this host's bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, type PublishedEvent } from '../../host/bus.js';
import { startEventRelay } from '../../host/cluster/event-relay.js';
import { PgStore } from '../../host/store/postgres.js';
import { newRun } from '../unit/store-contract.js';
import { freshDatabase } from './db.js';

let url: string;
let drop: () => Promise<void>;
const stores: PgStore[] = [];

beforeAll(async () => {
  ({ url, drop } = await freshDatabase());
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await drop();
});

async function host(id: string, bus: EventBus | null = null): Promise<PgStore> {
  const s = await PgStore.open({ url, hostId: id, bus });
  stores.push(s);
  return s;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once `bus` has published an event of that type. */
function published(bus: EventBus, type: string): Promise<void> {
  return new Promise((res) => {
    const on = (e: PublishedEvent) => {
      if (e.type !== type) return;
      bus.off('event', on);
      res();
    };
    bus.on('event', on);
  });
}

describe('the settled horizon', () => {
  it('holds a reader before an event that commits after a later one, then gives both in order; a rollback leaves no hole', async () => {
    const a = await host('ha');
    const b = await host('hb');
    const runId = '0190a000-0000-7000-8000-0000000e0001';
    await a.transaction((tx) => tx.createRun(newRun(runId)));
    const start = await a.lastEventSeq();

    // b's transaction takes the lower number and stays open while a commits a higher one.
    const inserted = deferred();
    const release = deferred();
    const slow = b.transaction(async (tx) => {
      await tx.appendEvent(runId, null, 'RUN_PAUSED', { reason: 'slow' });
      inserted.resolve();
      await release.promise;
    });
    await inserted.promise;
    await a.transaction((tx) => tx.appendEvent(runId, null, 'RUN_RESUMED', {}));
    // The higher number is committed, but a cursor past it would skip the lower one: not readable yet.
    expect((await a.eventsAfter({ afterSeq: start })).map((e) => e.type)).toEqual([]);
    expect(await a.lastEventSeq()).toBe(start);
    release.resolve();
    await slow;
    expect((await a.eventsAfter({ afterSeq: start })).map((e) => e.type)).toEqual(['RUN_PAUSED', 'RUN_RESUMED']);

    // A rolled-back number never appears; the horizon passes it once its transaction ended.
    await b.transaction(async (tx) => {
      await tx.appendEvent(runId, null, 'RUN_PAUSED', { reason: 'rolled back' });
      throw new Error('abort');
    }).catch(() => {});
    await b.transaction((tx) => tx.appendEvent(runId, null, 'RUN_CANCEL_REQUESTED', {}));
    // Snapshots are cluster-wide: a transaction of another test file's database that was running
    // when the gap was seen holds the horizon until it ends (or maxGapWaitMs), so wait for it.
    let types: string[] = [];
    for (let i = 0; i < 300 && types.length < 3; i++) {
      types = (await a.eventsAfter({ afterSeq: start })).map((e) => e.type);
      if (types.length < 3) await new Promise((r) => setTimeout(r, 50));
    }
    expect(types).toEqual(['RUN_PAUSED', 'RUN_RESUMED', 'RUN_CANCEL_REQUESTED']);
  });
});

describe('the event relay', () => {
  it("publishes other hosts' events into this host's bus in sequence order, its own once, none rolled back", async () => {
    const busA = new EventBus();
    const seen: PublishedEvent[] = [];
    busA.on('event', (e: PublishedEvent) => seen.push(e));
    const foreign: number[] = [];
    const relay = await startEventRelay({ url, hostId: 'ra', bus: busA, onForeignEvent: (e) => foreign.push(e.seq) });
    try {
      const a = await host('ra', busA);
      const b = await host('rb');
      const c = await host('rc');
      const runId = '0190a000-0000-7000-8000-0000000e0002';
      await a.transaction((tx) => tx.createRun(newRun(runId)));
      const done = published(busA, 'RUN_COMPLETED');

      // Host b holds a lower number open while c and a commit later ones.
      const inserted = deferred();
      const release = deferred();
      const slow = b.transaction(async (tx) => {
        await tx.appendEvent(runId, null, 'STEP_QUEUED', { phase: 'implementation', iteration: 1, attempt: 1, delayMs: 0 });
        inserted.resolve();
        await release.promise;
      });
      await inserted.promise;
      await c.transaction((tx) => tx.appendEvent(runId, null, 'RUN_PAUSED', { reason: 'c' }));
      await a.transaction((tx) => tx.appendEvent(runId, null, 'RUN_RESUMED', {}));
      await b.transaction(async (tx) => {
        await tx.appendEvent(runId, null, 'RUN_CANCEL_REQUESTED', {});
        throw new Error('abort');
      }).catch(() => {});
      release.resolve();
      await slow;
      await c.transaction((tx) => tx.appendEvent(runId, null, 'RUN_COMPLETED', { status: 'COMPLETED', reason: 'done', error: null }));
      await done;

      // This run's events only: the relay starts at the settled horizon, which a transaction of
      // another test file on the same cluster can hold behind the previous test's events (among
      // them a committed RUN_CANCEL_REQUESTED of another run), so those may be relayed too.
      const mine = seen.filter((e) => e.run_id === runId);
      const types = mine.map((e) => e.type);
      expect(types.filter((t) => t === 'RUN_RESUMED')).toHaveLength(1); // a's own, from its store only
      expect(types).not.toContain('RUN_CANCEL_REQUESTED');
      const relayed = mine.filter((e) => foreign.includes(e.seq));
      expect(relayed.map((e) => e.type)).toEqual(['STEP_QUEUED', 'RUN_PAUSED', 'RUN_COMPLETED']);
      expect(relayed.map((e) => e.seq)).toEqual([...relayed.map((e) => e.seq)].sort((x, y) => x - y));
      expect(relayed.every((e) => e.run_id === runId && e.workspace_root === '/ws')).toBe(true);
      // Marked with the host that wrote them (the log puts them at debug); a's own are not marked.
      expect(relayed.map((e) => e.relayed_from)).toEqual(['rb', 'rc', 'rc']);
      expect(mine.filter((e) => !foreign.includes(e.seq)).every((e) => e.relayed_from === undefined)).toBe(true);
    } finally {
      await relay.close();
    }
  });
});
