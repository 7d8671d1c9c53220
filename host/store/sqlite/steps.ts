// The steps table, the durable queue: a step is queued, claimed, and finished by patches.
import type { DatabaseSync } from 'node:sqlite';
import type { StepPhase, StepStatus } from '../../../core/types.js';
import type { Params, WriteTx } from './connection.js';
import type { StepRow } from './rows.js';
import { cached } from './connection.js';

export function insertStep(
  tx: WriteTx,
  step: { run_id: string; phase: StepPhase; iteration: number; attempt: number; not_before?: number | null; input_json?: string | null },
): StepRow {
  const now = Date.now();
  const info = cached(tx.db, 
      `INSERT INTO steps (run_id, phase, status, iteration, attempt, not_before, input_json, created_at, updated_at)
       VALUES (?, ?, 'QUEUED', ?, ?, ?, ?, ?, ?)`,
    )
    .run(step.run_id, step.phase, step.iteration, step.attempt, step.not_before ?? null, step.input_json ?? null, now, now);
  return getStep(tx.db, Number(info.lastInsertRowid))!;
}

export function getStep(db: DatabaseSync, id: number): StepRow | undefined {
  return cached(db, 'SELECT * FROM steps WHERE id = ?').get(id) as StepRow | undefined;
}

export function stepsForRun(db: DatabaseSync, runId: string): StepRow[] {
  return cached(db, 'SELECT * FROM steps WHERE run_id = ? ORDER BY id').all(runId) as unknown as StepRow[];
}

export function stepsWithStatus(db: DatabaseSync, statuses: StepStatus[]): StepRow[] {
  return cached(db, `SELECT * FROM steps WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY id`).all(...statuses) as unknown as StepRow[];
}

export function updateStep(tx: WriteTx, id: number, patch: Partial<Omit<StepRow, 'id' | 'run_id' | 'created_at'>>): StepRow {
  const fields = { ...patch, updated_at: Date.now() };
  const sets = Object.keys(fields).map((k) => `${k} = $${k}`);
  cached(tx.db, `UPDATE steps SET ${sets.join(', ')} WHERE id = $id`).run({ ...(fields as Params), id });
  return getStep(tx.db, id)!;
}

/** Cancels the run's QUEUED steps (the run ended before they started). */
export function cancelQueuedSteps(tx: WriteTx, runId: string, now: number): void {
  for (const s of stepsForRun(tx.db, runId)) {
    if (s.status === 'QUEUED') updateStep(tx, s.id, { status: 'CANCELED', ended_at: now });
  }
}
