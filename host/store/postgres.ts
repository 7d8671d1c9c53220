// The LoopStore interface on PostgreSQL, for several hosts sharing one database (docs/scaling.md).
// Each transaction is one connection from the pool; transactions of one host and of other hosts
// run concurrently and meet in row locks, so every named transition is one conditional UPDATE
// (admit only a PENDING run, claim only a QUEUED step...) whose RETURNING says whether it won.
// Events get their sequence number from one BIGSERIAL and a NOTIFY that PostgreSQL delivers at
// COMMIT; this host's own bus is fed after COMMIT too, like the SQLite store.
//
// Leases: claimStep stamps lease_epoch + 1 and an expiry on the database clock (leaseTtlMs), and
// finishStep lands only on an IN_PROGRESS step whose lease has not expired. A requeued attempt is
// a new row, so a step id never changes hands: a late finish from a host whose lease expired finds
// its row FAILED (LEASE_EXPIRED) or expired, and gets null. Heartbeats and reaping are in
// host/pg/leases.ts and host/pg/cluster-host.ts.
//
// The parts: postgres/rows.ts (row -> record), postgres/reads.ts (every read), postgres/run-writes.ts
// (events, runs, truth, ledger), postgres/tx.ts (steps, leases, locks and the rest of a transaction).
import { inTx, openPool, type Pool } from '../pg/connect.js';
import { EventHorizon } from '../pg/event-horizon.js';
import { migratePg } from '../pg/migrate.js';
import type { PublishedEvent as EventRow } from '../bus.js';
import type { EventFilter, EventRecord, LoopStore, StoreTx } from './types.js';
import { PgReads } from './postgres/reads.js';

import { PgTx } from './postgres/tx.js';

export interface PgStoreOptions {
  url: string;
  /** Receives this host's events after COMMIT (other hosts' events arrive by LISTEN/NOTIFY). */
  bus?: { publish(ev: EventRow): void } | null;
  leaseTtlMs?: number;
  poolSize?: number;
  /** Written on this host's events (events.host_id), so a host tells its own from the others'. */
  hostId?: string | null;
}

export class PgStore extends PgReads implements LoopStore {
  private readonly horizon: EventHorizon;

  private constructor(
    private readonly pool: Pool,
    private readonly o: PgStoreOptions,
  ) {
    super(pool);
    this.horizon = new EventHorizon(pool);
  }

  /** Outside a transaction, events are read up to the settled horizon only, so a cursor never skips one still committing. */
  override async eventsAfter(filter: EventFilter): Promise<EventRecord[]> {
    return this.readEvents(filter, await this.horizon.settled());
  }
  override async lastEventSeq(): Promise<number> {
    return this.horizon.settled();
  }

  /** Connects, applies the PostgreSQL migrations (refusing a newer schema) and returns the store. */
  static async open(o: PgStoreOptions): Promise<PgStore> {
    const pool = openPool(o.url, o.poolSize ?? 10);
    try {
      await migratePg(pool);
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PgStore(pool, o);
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    let events: PgTx['events'] = [];
    const out = await inTx(this.pool, (c) => {
      const tx = new PgTx(c, this.o.leaseTtlMs ?? 30_000, this.o.hostId ?? null);
      events = tx.events;
      return fn(tx);
    });
    // Only once committed: a rolled-back transaction's events never reach the bus.
    for (const e of events) this.o.bus?.publish(e);
    return out;
  }

  async appliedMigrations(): Promise<{ version: number; name: string }[]> {
    return (await this.pool.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

