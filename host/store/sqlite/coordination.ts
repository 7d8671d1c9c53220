// Coordination rows (0005): rate-limit holds per agent kind and merge locks per target branch, so
// a restart (or another process) sees them.
import type { DatabaseSync } from 'node:sqlite';
import type { WriteTx } from './connection.js';
import type { AgentHoldRow, MergeLockRow } from './rows.js';
import { cached } from './connection.js';

export function agentHolds(db: DatabaseSync, now: number): AgentHoldRow[] {
  return cached(db, 'SELECT agent, until, run_id, step_id FROM agent_holds WHERE until > ? ORDER BY agent').all(now) as unknown as AgentHoldRow[];
}

/** Extends, never shortens, the hold on an agent kind. */
export function holdAgent(tx: WriteTx, h: AgentHoldRow): void {
  const now = Date.now();
  cached(tx.db, 
      `INSERT INTO agent_holds (agent, until, run_id, step_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (agent) DO UPDATE SET until = MAX(until, excluded.until), run_id = excluded.run_id,
         step_id = excluded.step_id, updated_at = excluded.updated_at`,
    )
    .run(h.agent, h.until, h.run_id, h.step_id, now, now);
}

export function mergeLocks(db: DatabaseSync): MergeLockRow[] {
  return cached(db, 'SELECT workspace_root, target_branch, step_id, created_at FROM merge_locks ORDER BY created_at').all() as unknown as MergeLockRow[];
}

/** True when the step holds the target's merge lock now (it may have held it already). */
export function takeMergeLock(tx: WriteTx, l: Omit<MergeLockRow, 'created_at'>, now = Date.now()): boolean {
  // A lock whose step ended (finished, failed, requeued after a crash) frees itself.
  cached(tx.db, 
      `DELETE FROM merge_locks WHERE workspace_root = ? AND target_branch = ? AND step_id IN
         (SELECT id FROM steps WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELED'))`,
    )
    .run(l.workspace_root, l.target_branch);
  cached(tx.db, 'INSERT INTO merge_locks (workspace_root, target_branch, step_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
    .run(l.workspace_root, l.target_branch, l.step_id, now);
  const holder = cached(tx.db, 'SELECT step_id FROM merge_locks WHERE workspace_root = ? AND target_branch = ?').get(l.workspace_root, l.target_branch) as
    | { step_id: number }
    | undefined;
  return holder?.step_id === l.step_id;
}

export function releaseMergeLock(tx: WriteTx, stepId: number): void {
  cached(tx.db, 'DELETE FROM merge_locks WHERE step_id = ?').run(stepId);
}
