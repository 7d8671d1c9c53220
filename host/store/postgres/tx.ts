// A PostgreSQL transaction's step and coordination writes: claims with a lease on the database
// clock (SKIP LOCKED), fenced finishes, the workspace admission lock, agent holds, merge locks,
// artifacts, workspaces, spec files and reviews. One connection from the pool per transaction.
import type { StepResultFacts } from '../../../core/results.js';
import { claimSpecChange } from '../../pg/triggers.js';
import type { AgentHold, ArtifactRecord, MergeLock, QueueStep, ReviewDecision, ReviewRecord, SpecFileRecord, SpecChangeClaim, SpecFileUpsert, StepOutcome, StepProcess, StepRecord, StoreTx, RunRecord, WorkspaceRecord } from '../types.js';
import { workspaceRecord, reviewRecord, one } from './rows.js';
import { PgRunWrites } from './run-writes.js';

export class PgTx extends PgRunWrites implements StoreTx {
  private placing = false;

  /**
   * Name and branch are picked by reading what is taken, then inserted: two transactions of one
   * workspace (one host's concurrent creates, or two hosts') take turns from the first such read
   * to COMMIT, as SQLite's one writer makes them, so neither picks what the other is inserting.
   */
  private async placementLock(workspaceRoot: string): Promise<void> {
    if (this.placing) return;
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('place:' || $1, 0))`, [workspaceRoot]);
    this.placing = true;
  }
  override async runNameTaken(workspaceRoot: string, name: string): Promise<RunRecord | undefined> {
    await this.placementLock(workspaceRoot);
    return super.runNameTaken(workspaceRoot, name);
  }
  override async runBranchTaken(workspaceRoot: string, branch: string): Promise<boolean> {
    await this.placementLock(workspaceRoot);
    return super.runBranchTaken(workspaceRoot, branch);
  }

  async queueStep(step: QueueStep): Promise<StepRecord> {
    const now = Date.now();
    return (await this.step(
      `INSERT INTO steps (run_id, phase, status, iteration, attempt, not_before, input_json, created_at, updated_at)
       VALUES ($1, $2, 'QUEUED', $3, $4, $5, $6, $7, $7) RETURNING *`,
      [step.run_id, step.phase, step.iteration, step.attempt, step.not_before ?? null, step.input ? JSON.stringify(step.input) : null, now],
    ))!;
  }
  async claimStep(stepId: number, owner: string, now: number): Promise<StepRecord | null> {
    // SKIP LOCKED: a step another host is claiming right now is passed over at once (null), not
    // waited for; whichever transaction locked it first decides.
    return this.step(
      `UPDATE steps SET status = 'IN_PROGRESS', started_at = $3, lease_owner = $2, lease_epoch = lease_epoch + 1,
              lease_expires_at = loopd_now_ms() + $4, updated_at = $3
        WHERE id = (SELECT id FROM steps WHERE id = $1 AND status = 'QUEUED' FOR UPDATE SKIP LOCKED) RETURNING *`,
      [stepId, owner, now, this.leaseTtlMs],
    );
  }
  async recordProcessIntent(stepId: number, p: StepProcess): Promise<void> {
    await this.db.query('UPDATE steps SET pid = NULL, pid_start = NULL, pid_nonce = $2, exit_path = $3, output_path = $4, process_json = $5, updated_at = $6 WHERE id = $1', [stepId, p.nonce, p.exitPath, p.logPath, JSON.stringify(p), Date.now()]);
  }
  async recordProcessStarted(stepId: number, p: StepProcess & { pid: number; startTime: string }): Promise<void> {
    await this.db.query('UPDATE steps SET pid = $2, pid_start = $3, pid_nonce = $4, exit_path = $5, output_path = $6, process_json = $7, updated_at = $8 WHERE id = $1', [stepId, p.pid, p.startTime, p.nonce, p.exitPath, p.logPath, JSON.stringify(p), Date.now()]);
  }
  async finishStep(stepId: number, o: StepOutcome, now: number): Promise<StepRecord | null> {
    const u = o.usage;
    const done = await this.step(
      `UPDATE steps SET status = $2, exit_code = $3, result_json = $4, error = $5, prompt_path = COALESCE($6, prompt_path),
              output_path = COALESCE($7, output_path), ended_at = $8, updated_at = $8, lease_expires_at = NULL,
              cost_usd = COALESCE($9, cost_usd), input_tokens = COALESCE($10, input_tokens), output_tokens = COALESCE($11, output_tokens),
              cost_source = COALESCE($12, cost_source)
        WHERE id = $1 AND status = 'IN_PROGRESS' AND (lease_expires_at IS NULL OR lease_expires_at > loopd_now_ms())
        RETURNING *`,
      [stepId, o.status, o.exit_code, JSON.stringify(o.result), o.error, o.prompt_path, o.output_path, now, u?.costUsd ?? null, u?.inputTokens ?? null, u?.outputTokens ?? null, u?.costSource ?? null],
    );
    return done;
  }
  async failStep(stepId: number, error: string, result: StepResultFacts | null, now: number): Promise<StepRecord | null> {
    return this.step(
      `UPDATE steps SET status = 'FAILED', error = $2, ended_at = $3, updated_at = $3, lease_expires_at = NULL, result_json = COALESCE($4, result_json)
        WHERE id = $1 AND status IN ('QUEUED', 'IN_PROGRESS') RETURNING *`,
      [stepId, error, now, result ? JSON.stringify(result) : null],
    );
  }

  async workspaceSlotsTaken(workspace: string): Promise<number> {
    // The same key as host/pg/leases.ts admitRuns, so every admitter of the workspace takes turns.
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('admit:' || $1, 0))`, [workspace]);
    const row = await one(
      this.db,
      `SELECT count(*)::int AS n FROM runs r WHERE r.workspace_root = $1 AND (r.status = 'RUNNING'
          OR (r.status = 'PAUSED' AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'IN_PROGRESS')))`,
      [workspace],
    );
    return Number(row?.n ?? 0);
  }
  async holdAgent(h: AgentHold): Promise<void> {
    const now = Date.now();
    await this.db.query(
      `INSERT INTO agent_holds (agent, until, run_id, step_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (agent) DO UPDATE SET until = GREATEST(agent_holds.until, EXCLUDED.until), run_id = EXCLUDED.run_id,
         step_id = EXCLUDED.step_id, updated_at = EXCLUDED.updated_at`,
      [h.agent, h.until, h.run_id, h.step_id, now],
    );
  }
  async takeMergeLock(lock: Omit<MergeLock, 'created_at'>, now: number): Promise<boolean> {
    // A lock whose step ended (finished, failed, requeued after a crash or an expired lease) frees itself.
    await this.db.query(
      `DELETE FROM merge_locks WHERE workspace_root = $1 AND target_branch = $2
          AND step_id IN (SELECT id FROM steps WHERE status IN ('SUCCEEDED','FAILED','CANCELED'))`,
      [lock.workspace_root, lock.target_branch],
    );
    await this.db.query(
      'INSERT INTO merge_locks (workspace_root, target_branch, step_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [lock.workspace_root, lock.target_branch, lock.step_id, now],
    );
    const held = await one(this.db, 'SELECT step_id FROM merge_locks WHERE workspace_root = $1 AND target_branch = $2', [lock.workspace_root, lock.target_branch]);
    return held?.step_id === lock.step_id;
  }
  async releaseMergeLock(stepId: number): Promise<void> {
    await this.db.query('DELETE FROM merge_locks WHERE step_id = $1', [stepId]);
  }

  async recordArtifact(a: Omit<ArtifactRecord, 'id'>): Promise<void> {
    const now = Date.now();
    await this.db.query(
      `INSERT INTO artifacts (run_id, step_id, kind, location, path, checksum, bytes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
       ON CONFLICT (run_id, location, path) DO UPDATE SET checksum = EXCLUDED.checksum, bytes = EXCLUDED.bytes, step_id = EXCLUDED.step_id,
         kind = EXCLUDED.kind, updated_at = EXCLUDED.updated_at`,
      [a.run_id, a.step_id, a.kind, a.location, a.path, a.checksum, a.bytes, now],
    );
  }
  async ensureWorkspace(root: string): Promise<void> {
    const now = Date.now();
    await this.db.query('INSERT INTO workspaces (root, watched, created_at, updated_at) VALUES ($1, 0, $2, $2) ON CONFLICT (root) DO NOTHING', [root, now]);
  }
  async setWatched(root: string, watched: boolean): Promise<WorkspaceRecord> {
    await this.ensureWorkspace(root);
    const w = await one(this.db, 'UPDATE workspaces SET watched = $2, updated_at = $3 WHERE root = $1 RETURNING *', [root, watched ? 1 : 0, Date.now()]);
    return workspaceRecord(w!);
  }
  async upsertSpecFile(row: SpecFileUpsert): Promise<SpecFileRecord> {
    const now = Date.now();
    const keep = row.last_run_id === undefined;
    return (await one(
      this.db,
      `INSERT INTO spec_files (workspace_root, path, content_hash, status, last_run_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (workspace_root, path) DO UPDATE SET content_hash = EXCLUDED.content_hash, status = EXCLUDED.status,
         last_run_id = CASE WHEN $7 THEN spec_files.last_run_id ELSE EXCLUDED.last_run_id END, updated_at = EXCLUDED.updated_at
       RETURNING *`,
      [row.workspace_root, row.path, row.content_hash, row.status, row.last_run_id ?? null, now, keep],
    )) as unknown as SpecFileRecord;
  }
  async claimSpecChange(claim: SpecChangeClaim): Promise<boolean> {
    return claimSpecChange(this.db, claim);
  }
  async putReview(runId: string, status: ReviewDecision, actor: string, detail: Record<string, unknown>): Promise<ReviewRecord> {
    const now = Date.now();
    const r = await one(
      this.db,
      `INSERT INTO run_reviews (run_id, status, actor, detail_json, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, actor = EXCLUDED.actor, detail_json = EXCLUDED.detail_json, updated_at = EXCLUDED.updated_at
       RETURNING *`,
      [runId, status, actor, JSON.stringify(detail), now],
    );
    return reviewRecord(r!);
  }
}
