// The LoopStore interface on PostgreSQL, for several hosts sharing one database (docs/scaling.md).
// Each transaction is one connection from the pool; transactions of one host and of other hosts
// run concurrently and meet in row locks, so every named transition is one conditional UPDATE
// (admit only a PENDING run, claim only a QUEUED step...) whose RETURNING says whether it won.
// Events get their sequence number from one BIGSERIAL and a NOTIFY that PostgreSQL delivers at
// COMMIT; this host's own bus is fed after COMMIT too, like the SQLite store.
//
// Leases: claimStep stamps lease_epoch + 1 and an expiry on the database clock (leaseTtlMs), and
// finishStep lands only on an IN_PROGRESS step whose lease has not expired. A requeued attempt is
// a new row, so a step id never changes hands: a late finish from a host whose lease expired finds
// its row FAILED (LEASE_EXPIRED) or expired, and gets null. Heartbeats and reaping are in
// host/pg/leases.ts and host/pg/cluster-host.ts.
import type { Completion } from '../../core/completion.js';
import type { EventPayloads, EventType } from '../../core/events.js';
import type { LedgerState, LedgerTask } from '../../core/ledger.js';
import type { StepResultFacts } from '../../core/results.js';
import type { RunStatus, StepStatus } from '../../core/types.js';
import { openPool, type Client, type Pool } from '../pg/connect.js';
import { EVENTS_CHANNEL } from '../pg/events.js';
import { EventHorizon } from '../pg/event-horizon.js';
import { migratePg } from '../pg/migrate.js';
import { claimSpecChange } from '../pg/triggers.js';
import type { PublishedEvent as EventRow } from '../bus.js';
import type {
  AgentHold,
  ArtifactRecord,
  EventFilter,
  EventRecord,
  LoopStore,
  MergeLock,
  NewRun,
  QueueStep,
  ReviewDecision,
  ReviewRecord,
  RunFilter,
  RunRecord,
  RunTruth,
  SpecFileRecord,
  SpecChangeClaim,
  SpecFileUpsert,
  StepInputFacts,
  StepOutcome,
  StepProcess,
  StepRecord,
  StoreTx,
  WorkspaceRecord,
} from './types.js';

type Db = Pick<Pool | Client, 'query'>;
type Row = Record<string, unknown>;

const json = <T>(text: unknown): T | null => (typeof text === 'string' && text ? (JSON.parse(text) as T) : null);

function runRecord(r: Row): RunRecord {
  const { config_json, cancel_requested, agent: _agent, ...rest } = r;
  return { ...(rest as Omit<RunRecord, 'config' | 'cancel_requested'>), config: json<Record<string, unknown>>(config_json) ?? {}, cancel_requested: cancel_requested !== 0 };
}

function stepRecord(s: Row): StepRecord {
  const { result_json, process_json, input_json, lease_epoch: _e, lease_expires_at: _x, ...rest } = s;
  return {
    ...(rest as Omit<StepRecord, 'result' | 'process' | 'input'>),
    result: json<StepResultFacts>(result_json),
    process: json<StepProcess>(process_json),
    input: json<StepInputFacts>(input_json),
  };
}

const EVENT_COLS = 'seq, run_id, step_id, workspace_root, type, ts, payload_json';

function eventRecord(e: EventRow): EventRecord {
  return { seq: e.seq, runId: e.run_id, stepId: e.step_id, workspaceRoot: e.workspace_root, ts: e.ts, type: e.type, payload: json<Record<string, unknown>>(e.payload_json) ?? {} } as EventRecord;
}

const workspaceRecord = (w: Row): WorkspaceRecord => ({ ...(w as Omit<WorkspaceRecord, 'watched'>), watched: w.watched !== 0 });
const reviewRecord = (r: Row): ReviewRecord => {
  const { detail_json, ...rest } = r;
  return { ...(rest as Omit<ReviewRecord, 'detail'>), detail: json<Record<string, unknown>>(detail_json) ?? {} };
};

async function one(db: Db, sql: string, params: unknown[] = []): Promise<Row | undefined> {
  return (await db.query<Row>(sql, params)).rows[0];
}
async function all(db: Db, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await db.query<Row>(sql, params)).rows;
}

class PgReads {
  constructor(protected readonly db: Db) {}

  async getRun(id: string): Promise<RunRecord | undefined> {
    const r = await one(this.db, 'SELECT * FROM runs WHERE id = $1', [id]);
    return r ? runRecord(r) : undefined;
  }
  async findRuns(ref: string): Promise<RunRecord[]> {
    const exact = await this.getRun(ref);
    if (exact) return [exact];
    const byPrefix = await all(this.db, `SELECT * FROM runs WHERE id LIKE $1 ESCAPE '\\' ORDER BY created_at DESC`, [ref.replace(/[\\%_]/g, (c) => '\\' + c) + '%']);
    if (byPrefix.length > 0) return byPrefix.map(runRecord);
    return (await all(this.db, 'SELECT * FROM runs WHERE name = $1 ORDER BY created_at DESC', [ref])).map(runRecord);
  }
  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.cursor !== undefined) {
      if (!(await this.getRun(filter.cursor))) throw new Error(`unknown cursor "${filter.cursor}": pass the full id of the last run of the previous page`);
      params.push(filter.cursor);
      where.push(`id < $${params.length}`);
    }
    if (filter.status && filter.status.length > 0) {
      params.push(filter.status);
      where.push(`status = ANY($${params.length}::text[])`);
    }
    if (filter.workspace) {
      params.push(filter.workspace);
      where.push(`workspace_root = $${params.length}`);
    }
    params.push(filter.limit ?? 1000);
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT $${params.length}`;
    return (await all(this.db, sql, params)).map(runRecord);
  }
  async countRuns(workspace: string): Promise<number> {
    return Number((await one(this.db, 'SELECT count(*)::int AS n FROM runs WHERE workspace_root = $1', [workspace]))?.n ?? 0);
  }
  async runStatusCounts(): Promise<Record<RunStatus, number>> {
    const counts: Record<RunStatus, number> = { PENDING: 0, RUNNING: 0, PAUSED: 0, COMPLETED: 0, FAILED: 0, CANCELED: 0 };
    for (const r of await all(this.db, 'SELECT status, count(*)::int AS n FROM runs GROUP BY status')) counts[r.status as RunStatus] = r.n as number;
    return counts;
  }
  async runBranchTaken(workspaceRoot: string, branch: string): Promise<boolean> {
    return (await one(this.db, 'SELECT 1 AS x FROM runs WHERE workspace_root = $1 AND run_branch = $2', [workspaceRoot, branch])) !== undefined;
  }
  async shortRunId(id: string, min = 8): Promise<string> {
    // Only the neighbours in id order can share a longer prefix than any other run.
    const before = await one(this.db, 'SELECT id FROM runs WHERE id < $1 ORDER BY id DESC LIMIT 1', [id]);
    const after = await one(this.db, 'SELECT id FROM runs WHERE id > $1 ORDER BY id LIMIT 1', [id]);
    let len = min;
    for (const other of [before?.id, after?.id]) {
      if (typeof other !== 'string') continue;
      let common = 0;
      while (common < id.length && id[common] === other[common]) common++;
      len = Math.max(len, common + 1);
    }
    return id.slice(0, Math.min(len, id.length));
  }
  async runNameTaken(workspaceRoot: string, name: string): Promise<RunRecord | undefined> {
    const r = await one(this.db, 'SELECT * FROM runs WHERE workspace_root = $1 AND name = $2 ORDER BY created_at DESC LIMIT 1', [workspaceRoot, name]);
    return r ? runRecord(r) : undefined;
  }
  async runsToFinalize(limit = 200, before?: string): Promise<RunRecord[]> {
    const where = `finalized_at IS NULL AND status IN ('COMPLETED','FAILED','CANCELED')`;
    const rows =
      before === undefined
        ? await all(this.db, `SELECT * FROM runs WHERE ${where} ORDER BY id DESC LIMIT $1`, [limit])
        : await all(this.db, `SELECT * FROM runs WHERE ${where} AND id < $2 ORDER BY id DESC LIMIT $1`, [limit, before]);
    return rows.map(runRecord);
  }
  async getStep(id: number): Promise<StepRecord | undefined> {
    const s = await one(this.db, 'SELECT * FROM steps WHERE id = $1', [id]);
    return s ? stepRecord(s) : undefined;
  }
  async stepsForRun(runId: string): Promise<StepRecord[]> {
    return (await all(this.db, 'SELECT * FROM steps WHERE run_id = $1 ORDER BY id', [runId])).map(stepRecord);
  }
  async stepsWithStatus(statuses: StepStatus[]): Promise<StepRecord[]> {
    return (await all(this.db, 'SELECT * FROM steps WHERE status = ANY($1::text[]) ORDER BY id', [statuses])).map(stepRecord);
  }
  async eventsAfter(filter: EventFilter): Promise<EventRecord[]> {
    return this.readEvents(filter, null);
  }
  /** Events after the filter's cursor, up to `upTo` when given (the settled horizon). */
  protected async readEvents(filter: EventFilter, upTo: number | null): Promise<EventRecord[]> {
    const rows = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLS} FROM events WHERE seq > $1 AND ($2::text IS NULL OR run_id = $2) AND ($3::text IS NULL OR workspace_root = $3)
          AND ($5::bigint IS NULL OR seq <= $5)
        ORDER BY seq LIMIT $4`,
      [filter.afterSeq ?? 0, filter.runId ?? null, filter.workspace ?? null, filter.limit ?? 1000, upTo],
    );
    return rows.rows.map(eventRecord);
  }
  async eventsWindowStart(filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }): Promise<number> {
    const scope = '($1::text IS NULL OR run_id = $1) AND ($2::text IS NULL OR workspace_root = $2)';
    const params = [filter.runId ?? null, filter.workspace ?? null];
    let cursor = 0;
    if (window.last !== undefined) {
      const row = await one(this.db, `SELECT seq FROM events WHERE ${scope} ORDER BY seq DESC LIMIT 1 OFFSET $3`, [...params, window.last]);
      cursor = Math.max(cursor, Number(row?.seq ?? 0));
    }
    if (window.since !== undefined) {
      // Events are appended with the writer's Date.now(), so ts grows with seq (give or take the
      // hosts' clock skew): the window starts after the last event older than `since`.
      const row = await one(this.db, `SELECT max(seq) AS s FROM events WHERE ${scope} AND ts < $3`, [...params, window.since]);
      cursor = Math.max(cursor, Number(row?.s ?? 0));
    }
    return cursor;
  }
  async lastEventSeq(): Promise<number> {
    return Number((await one(this.db, 'SELECT COALESCE(max(seq), 0) AS s FROM events'))?.s ?? 0);
  }
  async artifactsForRun(runId: string): Promise<ArtifactRecord[]> {
    return (await all(this.db, 'SELECT id, run_id, step_id, kind, location, path, checksum, bytes FROM artifacts WHERE run_id = $1 ORDER BY id', [runId])) as unknown as ArtifactRecord[];
  }
  async getWorkspace(root: string): Promise<WorkspaceRecord | undefined> {
    const w = await one(this.db, 'SELECT * FROM workspaces WHERE root = $1', [root]);
    return w ? workspaceRecord(w) : undefined;
  }
  async listWorkspaces(filter: { watched?: boolean } = {}): Promise<WorkspaceRecord[]> {
    const rows = filter.watched === undefined
      ? await all(this.db, 'SELECT * FROM workspaces ORDER BY root')
      : await all(this.db, 'SELECT * FROM workspaces WHERE watched = $1 ORDER BY root', [filter.watched ? 1 : 0]);
    return rows.map(workspaceRecord);
  }
  async getSpecFile(root: string, path: string): Promise<SpecFileRecord | undefined> {
    return (await one(this.db, 'SELECT * FROM spec_files WHERE workspace_root = $1 AND path = $2', [root, path])) as SpecFileRecord | undefined;
  }
  async listSpecFiles(root: string): Promise<SpecFileRecord[]> {
    return (await all(this.db, 'SELECT * FROM spec_files WHERE workspace_root = $1 ORDER BY path', [root])) as unknown as SpecFileRecord[];
  }
  async getReview(runId: string): Promise<ReviewRecord | undefined> {
    const r = await one(this.db, 'SELECT * FROM run_reviews WHERE run_id = $1', [runId]);
    return r ? reviewRecord(r) : undefined;
  }
  async getRunTruth(runId: string): Promise<RunTruth | undefined> {
    return (await one(this.db, 'SELECT spec_text, plan_text, completion FROM run_truth WHERE run_id = $1', [runId])) as RunTruth | undefined;
  }
  async ledgerFor(runId: string): Promise<LedgerTask[]> {
    return (await all(this.db, 'SELECT * FROM ledger_tasks WHERE run_id = $1 ORDER BY ord, task_id', [runId])).map((r) => ({
      taskId: r.task_id as number,
      text: r.text as string,
      line: r.line as string,
      section: r.section as string | null,
      ord: r.ord as number,
      state: r.state as LedgerState,
      doneBeforeRun: r.done_before_run === 1,
      addedIteration: r.added_iteration as number | null,
      tickedIteration: r.ticked_iteration as number | null,
    }));
  }
  async ledgerSummary(runId: string): Promise<{ total: number; open: number; completion: string | null } | null> {
    const row = (await one(
      this.db,
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE state IN ('open','blocked'))::int AS open,
              (SELECT completion FROM run_truth WHERE run_id = $1) AS completion
         FROM ledger_tasks WHERE run_id = $1`,
      [runId],
    )) as { total: number; open: number; completion: string | null } | undefined;
    if (!row) return null;
    return row.total > 0 ? row : row.completion ? { total: 0, open: 0, completion: row.completion } : null;
  }
  async agentHolds(now: number): Promise<AgentHold[]> {
    return (await all(this.db, 'SELECT agent, until, run_id, step_id FROM agent_holds WHERE until > $1 ORDER BY agent', [now])) as unknown as AgentHold[];
  }
  async mergeLocks(): Promise<MergeLock[]> {
    return (await all(this.db, 'SELECT workspace_root, target_branch, step_id, created_at FROM merge_locks ORDER BY created_at, step_id')) as unknown as MergeLock[];
  }
}

class PgTx extends PgReads implements StoreTx {
  readonly events: EventRow[] = [];

  constructor(
    db: Client,
    private readonly leaseTtlMs: number,
    private readonly hostId: string | null,
  ) {
    super(db);
  }

  private async step(sql: string, params: unknown[]): Promise<StepRecord | null> {
    const s = await one(this.db, sql, params);
    return s ? stepRecord(s) : null;
  }
  private async run(sql: string, params: unknown[]): Promise<RunRecord> {
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

export interface PgStoreOptions {
  url: string;
  /** Receives this host's events after COMMIT (other hosts' events arrive by LISTEN/NOTIFY). */
  bus?: { publish(ev: EventRow): void } | null;
  leaseTtlMs?: number;
  poolSize?: number;
  /** Written on this host's events (events.host_id), so a host tells its own from the others'. */
  hostId?: string | null;
}

export class PgStore extends PgReads implements LoopStore {
  private readonly horizon: EventHorizon;

  private constructor(
    private readonly pool: Pool,
    private readonly o: PgStoreOptions,
  ) {
    super(pool);
    this.horizon = new EventHorizon(pool);
  }

  /** Outside a transaction, events are read up to the settled horizon only, so a cursor never skips one still committing. */
  override async eventsAfter(filter: EventFilter): Promise<EventRecord[]> {
    return this.readEvents(filter, await this.horizon.settled());
  }
  override async lastEventSeq(): Promise<number> {
    return this.horizon.settled();
  }

  /** Connects, applies the PostgreSQL migrations (refusing a newer schema) and returns the store. */
  static async open(o: PgStoreOptions): Promise<PgStore> {
    const pool = openPool(o.url, o.poolSize ?? 10);
    try {
      await migratePg(pool);
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PgStore(pool, o);
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    const tx = new PgTx(c, this.o.leaseTtlMs ?? 30_000, this.o.hostId ?? null);
    try {
      await c.query('BEGIN');
      const out = await fn(tx);
      await c.query('COMMIT');
      for (const e of tx.events) this.o.bus?.publish(e);
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async appliedMigrations(): Promise<{ version: number; name: string }[]> {
    return (await this.pool.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
