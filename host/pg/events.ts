// Events on PostgreSQL: one sequence for the cluster, written in the transaction of the change it
// records; NOTIFY inside that transaction wakes every host's subscribers only at COMMIT, so no host
// streams an event for a change that was rolled back. Subscribers resume by sequence number.
import type { Client, Pool } from './connect.js';
import { EventHorizon } from './event-horizon.js';
import { listenChannel } from './listen.js';

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

export async function eventsAfter(db: Pick<Pool, 'query'>, f: { afterSeq?: number; runId?: string; limit?: number; upTo?: number }): Promise<PgEvent[]> {
  const { rows } = await db.query<PgEvent>(
    `SELECT seq, run_id, step_id, workspace_root, host_id, type, ts, payload_json FROM events
      WHERE seq > $1 AND ($2::text IS NULL OR run_id = $2) AND ($4::bigint IS NULL OR seq <= $4) ORDER BY seq LIMIT $3`,
    [f.afterSeq ?? 0, f.runId ?? null, f.limit ?? 1000, f.upTo ?? null],
  );
  return rows;
}

export interface Subscription {
  close(): Promise<void>;
}

/**
 * Streams events after `afterSeq` ('now': from the settled horizon on), from any host, in sequence
 * order and without gaps: reads go up to the settled horizon only (host/pg/event-horizon.ts), and
 * while a gap waits to settle the subscriber looks again shortly even without a notification.
 * A dedicated connection LISTENs; every notification (and the start, and every reconnect)
 * triggers a read by sequence number, so a notification lost while reconnecting costs nothing.
 */
export async function subscribeEvents(
  url: string,
  pool: Pool,
  afterSeq: number | 'now',
  onEvent: (e: PgEvent) => void,
  filter: { runId?: string } = {},
  o: { horizon?: EventHorizon; onError?: (e: unknown) => void; reconnectMs?: number } = {},
): Promise<Subscription> {
  const horizon = o.horizon ?? new EventHorizon(pool);
  let last = afterSeq === 'now' ? await horizon.settled() : afterSeq;
  let reading = Promise.resolve();
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  // A burst of notifications needs one read after the one in progress, not one each.
  let queued = false;
  const catchUp = (): void => {
    if (queued) return;
    queued = true;
    reading = reading
      .then(async () => {
        queued = false;
        while (!closed) {
          const upTo = await horizon.settled();
          const batch = await eventsAfter(pool, { afterSeq: last, upTo, ...(filter.runId ? { runId: filter.runId } : {}) });
          for (const e of batch) {
            last = e.seq;
            onEvent(e);
          }
          if (batch.length < 1000) break;
        }
        // A gap closes by a commit (which notifies) or a rollback (which does not): look again.
        if (!closed && horizon.waiting && !retry) {
          retry = setTimeout(() => {
            retry = null;
            catchUp();
          }, 50);
          retry.unref();
        }
      })
      .catch((e: unknown) => o.onError?.(e));
  };
  const listening = await listenChannel(url, EVENTS_CHANNEL, {
    onNotify: catchUp,
    onConnected: catchUp,
    ...(o.onError ? { onError: o.onError } : {}),
    ...(o.reconnectMs !== undefined ? { reconnectMs: o.reconnectMs } : {}),
  });
  return {
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      await listening.close();
      await reading;
    },
  };
}
