// Events on PostgreSQL: one sequence for the cluster, written in the transaction of the change it
// records; NOTIFY inside that transaction wakes every host's subscribers only at COMMIT, so no host
// streams an event for a change that was rolled back. Subscribers resume by sequence number.
import pg from 'pg';
import type { Client, Pool } from './connect.js';

export const EVENTS_CHANNEL = 'loopd_events';

export interface PgEvent {
  seq: number;
  run_id: string | null;
  step_id: number | null;
  workspace_root: string | null;
  host_id: string | null;
  type: string;
  ts: number;
  payload_json: string;
}

export async function appendEvent(
  c: Client,
  e: { runId: string | null; stepId: number | null; hostId: string | null; type: string; payload?: object; workspace?: string | null },
): Promise<number> {
  const { rows } = await c.query<{ seq: number }>(
    `INSERT INTO events (run_id, step_id, workspace_root, host_id, type, ts, payload_json, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, loopd_now_ms(), $6, loopd_now_ms(), loopd_now_ms()) RETURNING seq`,
    [e.runId, e.stepId, e.workspace ?? null, e.hostId, e.type, JSON.stringify(e.payload ?? {})],
  );
  const seq = rows[0]!.seq;
  await c.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(seq)]);
  return seq;
}

export async function eventsAfter(db: Pick<Pool, 'query'>, f: { afterSeq?: number; runId?: string; limit?: number }): Promise<PgEvent[]> {
  const { rows } = await db.query<PgEvent>(
    `SELECT seq, run_id, step_id, workspace_root, host_id, type, ts, payload_json FROM events
      WHERE seq > $1 AND ($2::text IS NULL OR run_id = $2) ORDER BY seq LIMIT $3`,
    [f.afterSeq ?? 0, f.runId ?? null, f.limit ?? 1000],
  );
  return rows;
}

/**
 * Streams events after `afterSeq`, from any host. A dedicated connection LISTENs; every
 * notification (and the start) triggers a read by sequence number, so a notification lost while
 * reconnecting costs nothing: the next read catches up.
 */
export async function subscribeEvents(
  url: string,
  pool: Pool,
  afterSeq: number,
  onEvent: (e: PgEvent) => void,
  filter: { runId?: string } = {},
): Promise<{ close: () => Promise<void> }> {
  const listener = new pg.Client({ connectionString: url, application_name: 'loopd-listen' });
  let last = afterSeq;
  let reading = Promise.resolve();
  let closed = false;
  const catchUp = (): void => {
    reading = reading.then(async () => {
      while (!closed) {
        const batch = await eventsAfter(pool, { afterSeq: last, ...(filter.runId ? { runId: filter.runId } : {}) });
        for (const e of batch) {
          last = e.seq;
          onEvent(e);
        }
        if (batch.length < 1000) return;
      }
    }).catch(() => {});
  };
  listener.on('notification', catchUp);
  listener.on('error', () => {});
  await listener.connect();
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
  catchUp();
  return {
    close: async () => {
      closed = true;
      await reading;
      await listener.end().catch(() => {});
    },
  };
}
