// How far the event log can be read without missing anything, on PostgreSQL.
//
// Sequence numbers are handed out when an event is inserted, but transactions commit in any order:
// host A may insert seq 41 and host B seq 42, and B commit first. A reader that delivered 42 and
// moved its cursor past it would never see 41. So readers only read up to the *settled* sequence
// number: the highest one below which every number is either visible or will never be (its
// transaction rolled back). A missing number is settled once every transaction that was running
// when the gap was seen has ended; the transaction holding it was one of them. Each PgTx takes its
// transaction id before its first event, so it is in the snapshot before its number exists.
//
// A transaction that stays open for long (someone's idle psql session with writes) would hold the
// horizon back; past `maxGapWaitMs` the gap is taken as abandoned, so a stuck session delays
// streams by that much at most instead of stopping them.
import type { Pool } from './connect.js';

interface Gap {
  /** Every number up to here is settled once the transactions of `snapshot` have ended. */
  upTo: number;
  snapshot: string;
  seenAt: number;
}

const SCAN = 5000;

export class EventHorizon {
  private upTo = 0;
  private gap: Gap | null = null;
  private started = false;
  private refreshing: Promise<number> | null = null;

  constructor(
    private readonly db: Pick<Pool, 'query'>,
    private readonly o: { maxGapWaitMs?: number } = {},
  ) {}

  /** True while a gap waits to settle: a reader should look again soon even without a NOTIFY. */
  get waiting(): boolean {
    return this.gap !== null;
  }

  /** The settled sequence number (see the top of this file); concurrent callers share one refresh. */
  settled(): Promise<number> {
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async refresh(): Promise<number> {
    if (!this.started) {
      // Everything up to the newest number is settled once the transactions running now have ended.
      const { rows } = await this.db.query<{ snap: string; top: number | null }>('SELECT pg_current_snapshot()::text AS snap, (SELECT max(seq) FROM events) AS top');
      this.started = true;
      if (rows[0]!.top !== null) this.gap = { upTo: rows[0]!.top, snapshot: rows[0]!.snap, seenAt: Date.now() };
    }
    for (;;) {
      if (this.gap && (await this.gapSettled(this.gap))) {
        this.upTo = Math.max(this.upTo, this.gap.upTo);
        this.gap = null;
      }
      // The snapshot and the numbers come from one statement, so they describe the same moment.
      const { rows } = await this.db.query<{ snap: string; seqs: number[] }>(
        `SELECT pg_current_snapshot()::text AS snap, ARRAY(SELECT seq FROM events WHERE seq > $1 ORDER BY seq LIMIT ${SCAN}) AS seqs`,
        [this.upTo],
      );
      const { snap, seqs } = rows[0]!;
      let i = 0;
      while (i < seqs.length && Number(seqs[i]) === this.upTo + 1) this.upTo = Number(seqs[i++]);
      if (i < seqs.length && !this.gap) {
        // Most gaps are already closed (a rollback before the read): check once before waiting.
        this.gap = { upTo: Number(seqs[seqs.length - 1]), snapshot: snap, seenAt: Date.now() };
        continue;
      }
      // A full page read to its end may have more behind it; a gap stops the walk until it settles.
      if (i === seqs.length && seqs.length === SCAN) continue;
      if (this.gap && this.gap.upTo <= this.upTo) this.gap = null;
      return this.upTo;
    }
  }

  private async gapSettled(g: Gap): Promise<boolean> {
    if (Date.now() - g.seenAt > (this.o.maxGapWaitMs ?? 10_000)) return true;
    const { rows } = await this.db.query<{ done: boolean }>(
      `SELECT COALESCE(bool_and(pg_xact_status(x) IS DISTINCT FROM 'in progress'), true) AS done FROM pg_snapshot_xip($1::pg_snapshot) AS x`,
      [g.snapshot],
    );
    return rows[0]!.done;
  }
}
