// The events table: appended inside a write transaction (published after its COMMIT), read by
// cursor (seq) for history and live streams.
import type { DatabaseSync } from 'node:sqlite';
import type { EventPayloads, EventType } from '../../../core/events.js';
import type { Params, WriteTx } from './connection.js';
import type { EventRow } from './rows.js';
import { cached } from './connection.js';

/** Appends an event; run events also carry their run's workspace, so a workspace can be followed. */
export function appendEvent<K extends EventType>(
  tx: WriteTx,
  runId: string | null,
  stepId: number | null,
  type: K,
  payload: EventPayloads[K],
  workspace: string | null = null,
): EventRow {
  const ts = Date.now();
  const payloadJson = JSON.stringify(payload);
  const ws = workspace ?? (runId ? ((cached(tx.db, 'SELECT workspace_root AS w FROM runs WHERE id = ?').get(runId) as { w: string } | undefined)?.w ?? null) : null);
  const info = cached(tx.db, 'INSERT INTO events (run_id, step_id, workspace_root, type, ts, payload_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(runId, stepId, ws, type, ts, payloadJson, ts, ts);
  const row: EventRow = { seq: Number(info.lastInsertRowid), run_id: runId, step_id: stepId, workspace_root: ws, type, ts, payload_json: payloadJson };
  tx.pending.push(row);
  return row;
}

function scope(filter: { runId?: string; workspace?: string }): { where: string[]; params: Params } {
  const where: string[] = [];
  const params: Params = {};
  if (filter.runId) {
    where.push('run_id = $run');
    params.run = filter.runId;
  }
  if (filter.workspace) {
    where.push('workspace_root = $ws');
    params.ws = filter.workspace;
  }
  return { where, params };
}

export function eventsAfter(db: DatabaseSync, filter: { runId?: string; afterSeq?: number; limit?: number; workspace?: string }): EventRow[] {
  const { where, params } = scope(filter);
  return cached(db, `SELECT seq, run_id, step_id, workspace_root, type, ts, payload_json FROM events WHERE ${['seq > $after', ...where].join(' AND ')} ORDER BY seq LIMIT $limit`)
    .all({ ...params, after: filter.afterSeq ?? 0, limit: filter.limit ?? 1000 }) as unknown as EventRow[];
}

/**
 * The cursor (a seq to read after) that starts a window of recent events: the last `last` of
 * them, those at or after `since` (ms), or both (the narrower). 0 when the window is everything.
 */
export function eventsWindowStart(db: DatabaseSync, filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }): number {
  const { where, params } = scope(filter);
  const cond = (extra: string[]) => (where.length + extra.length > 0 ? `WHERE ${[...where, ...extra].join(' AND ')}` : '');
  let cursor = 0;
  if (window.last !== undefined) {
    const row = cached(db, `SELECT seq FROM events ${cond([])} ORDER BY seq DESC LIMIT 1 OFFSET $skip`).get({ ...params, skip: window.last }) as
      | { seq: number }
      | undefined;
    cursor = Math.max(cursor, row?.seq ?? 0);
  }
  if (window.since !== undefined) {
    // Events are appended with Date.now(), so ts grows with seq: the window starts after the last
    // event older than `since`.
    const row = cached(db, `SELECT MAX(seq) AS s FROM events ${cond(['ts < $since'])}`).get({ ...params, since: window.since }) as
      | { s: number | null }
      | undefined;
    cursor = Math.max(cursor, row?.s ?? 0);
  }
  return cursor;
}

export function lastEventSeq(db: DatabaseSync): number {
  const row = cached(db, 'SELECT MAX(seq) AS s FROM events').get() as { s: number | null } | undefined;
  return row?.s ?? 0;
}
