// The runs table: creation, lookups by id, prefix and name, pages, counts and patches.
import type { DatabaseSync } from 'node:sqlite';
import type { RunStatus } from '../../../core/types.js';
import { cached, type Params, type WriteTx } from './connection.js';
import type { RunRow } from './rows.js';

export type NewRunRow = Omit<
  RunRow,
  'created_at' | 'updated_at' | 'cost_usd' | 'input_tokens' | 'output_tokens' | 'cancel_requested' | 'pause_reason' | 'exit_reason' | 'last_error' | 'started_at' | 'ended_at'
>;

export function insertRun(tx: WriteTx, run: NewRunRow): RunRow {
  const now = Date.now();
  const row: RunRow = {
    ...run,
    exit_reason: null,
    last_error: null,
    cancel_requested: 0,
    pause_reason: null,
    cost_usd: 0,
    input_tokens: 0,
    output_tokens: 0,
    created_at: now,
    updated_at: now,
    started_at: null,
    ended_at: null,
  };
  const cols = Object.keys(row);
  cached(tx.db, `INSERT INTO runs (${cols.join(', ')}) VALUES (${cols.map((c) => '$' + c).join(', ')})`).run(row as unknown as Params);
  return row;
}

export function getRun(db: DatabaseSync, id: string): RunRow | undefined {
  return cached(db, 'SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
}

export function updateRun(tx: WriteTx, id: string, patch: Partial<Omit<RunRow, 'id' | 'created_at'>>): RunRow {
  const fields = { ...patch, updated_at: Date.now() };
  const sets = Object.keys(fields).map((k) => `${k} = $${k}`);
  cached(tx.db, `UPDATE runs SET ${sets.join(', ')} WHERE id = $id`).run({ ...(fields as Params), id });
  const row = getRun(tx.db, id);
  if (!row) throw new Error(`run ${id} not found`);
  return row;
}

/**
 * The shortest prefix of a run id, at least `min` characters, that no other run shares. UUIDv7
 * ids begin with the creation time, so runs made within a minute share their first 8 characters;
 * the neighbours in id order are the only ids that can share a longer prefix.
 */
export function shortRunId(db: DatabaseSync, id: string, min = 8): string {
  const before = cached(db, 'SELECT id FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1').get(id) as { id: string } | undefined;
  const after = cached(db, 'SELECT id FROM runs WHERE id > ? ORDER BY id LIMIT 1').get(id) as { id: string } | undefined;
  let len = min;
  for (const other of [before?.id, after?.id]) {
    if (!other) continue;
    let common = 0;
    while (common < id.length && id[common] === other[common]) common++;
    len = Math.max(len, common + 1);
  }
  return id.slice(0, Math.min(len, id.length));
}

/** Whether a run of this workspace already has this name (names are unique per workspace). */
export function runNameTaken(db: DatabaseSync, workspaceRoot: string, name: string): RunRow | undefined {
  return cached(db, 'SELECT * FROM runs WHERE workspace_root = ? AND name = ? ORDER BY created_at DESC LIMIT 1').get(workspaceRoot, name) as RunRow | undefined;
}

/** Finds runs by exact id, unique id prefix, or name (newest first). */
export function findRuns(db: DatabaseSync, ref: string): RunRow[] {
  const exact = getRun(db, ref);
  if (exact) return [exact];
  const byPrefix = cached(db, "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC")
    .all(ref.replace(/[\\%_]/g, (c) => '\\' + c) + '%') as unknown as RunRow[];
  if (byPrefix.length > 0) return byPrefix;
  return cached(db, 'SELECT * FROM runs WHERE name = ? ORDER BY created_at DESC').all(ref) as unknown as RunRow[];
}

/**
 * Newest first, by id: run ids are UUIDv7, so their order is the order the runs were asked for,
 * and the primary key index serves a page without sorting the table (13 ms at 10,000 runs by
 * created_at, under 0.1 ms by id). `cursor` is the id of the last run of the previous page: the
 * page starts right after it (a run created since does not shift the pages).
 */
export function listRuns(db: DatabaseSync, filter: { status?: RunStatus[]; workspace?: string; limit?: number; cursor?: string } = {}): RunRow[] {
  const where: string[] = [];
  const params: Params = { limit: filter.limit ?? 1000 };
  if (filter.cursor !== undefined) {
    const at = getRun(db, filter.cursor);
    if (!at) throw new Error(`unknown cursor "${filter.cursor}": pass the full id of the last run of the previous page`);
    where.push('id < $cid');
    params.cid = at.id;
  }
  if (filter.status && filter.status.length > 0) {
    where.push(`status IN (${filter.status.map((_, i) => '$s' + i).join(', ')})`);
    filter.status.forEach((s, i) => (params['s' + i] = s));
  }
  if (filter.workspace) {
    where.push('workspace_root = $ws');
    params.ws = filter.workspace;
  }
  const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT $limit`;
  return cached(db, sql).all(params) as unknown as RunRow[];
}

export function countRuns(db: DatabaseSync, workspace: string): number {
  return (cached(db, 'SELECT COUNT(*) AS n FROM runs WHERE workspace_root = ?').get(workspace) as { n: number }).n;
}

/** Runs of the workspace holding an admission slot: RUNNING, or PAUSED with a step still in progress. */
export function workspaceSlotsTaken(db: DatabaseSync, workspace: string): number {
  const row = cached(db, 
      `SELECT COUNT(*) AS n FROM runs r WHERE r.workspace_root = ? AND (r.status = 'RUNNING'
         OR (r.status = 'PAUSED' AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'IN_PROGRESS')))`,
    )
    .get(workspace) as { n: number };
  return row.n;
}

export function runBranchTaken(db: DatabaseSync, workspaceRoot: string, branch: string): boolean {
  return cached(db, 'SELECT 1 FROM runs WHERE workspace_root = ? AND run_branch = ?').get(workspaceRoot, branch) !== undefined;
}

export function runStatusCounts(db: DatabaseSync): Record<RunStatus, number> {
  const counts: Record<RunStatus, number> = { PENDING: 0, RUNNING: 0, PAUSED: 0, COMPLETED: 0, FAILED: 0, CANCELED: 0 };
  const rows = cached(db, 'SELECT status, COUNT(*) AS n FROM runs GROUP BY status').all() as unknown as { status: RunStatus; n: number }[];
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** Ended runs whose file work (summary, mirror, cleanup) is still owed, newest first, paged by id. */
export function runsToFinalize(db: DatabaseSync, limit = 200, before?: string): RunRow[] {
  const where = "finalized_at IS NULL AND status IN ('COMPLETED', 'FAILED', 'CANCELED')";
  if (before === undefined) return cached(db, `SELECT * FROM runs WHERE ${where} ORDER BY id DESC LIMIT ?`).all(limit) as unknown as RunRow[];
  return cached(db, `SELECT * FROM runs WHERE ${where} AND id < ? ORDER BY id DESC LIMIT ?`).all(before, limit) as unknown as RunRow[];
}

export function markFinalized(tx: WriteTx, runId: string, now = Date.now()): void {
  cached(tx.db, 'UPDATE runs SET finalized_at = ? WHERE id = ?').run(now, runId);
}
