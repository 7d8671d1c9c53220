// The run truth (the spec and plan texts a run was started from, how completion was proven) and
// the task ledger parsed from them.
import type { DatabaseSync } from 'node:sqlite';
import type { LedgerState, LedgerTask } from '../../../core/ledger.js';
import type { WriteTx } from './connection.js';
import { cached } from './connection.js';

export interface RunTruthRow {
  spec_text: string;
  plan_text: string | null;
  completion: string | null;
}

interface LedgerRow {
  task_id: number;
  text: string;
  line: string;
  section: string | null;
  ord: number;
  state: LedgerState;
  done_before_run: number;
  added_iteration: number | null;
  ticked_iteration: number | null;
}

export function insertRunTruth(tx: WriteTx, runId: string, specText: string, planText: string | null): void {
  const now = Date.now();
  cached(tx.db, 'INSERT OR IGNORE INTO run_truth (run_id, spec_text, plan_text, completion, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?)')
    .run(runId, specText, planText, now, now);
}

export function getRunTruth(db: DatabaseSync, runId: string): RunTruthRow | undefined {
  return cached(db, 'SELECT spec_text, plan_text, completion FROM run_truth WHERE run_id = ?').get(runId) as RunTruthRow | undefined;
}

export function setCompletion(tx: WriteTx, runId: string, completion: 'complete_token' | 'complete_facts'): void {
  cached(tx.db, 'UPDATE run_truth SET completion = ?, updated_at = ? WHERE run_id = ?').run(completion, Date.now(), runId);
}

export function ledgerFor(db: DatabaseSync, runId: string): LedgerTask[] {
  const rows = cached(db, 'SELECT * FROM ledger_tasks WHERE run_id = ? ORDER BY ord, task_id').all(runId) as unknown as LedgerRow[];
  return rows.map((r) => ({
    taskId: r.task_id,
    text: r.text,
    line: r.line,
    section: r.section,
    ord: r.ord,
    state: r.state,
    doneBeforeRun: r.done_before_run === 1,
    addedIteration: r.added_iteration,
    tickedIteration: r.ticked_iteration,
  }));
}

/** Task counts of a run's ledger, or null when the run has none (plan-less, or older runs). */
export function ledgerSummary(db: DatabaseSync, runId: string): { total: number; open: number; completion: string | null } | null {
  const row = cached(db, 
      `SELECT COUNT(*) AS total, COALESCE(SUM(state IN ('open','blocked')), 0) AS open,
         (SELECT completion FROM run_truth WHERE run_id = ?) AS completion
       FROM ledger_tasks WHERE run_id = ?`,
    )
    .get(runId, runId) as { total: number; open: number; completion: string | null } | undefined;
  if (!row) return null;
  return row.total > 0 ? row : row.completion ? { total: 0, open: 0, completion: row.completion } : null;
}

/** Writes the whole ledger of a run; tasks are never deleted, so this is an upsert. */
export function saveLedger(tx: WriteTx, runId: string, tasks: readonly LedgerTask[]): void {
  const now = Date.now();
  const stmt = cached(tx.db, 
    `INSERT INTO ledger_tasks (run_id, task_id, text, line, section, ord, state, done_before_run, added_iteration, ticked_iteration, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, task_id) DO UPDATE SET text = excluded.text, line = excluded.line, section = excluded.section, ord = excluded.ord,
       state = excluded.state, done_before_run = excluded.done_before_run, added_iteration = excluded.added_iteration,
       ticked_iteration = excluded.ticked_iteration, updated_at = excluded.updated_at`,
  );
  for (const t of tasks) {
    stmt.run(runId, t.taskId, t.text, t.line, t.section, t.ord, t.state, t.doneBeforeRun ? 1 : 0, t.addedIteration, t.tickedIteration, now, now);
  }
}
