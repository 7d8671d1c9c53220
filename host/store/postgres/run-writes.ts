// A PostgreSQL transaction's writes to runs and what hangs off them: events (numbered by one
// BIGSERIAL, announced by a NOTIFY delivered at COMMIT), the run's status changes, its truth and
// ledger. Steps and coordination are in ./tx.ts.
import type { Completion } from '../../../core/completion.js';
import type { EventPayloads, EventType } from '../../../core/events.js';
import type { LedgerTask } from '../../../core/ledger.js';
import type { Client } from '../../pg/connect.js';
import { EVENTS_CHANNEL } from '../../pg/events.js';
import type { PublishedEvent as EventRow } from '../../bus.js';
import type { EventRecord, NewRun, RunRecord, StepOutcome, StepRecord } from '../types.js';
import { type Row, runRecord, stepRecord, EVENT_COLS, eventRecord, one } from './rows.js';
import { PgReads } from './reads.js';

export class PgRunWrites extends PgReads {
  readonly events: EventRow[] = [];

  constructor(
    db: Client,
    protected readonly leaseTtlMs: number,
    protected readonly hostId: string | null,
  ) {
    super(db);
  }

  protected async step(sql: string, params: unknown[]): Promise<StepRecord | null> {
    const s = await one(this.db, sql, params);
    return s ? stepRecord(s) : null;
  }
  protected async run(sql: string, params: unknown[]): Promise<RunRecord> {
    const r = await one(this.db, sql, params);
    if (!r) throw new Error(`run ${String(params[0])} not found`);
    return runRecord(r);
  }

  async appendEvent<K extends EventType>(runId: string | null, stepId: number | null, type: K, payload: EventPayloads[K], workspace: string | null = null): Promise<EventRecord> {
    // The transaction id first, so a reader that sees a gap before this number sees this
    // transaction running (host/pg/event-horizon.ts), not yet unborn.
    if (this.events.length === 0) await this.db.query('SELECT pg_current_xact_id()');
    const e = (await this.db.query<EventRow>(
      `INSERT INTO events (run_id, step_id, workspace_root, host_id, type, ts, payload_json, created_at, updated_at)
       VALUES ($1, $2, COALESCE($3, (SELECT workspace_root FROM runs WHERE id = $1)), $7, $4, $5, $6, $5, $5) RETURNING ${EVENT_COLS}`,
      [runId, stepId, workspace, type, Date.now(), JSON.stringify(payload ?? {}), this.hostId],
    )).rows[0]!;
    await this.db.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(e.seq)]);
    this.events.push(e);
    return eventRecord(e);
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const { config, ...rest } = run;
    const now = Date.now();
    const row: Row = { ...rest, agent: String(config.agent ?? 'claude'), config_json: JSON.stringify(config), created_at: now, updated_at: now };
    const cols = Object.keys(row);
    const r = await one(this.db, `INSERT INTO runs (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`, cols.map((c) => row[c]));
    return runRecord(r!);
  }

  async admitRun(runId: string, now: number): Promise<RunRecord | null> {
    const r = await one(this.db, `UPDATE runs SET status = 'RUNNING', started_at = COALESCE(started_at, $2), updated_at = $2 WHERE id = $1 AND status = 'PENDING' RETURNING *`, [runId, now]);
    return r ? runRecord(r) : null;
  }
  async pauseRun(runId: string, reason: string): Promise<RunRecord> {
    return this.run(`UPDATE runs SET status = 'PAUSED', pause_reason = $2, updated_at = $3 WHERE id = $1 RETURNING *`, [runId, reason, Date.now()]);
  }
  async resumeRun(runId: string, config?: Record<string, unknown>): Promise<RunRecord> {
    return this.run(`UPDATE runs SET status = 'PENDING', pause_reason = NULL, config_json = COALESCE($2, config_json), updated_at = $3 WHERE id = $1 RETURNING *`, [runId, config ? JSON.stringify(config) : null, Date.now()]);
  }
  async requestCancel(runId: string): Promise<RunRecord> {
    return this.run('UPDATE runs SET cancel_requested = 1, updated_at = $2 WHERE id = $1 RETURNING *', [runId, Date.now()]);
  }
  async chargeRun(runId: string, charge: { usage: StepOutcome['usage']; error: string | null; worktreePath?: string }): Promise<RunRecord> {
    const u = charge.usage;
    return this.run(
      `UPDATE runs SET cost_usd = cost_usd + $2, input_tokens = input_tokens + $3, output_tokens = output_tokens + $4,
              last_error = COALESCE($5, last_error), worktree_path = COALESCE($6, worktree_path), updated_at = $7
        WHERE id = $1 RETURNING *`,
      [runId, u?.costUsd ?? 0, u?.inputTokens ?? 0, u?.outputTokens ?? 0, charge.error, charge.worktreePath ?? null, Date.now()],
    );
  }
  async finishRun(runId: string, status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: string, error: string | null, now: number): Promise<RunRecord> {
    await this.db.query(`UPDATE steps SET status = 'CANCELED', ended_at = $2, updated_at = $2 WHERE run_id = $1 AND status = 'QUEUED'`, [runId, now]);
    return this.run('UPDATE runs SET status = $2, exit_reason = $3, ended_at = $4, last_error = $5, updated_at = $4 WHERE id = $1 RETURNING *', [runId, status, reason, now, error]);
  }
  async markFinalized(runId: string, now: number): Promise<void> {
    await this.db.query('UPDATE runs SET finalized_at = $2 WHERE id = $1', [runId, now]);
  }

  async recordRunTruth(runId: string, specText: string, planText: string | null): Promise<void> {
    const now = Date.now();
    await this.db.query(
      'INSERT INTO run_truth (run_id, spec_text, plan_text, completion, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, $4) ON CONFLICT (run_id) DO NOTHING',
      [runId, specText, planText, now],
    );
  }
  async setCompletion(runId: string, completion: Completion): Promise<void> {
    await this.db.query('UPDATE run_truth SET completion = $2, updated_at = $3 WHERE run_id = $1', [runId, completion, Date.now()]);
  }
  async saveLedger(runId: string, tasks: readonly LedgerTask[]): Promise<void> {
    const now = Date.now();
    for (const t of tasks) {
      await this.db.query(
        `INSERT INTO ledger_tasks (run_id, task_id, text, line, section, ord, state, done_before_run, added_iteration, ticked_iteration, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (run_id, task_id) DO UPDATE SET text = EXCLUDED.text, line = EXCLUDED.line, section = EXCLUDED.section, ord = EXCLUDED.ord,
           state = EXCLUDED.state, done_before_run = EXCLUDED.done_before_run, added_iteration = EXCLUDED.added_iteration,
           ticked_iteration = EXCLUDED.ticked_iteration, updated_at = EXCLUDED.updated_at`,
        [runId, t.taskId, t.text, t.line, t.section, t.ord, t.state, t.doneBeforeRun ? 1 : 0, t.addedIteration, t.tickedIteration, now],
      );
    }
  }
}
