// The reads of the PostgreSQL store, shared by the store itself (outside any transaction) and by
// a transaction (inside it): the same queries on a pool or on the transaction's one connection.
import type { LedgerState, LedgerTask } from '../../../core/ledger.js';
import type { RunStatus, StepStatus } from '../../../core/types.js';
import type { PublishedEvent as EventRow } from '../../bus.js';
import type { AgentHold, ArtifactRecord, EventFilter, EventRecord, MergeLock, ReviewRecord, RunFilter, RunRecord, RunTruth, SpecFileRecord, StepRecord, WorkspaceRecord } from '../types.js';
import { type Db, runRecord, stepRecord, EVENT_COLS, eventRecord, workspaceRecord, reviewRecord, one, all } from './rows.js';

export class PgReads {
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
