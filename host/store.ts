// The durable state of the daemon. Every state change goes through `tx`, which writes the change
// and its events in one SQLite transaction and publishes the events only after COMMIT, so a
// subscriber never sees an event for a change that was rolled back.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { BUSY_TIMEOUT_MS, isBusy, StoreBusyError } from './busy.js';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerState, LedgerTask } from '../core/ledger.js';
import type { RunStatus, StepPhase, StepStatus } from '../core/types.js';
import type { EventBus, PublishedEvent } from './bus.js';
import type { EventPayloads, EventType, LoopEvent } from '../core/events.js';

export interface RunRow {
  id: string;
  name: string;
  name_source: string;
  status: RunStatus;
  workspace_root: string;
  spec_path: string;
  plan_path: string | null;
  base_branch: string;
  run_branch: string;
  merge_target_branch: string | null;
  merge_strategy: string;
  worktree_path: string;
  worktree_provider: string;
  config_json: string;
  origin: string;
  run_dir: string;
  global_run_dir: string | null;
  exit_reason: string | null;
  last_error: string | null;
  cancel_requested: number;
  pause_reason: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** 0005: when the file work after the run's end was done (NULL while owed). */
  finalized_at?: number | null;
}

export interface StepRow {
  id: number;
  run_id: string;
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  prompt_path: string | null;
  output_path: string | null;
  exit_code: number | null;
  result_json: string | null;
  error: string | null;
  not_before: number | null;
  lease_owner: string | null;
  pid: number | null;
  pid_start: string | null;
  pid_nonce: string | null;
  exit_path: string | null;
  process_json: string | null;
  /** 0003_step_usage: what this step's agent used (NULL when it ran none). */
  cost_usd?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost_source?: string | null;
  /** 0005: what the step was queued with (JSON). */
  input_json?: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
}

/** Defined with the bus, which only carries it: the store imports the bus, never the reverse. */
export type EventRow = PublishedEvent;

export interface ArtifactRow {
  id: number;
  run_id: string;
  step_id: number | null;
  kind: string;
  location: 'workspace' | 'global';
  path: string;
  checksum: string;
  bytes: number;
}

export class SchemaTooNewError extends Error {}


function locateMigrations(): string {
  // Works both from source (host/) and compiled code (dist/host/).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(candidate, '0001_init.sql'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('cannot find the migrations/ directory next to the loopd installation');
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = locateMigrations()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

type Params = Record<string, SQLInputValue>;

export class Store {
  private readonly db: DatabaseSync;
  private pending: EventRow[] = [];
  private depth = 0;

  constructor(
    readonly path: string,
    private readonly bus: EventBus | null = null,
    migrations: Migration[] = loadMigrations(),
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA foreign_keys = ON');
    this.migrate(migrations);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private migrate(migrations: Migration[]): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const applied = this.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as unknown as {
      version: number;
      name: string;
    }[];
    const known = new Set(migrations.map((m) => m.version));
    const newest = migrations.reduce((n, m) => Math.max(n, m.version), 0);
    const unknown = applied.filter((a) => !known.has(a.version) || a.version > newest);
    if (unknown.length > 0) {
      throw new SchemaTooNewError(
        `the database at ${this.path} was written by a newer loopd (schema ${unknown.map((u) => u.name).join(', ')}; ` +
          `this loopd knows up to ${String(newest).padStart(4, '0')}): upgrade loopd, or point LOOPD_HOME at another directory`,
      );
    }
    const done = new Set(applied.map((a) => a.version));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      this.startupRetry(() => {
        this.db.exec('BEGIN IMMEDIATE');
        try {
          this.db.exec(m.sql);
          this.db
            .prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)')
            .run(m.version, m.name, createHash('sha256').update(m.sql).digest('hex'), Date.now());
          this.db.exec('COMMIT');
        } catch (e) {
          if (this.db.isTransaction) this.db.exec('ROLLBACK');
          throw e;
        }
      });
    }
  }

  appliedMigrations(): { version: number; name: string }[] {
    return this.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as unknown as {
      version: number;
      name: string;
    }[];
  }

  /**
   * Migrations run before the daemon serves anything, so waiting synchronously is harmless there;
   * Atomics.wait sleeps without spinning the CPU. Up to ~5 s, then the busy error.
   */
  private startupRetry<T>(fn: () => T): T {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (e) {
        if (!isBusy(e) || attempt >= 50) throw e;
        Atomics.wait(pause, 0, 0, 100);
      }
    }
  }

  /**
   * Runs fn in one IMMEDIATE transaction; events appended inside are published after COMMIT.
   * Throws StoreBusyError when another process holds the write lock beyond BUSY_TIMEOUT_MS: the
   * caller retries (whenFree), instead of this call holding the event loop (host/busy.ts).
   */
  tx<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.begin();
    try {
      const result = fn();
      this.commit();
      return result;
    } catch (e) {
      this.rollback();
      throw e;
    }
  }

  /** The parts of tx, for the async transaction of host/store/sqlite.ts. */
  begin(): void {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      throw isBusy(e) ? new StoreBusyError(e) : e;
    }
    this.depth++;
    this.pending = [];
  }

  commit(): void {
    this.db.exec('COMMIT');
    const events = this.pending;
    this.pending = [];
    this.depth--;
    for (const ev of events) this.bus?.publish(ev);
  }

  rollback(): void {
    this.depth--;
    this.pending = [];
    if (this.db.isTransaction) this.db.exec('ROLLBACK');
  }

  /** A PRAGMA's value (journal_mode, busy_timeout...), for the checks of the store's own tests. */
  pragma(name: string): unknown {
    const row = this.db.prepare(`PRAGMA ${name.replace(/[^a-z_]/g, '')}`).get() as Record<string, unknown> | undefined;
    return row ? Object.values(row)[0] : undefined;
  }

  // ---- events -------------------------------------------------------------------------------

  /** Appends an event; run events also carry their run's workspace, so a workspace can be followed. */
  appendEvent<K extends EventType>(runId: string | null, stepId: number | null, type: K, payload: EventPayloads[K], workspace: string | null = null): EventRow {
    return this.tx(() => {
      const ts = Date.now();
      const payloadJson = JSON.stringify(payload);
      const ws = workspace ?? (runId ? ((this.db.prepare('SELECT workspace_root AS w FROM runs WHERE id = ?').get(runId) as { w: string } | undefined)?.w ?? null) : null);
      const info = this.db
        .prepare(
          'INSERT INTO events (run_id, step_id, workspace_root, type, ts, payload_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(runId, stepId, ws, type, ts, payloadJson, ts, ts);
      const row: EventRow = { seq: Number(info.lastInsertRowid), run_id: runId, step_id: stepId, workspace_root: ws, type, ts, payload_json: payloadJson };
      this.pending.push(row);
      return row;
    });
  }

  /** appendEvent for an event held as a value (collected before the transaction that records it). */
  appendLoopEvent(runId: string | null, stepId: number | null, ev: LoopEvent, workspace: string | null = null): EventRow {
    // The union's members pair type and payload; the generic signature cannot see that correlation.
    return this.appendEvent(runId, stepId, ev.type, ev.payload as EventPayloads[typeof ev.type], workspace);
  }

  eventsAfter(filter: { runId?: string; afterSeq?: number; limit?: number; workspace?: string }): EventRow[] {
    const where: string[] = ['seq > $after'];
    const params: Params = { after: filter.afterSeq ?? 0, limit: filter.limit ?? 1000 };
    if (filter.runId) {
      where.push('run_id = $run');
      params.run = filter.runId;
    }
    if (filter.workspace) {
      where.push('workspace_root = $ws');
      params.ws = filter.workspace;
    }
    return this.db
      .prepare(
        `SELECT seq, run_id, step_id, workspace_root, type, ts, payload_json FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $limit`,
      )
      .all(params) as unknown as EventRow[];
  }

  /**
   * The cursor (a seq to read after) that starts a window of recent events: the last `last` of
   * them, those at or after `since` (ms), or both (the narrower). 0 when the window is everything.
   */
  eventsWindowStart(filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }): number {
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
    const cond = (extra: string[]) => (where.length + extra.length > 0 ? `WHERE ${[...where, ...extra].join(' AND ')}` : '');
    let cursor = 0;
    if (window.last !== undefined) {
      const row = this.db
        .prepare(`SELECT seq FROM events ${cond([])} ORDER BY seq DESC LIMIT 1 OFFSET $skip`)
        .get({ ...params, skip: window.last }) as { seq: number } | undefined;
      cursor = Math.max(cursor, row?.seq ?? 0);
    }
    if (window.since !== undefined) {
      // Events are appended with Date.now(), so ts grows with seq: the window starts after the last
      // event older than `since`.
      const row = this.db.prepare(`SELECT MAX(seq) AS s FROM events ${cond(['ts < $since'])}`).get({ ...params, since: window.since }) as
        | { s: number | null }
        | undefined;
      cursor = Math.max(cursor, row?.s ?? 0);
    }
    return cursor;
  }

  lastEventSeq(): number {
    const row = this.db.prepare('SELECT MAX(seq) AS s FROM events').get() as { s: number | null } | undefined;
    return row?.s ?? 0;
  }

  // ---- runs ---------------------------------------------------------------------------------

  insertRun(run: Omit<RunRow, 'created_at' | 'updated_at' | 'cost_usd' | 'input_tokens' | 'output_tokens' | 'cancel_requested' | 'pause_reason' | 'exit_reason' | 'last_error' | 'started_at' | 'ended_at'>): RunRow {
    return this.tx(() => {
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
      this.db
        .prepare(`INSERT INTO runs (${cols.join(', ')}) VALUES (${cols.map((c) => '$' + c).join(', ')})`)
        .run(row as unknown as Params);
      return row;
    });
  }

  getRun(id: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
  }

  private neighbourStmts: { before: StatementSync; after: StatementSync } | null = null;

  /**
   * The shortest prefix of a run id, at least `min` characters, that no other run shares. UUIDv7
   * ids begin with the creation time, so runs made within a minute share their first 8 characters;
   * the neighbours in id order are the only ids that can share a longer prefix.
   */
  shortRunId(id: string, min = 8): string {
    // Prepared once: a list view asks this for every run it shows.
    this.neighbourStmts ??= {
      before: this.db.prepare('SELECT id FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1'),
      after: this.db.prepare('SELECT id FROM runs WHERE id > ? ORDER BY id LIMIT 1'),
    };
    const before = this.neighbourStmts.before.get(id) as { id: string } | undefined;
    const after = this.neighbourStmts.after.get(id) as { id: string } | undefined;
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
  runNameTaken(workspaceRoot: string, name: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE workspace_root = ? AND name = ? ORDER BY created_at DESC LIMIT 1').get(workspaceRoot, name) as
      | RunRow
      | undefined;
  }

  /** Finds runs by exact id, unique id prefix, or name (newest first). */
  findRuns(ref: string): RunRow[] {
    const exact = this.getRun(ref);
    if (exact) return [exact];
    const byPrefix = this.db
      .prepare("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC")
      .all(ref.replace(/[\\%_]/g, (c) => '\\' + c) + '%') as unknown as RunRow[];
    if (byPrefix.length > 0) return byPrefix;
    return this.db.prepare('SELECT * FROM runs WHERE name = ? ORDER BY created_at DESC').all(ref) as unknown as RunRow[];
  }

  /**
   * Newest first, by id: run ids are UUIDv7, so their order is the order the runs were asked for,
   * and the primary key index serves a page without sorting the table (13 ms at 10,000 runs by
   * created_at, under 0.1 ms by id). `cursor` is the id of the last run of the previous page: the
   * page starts right after it (a run created since does not shift the pages).
   */
  listRuns(filter: { status?: RunStatus[]; workspace?: string; limit?: number; cursor?: string } = {}): RunRow[] {
    const where: string[] = [];
    const params: Params = { limit: filter.limit ?? 1000 };
    if (filter.cursor !== undefined) {
      const at = this.getRun(filter.cursor);
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
    return this.db.prepare(sql).all(params) as unknown as RunRow[];
  }

  updateRun(id: string, patch: Partial<Omit<RunRow, 'id' | 'created_at'>>): RunRow {
    return this.tx(() => {
      const fields = { ...patch, updated_at: Date.now() };
      const sets = Object.keys(fields).map((k) => `${k} = $${k}`);
      this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = $id`).run({ ...(fields as Params), id });
      const row = this.getRun(id);
      if (!row) throw new Error(`run ${id} not found`);
      return row;
    });
  }

  // ---- ledger and run truth ------------------------------------------------------------------

  insertRunTruth(runId: string, specText: string, planText: string | null): void {
    const now = Date.now();
    this.db
      .prepare('INSERT OR IGNORE INTO run_truth (run_id, spec_text, plan_text, completion, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?)')
      .run(runId, specText, planText, now, now);
  }

  getRunTruth(runId: string): { spec_text: string; plan_text: string | null; completion: string | null } | undefined {
    return this.db.prepare('SELECT spec_text, plan_text, completion FROM run_truth WHERE run_id = ?').get(runId) as
      | { spec_text: string; plan_text: string | null; completion: string | null }
      | undefined;
  }

  setCompletion(runId: string, completion: 'complete_token' | 'complete_facts'): void {
    this.db.prepare('UPDATE run_truth SET completion = ?, updated_at = ? WHERE run_id = ?').run(completion, Date.now(), runId);
  }

  ledgerFor(runId: string): LedgerTask[] {
    const rows = this.db.prepare('SELECT * FROM ledger_tasks WHERE run_id = ? ORDER BY ord, task_id').all(runId) as unknown as {
      task_id: number;
      text: string;
      line: string;
      section: string | null;
      ord: number;
      state: LedgerState;
      done_before_run: number;
      added_iteration: number | null;
      ticked_iteration: number | null;
    }[];
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
  ledgerSummary(runId: string): { total: number; open: number; completion: string | null } | null {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS total, COALESCE(SUM(state IN ('open','blocked')), 0) AS open,
           (SELECT completion FROM run_truth WHERE run_id = ?) AS completion
         FROM ledger_tasks WHERE run_id = ?`,
      )
      .get(runId, runId) as { total: number; open: number; completion: string | null } | undefined;
    if (!row) return null;
    return row.total > 0 ? row : row.completion ? { total: 0, open: 0, completion: row.completion } : null;
  }

  /** Writes the whole ledger of a run; tasks are never deleted, so this is an upsert. */
  saveLedger(runId: string, tasks: readonly LedgerTask[]): void {
    this.tx(() => {
      const now = Date.now();
      const stmt = this.db.prepare(
        `INSERT INTO ledger_tasks (run_id, task_id, text, line, section, ord, state, done_before_run, added_iteration, ticked_iteration, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, task_id) DO UPDATE SET text = excluded.text, line = excluded.line, section = excluded.section, ord = excluded.ord,
           state = excluded.state, done_before_run = excluded.done_before_run, added_iteration = excluded.added_iteration,
           ticked_iteration = excluded.ticked_iteration, updated_at = excluded.updated_at`,
      );
      for (const t of tasks) {
        stmt.run(runId, t.taskId, t.text, t.line, t.section, t.ord, t.state, t.doneBeforeRun ? 1 : 0, t.addedIteration, t.tickedIteration, now, now);
      }
    });
  }

  countRuns(workspace: string): number {
    const row = this.db.prepare('SELECT COUNT(*) AS n FROM runs WHERE workspace_root = ?').get(workspace) as { n: number };
    return row.n;
  }

  /** Runs of the workspace holding an admission slot: RUNNING, or PAUSED with a step still in progress. */
  workspaceSlotsTaken(workspace: string): number {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS n FROM runs r WHERE r.workspace_root = ? AND (r.status = 'RUNNING'
           OR (r.status = 'PAUSED' AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'IN_PROGRESS')))`,
      )
      .get(workspace) as { n: number };
    return row.n;
  }

  runBranchTaken(workspaceRoot: string, branch: string): boolean {
    return this.db.prepare('SELECT 1 FROM runs WHERE workspace_root = ? AND run_branch = ?').get(workspaceRoot, branch) !== undefined;
  }

  // ---- steps --------------------------------------------------------------------------------

  insertStep(step: { run_id: string; phase: StepPhase; iteration: number; attempt: number; not_before?: number | null; input_json?: string | null }): StepRow {
    return this.tx(() => {
      const now = Date.now();
      const info = this.db
        .prepare(
          `INSERT INTO steps (run_id, phase, status, iteration, attempt, not_before, input_json, created_at, updated_at)
           VALUES (?, ?, 'QUEUED', ?, ?, ?, ?, ?, ?)`,
        )
        .run(step.run_id, step.phase, step.iteration, step.attempt, step.not_before ?? null, step.input_json ?? null, now, now);
      return this.getStep(Number(info.lastInsertRowid))!;
    });
  }

  getStep(id: number): StepRow | undefined {
    return this.db.prepare('SELECT * FROM steps WHERE id = ?').get(id) as StepRow | undefined;
  }

  stepsForRun(runId: string): StepRow[] {
    return this.db.prepare('SELECT * FROM steps WHERE run_id = ? ORDER BY id').all(runId) as unknown as StepRow[];
  }

  stepsWithStatus(statuses: StepStatus[]): StepRow[] {
    return this.db
      .prepare(`SELECT * FROM steps WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY id`)
      .all(...statuses) as unknown as StepRow[];
  }

  updateStep(id: number, patch: Partial<Omit<StepRow, 'id' | 'run_id' | 'created_at'>>): StepRow {
    return this.tx(() => {
      const fields = { ...patch, updated_at: Date.now() };
      const sets = Object.keys(fields).map((k) => `${k} = $${k}`);
      this.db.prepare(`UPDATE steps SET ${sets.join(', ')} WHERE id = $id`).run({ ...(fields as Params), id });
      return this.getStep(id)!;
    });
  }

  // ---- artifacts ----------------------------------------------------------------------------

  upsertArtifact(a: Omit<ArtifactRow, 'id'>): void {
    this.tx(() => {
      const now = Date.now();
      this.db
        .prepare(
          `INSERT INTO artifacts (run_id, step_id, kind, location, path, checksum, bytes, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, location, path) DO UPDATE SET checksum = excluded.checksum, bytes = excluded.bytes,
             step_id = excluded.step_id, kind = excluded.kind, updated_at = excluded.updated_at`,
        )
        .run(a.run_id, a.step_id, a.kind, a.location, a.path, a.checksum, a.bytes, now, now);
    });
  }

  artifactsForRun(runId: string): ArtifactRow[] {
    return this.db
      .prepare('SELECT id, run_id, step_id, kind, location, path, checksum, bytes FROM artifacts WHERE run_id = ? ORDER BY id')
      .all(runId) as unknown as ArtifactRow[];
  }

  // ---- workspaces ---------------------------------------------------------------------------

  ensureWorkspace(root: string): void {
    this.tx(() => {
      const now = Date.now();
      this.db
        .prepare('INSERT INTO workspaces (root, watched, created_at, updated_at) VALUES (?, 0, ?, ?) ON CONFLICT (root) DO NOTHING')
        .run(root, now, now);
    });
  }

  getWorkspace(root: string): WorkspaceRow | undefined {
    return this.db.prepare('SELECT * FROM workspaces WHERE root = ?').get(root) as WorkspaceRow | undefined;
  }

  listWorkspaces(filter: { watched?: boolean } = {}): WorkspaceRow[] {
    if (filter.watched === undefined) return this.db.prepare('SELECT * FROM workspaces ORDER BY root').all() as unknown as WorkspaceRow[];
    return this.db.prepare('SELECT * FROM workspaces WHERE watched = ? ORDER BY root').all(filter.watched ? 1 : 0) as unknown as WorkspaceRow[];
  }

  setWatched(root: string, watched: boolean): WorkspaceRow {
    return this.tx(() => {
      this.ensureWorkspace(root);
      this.db.prepare('UPDATE workspaces SET watched = ?, updated_at = ? WHERE root = ?').run(watched ? 1 : 0, Date.now(), root);
      return this.getWorkspace(root)!;
    });
  }

  // ---- spec files seen by the watcher -------------------------------------------------------

  getSpecFile(root: string, path: string): SpecFileRow | undefined {
    return this.db.prepare('SELECT * FROM spec_files WHERE workspace_root = ? AND path = ?').get(root, path) as SpecFileRow | undefined;
  }

  listSpecFiles(root: string): SpecFileRow[] {
    return this.db.prepare('SELECT * FROM spec_files WHERE workspace_root = ? ORDER BY path').all(root) as unknown as SpecFileRow[];
  }

  upsertSpecFile(row: { workspace_root: string; path: string; content_hash: string; status: string; last_run_id?: string | null }): SpecFileRow {
    return this.tx(() => {
      const now = Date.now();
      const existing = this.getSpecFile(row.workspace_root, row.path);
      const lastRun = row.last_run_id === undefined ? (existing?.last_run_id ?? null) : row.last_run_id;
      this.db
        .prepare(
          `INSERT INTO spec_files (workspace_root, path, content_hash, status, last_run_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (workspace_root, path) DO UPDATE SET content_hash = excluded.content_hash, status = excluded.status,
             last_run_id = excluded.last_run_id, updated_at = excluded.updated_at`,
        )
        .run(row.workspace_root, row.path, row.content_hash, row.status, lastRun, now, now);
      return this.getSpecFile(row.workspace_root, row.path)!;
    });
  }

  /** The trigger's decision (LoopStore.claimSpecChange): false when this content was triggered already. */
  claimSpecChange(c: { workspace_root: string; path: string; content_hash: string; run_id: string }): boolean {
    return this.tx(() => {
      const row = this.getSpecFile(c.workspace_root, c.path);
      if (row && row.status === 'triggered' && row.content_hash === c.content_hash) return false;
      this.ensureWorkspace(c.workspace_root);
      this.upsertSpecFile({ workspace_root: c.workspace_root, path: c.path, content_hash: c.content_hash, status: 'triggered', last_run_id: c.run_id });
      return true;
    });
  }

  // ---- coordination and bookkeeping (0004, 0005) --------------------------------------------

  runStatusCounts(): Record<RunStatus, number> {
    const counts: Record<RunStatus, number> = { PENDING: 0, RUNNING: 0, PAUSED: 0, COMPLETED: 0, FAILED: 0, CANCELED: 0 };
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM runs GROUP BY status').all() as unknown as { status: RunStatus; n: number }[];
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  runsToFinalize(limit = 200, before?: string): RunRow[] {
    const where = "finalized_at IS NULL AND status IN ('COMPLETED', 'FAILED', 'CANCELED')";
    if (before === undefined) return this.db.prepare(`SELECT * FROM runs WHERE ${where} ORDER BY id DESC LIMIT ?`).all(limit) as unknown as RunRow[];
    return this.db.prepare(`SELECT * FROM runs WHERE ${where} AND id < ? ORDER BY id DESC LIMIT ?`).all(before, limit) as unknown as RunRow[];
  }

  markFinalized(runId: string, now = Date.now()): void {
    this.tx(() => {
      this.db.prepare('UPDATE runs SET finalized_at = ? WHERE id = ?').run(now, runId);
    });
  }

  getReview(runId: string): ReviewRow | undefined {
    return this.db.prepare('SELECT * FROM run_reviews WHERE run_id = ?').get(runId) as ReviewRow | undefined;
  }

  putReview(runId: string, status: ReviewRow['status'], actor: string, detail: Record<string, unknown>): ReviewRow {
    return this.tx(() => {
      const now = Date.now();
      this.db
        .prepare(
          `INSERT INTO run_reviews (run_id, status, actor, detail_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, actor = excluded.actor, detail_json = excluded.detail_json,
             updated_at = excluded.updated_at`,
        )
        .run(runId, status, actor, JSON.stringify(detail), now, now);
      return this.getReview(runId)!;
    });
  }

  agentHolds(now: number): AgentHoldRow[] {
    return this.db.prepare('SELECT agent, until, run_id, step_id FROM agent_holds WHERE until > ? ORDER BY agent').all(now) as unknown as AgentHoldRow[];
  }

  /** Extends, never shortens, the hold on an agent kind. */
  holdAgent(h: AgentHoldRow): void {
    this.tx(() => {
      const now = Date.now();
      this.db
        .prepare(
          `INSERT INTO agent_holds (agent, until, run_id, step_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (agent) DO UPDATE SET until = MAX(until, excluded.until), run_id = excluded.run_id,
             step_id = excluded.step_id, updated_at = excluded.updated_at`,
        )
        .run(h.agent, h.until, h.run_id, h.step_id, now, now);
    });
  }

  mergeLocks(): MergeLockRow[] {
    return this.db.prepare('SELECT workspace_root, target_branch, step_id, created_at FROM merge_locks ORDER BY created_at').all() as unknown as MergeLockRow[];
  }

  /** True when the step holds the target's merge lock now (it may have held it already). */
  takeMergeLock(l: Omit<MergeLockRow, 'created_at'>, now = Date.now()): boolean {
    return this.tx(() => {
      // A lock whose step ended (finished, failed, requeued after a crash) frees itself.
      this.db
        .prepare(
          `DELETE FROM merge_locks WHERE workspace_root = ? AND target_branch = ? AND step_id IN
             (SELECT id FROM steps WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELED'))`,
        )
        .run(l.workspace_root, l.target_branch);
      this.db
        .prepare('INSERT INTO merge_locks (workspace_root, target_branch, step_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(l.workspace_root, l.target_branch, l.step_id, now);
      const holder = this.db
        .prepare('SELECT step_id FROM merge_locks WHERE workspace_root = ? AND target_branch = ?')
        .get(l.workspace_root, l.target_branch) as { step_id: number } | undefined;
      return holder?.step_id === l.step_id;
    });
  }

  releaseMergeLock(stepId: number): void {
    this.tx(() => {
      this.db.prepare('DELETE FROM merge_locks WHERE step_id = ?').run(stepId);
    });
  }
}

export interface AgentHoldRow {
  agent: string;
  until: number;
  run_id: string | null;
  step_id: number | null;
}

export interface MergeLockRow {
  workspace_root: string;
  target_branch: string;
  step_id: number;
  created_at: number;
}

export interface ReviewRow {
  run_id: string;
  status: 'merged' | 'scrapped' | 'pr_opened';
  actor: string;
  detail_json: string;
  created_at: number;
  updated_at: number;
}

export interface WorkspaceRow {
  root: string;
  watched: number;
  created_at: number;
  updated_at: number;
}

export interface SpecFileRow {
  workspace_root: string;
  /** Relative to the workspace root. */
  path: string;
  content_hash: string;
  /** recorded | draft | complete | waiting_plan | triggered | skipped | error */
  status: string;
  last_run_id: string | null;
  created_at: number;
  updated_at: number;
}
