// The store as an interface: what the daemon needs from its database, and nothing about how a
// backend keeps it. Async, so a networked database (Postgres, issue 12) fits behind it; every
// write happens inside `transaction`, which commits the change together with its events and
// publishes the events only after COMMIT. JSON columns are decoded inside the store: callers see
// records, never column encodings, and never a raw database handle. Operations that write are
// named after the state transition they make (admitRun, claimStep, finishStep...), the way a
// durable queue names its SQL per transition; a backend implements each with its own SQL.
//
// node:sqlite is the embedded default (host/store/sqlite.ts). The contract both backends must
// meet is test/unit/store-contract.ts.
import type { EventPayloads, EventType, StoredEvent } from '../../core/events.js';
import type { StepResultFacts } from '../../core/results.js';
import type { Completion } from '../../core/completion.js';
import type { LedgerTask } from '../../core/ledger.js';
import type { RunStatus, StepPhase, StepStatus } from '../../core/types.js';

// ---- records ----------------------------------------------------------------------------------

export interface RunRecord {
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
  /** The run's frozen LoopConfig (decoded from config_json). Typed loosely: core/config.ts validates. */
  config: Record<string, unknown>;
  origin: string;
  run_dir: string;
  global_run_dir: string | null;
  exit_reason: string | null;
  last_error: string | null;
  cancel_requested: boolean;
  pause_reason: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** When the file work after the run's end (summary, mirror, cleanup) was done; null while owed. */
  finalized_at: number | null;
}

export type NewRun = Omit<
  RunRecord,
  | 'created_at'
  | 'updated_at'
  | 'cost_usd'
  | 'input_tokens'
  | 'output_tokens'
  | 'cancel_requested'
  | 'pause_reason'
  | 'exit_reason'
  | 'last_error'
  | 'started_at'
  | 'ended_at'
  | 'finalized_at'
>;

/** What the host records about a step's agent process, so a restarted daemon finds it again. */
export interface StepProcess {
  nonce: string;
  exitPath: string;
  logPath: string;
  pid?: number;
  pgid?: number;
  startTime?: string;
  /** Handler facts from before the spawn (commitBefore, planBefore, startedAt...). */
  [fact: string]: unknown;
}

export interface StepRecord {
  id: number;
  run_id: string;
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  prompt_path: string | null;
  output_path: string | null;
  exit_code: number | null;
  /** The handler's result (decoded from result_json). */
  result: StepResultFacts | null;
  /** What the step was queued with (the watchdog's signals...), decoded from input_json. */
  input: StepInputFacts | null;
  error: string | null;
  not_before: number | null;
  lease_owner: string | null;
  pid: number | null;
  pid_start: string | null;
  pid_nonce: string | null;
  exit_path: string | null;
  process: StepProcess | null;
  cost_usd: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_source: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
}

/** The input a step carries from the decision that queued it, instead of re-deriving it. */
export interface StepInputFacts {
  signals?: string[];
  [fact: string]: unknown;
}

export type EventRecord = StoredEvent<{ seq: number; runId: string | null; stepId: number | null; workspaceRoot: string | null; ts: number }>;

export interface ArtifactRecord {
  id: number;
  run_id: string;
  step_id: number | null;
  kind: string;
  location: 'workspace' | 'global';
  path: string;
  checksum: string;
  bytes: number;
}

export interface WorkspaceRecord {
  root: string;
  watched: boolean;
  created_at: number;
  updated_at: number;
}

export interface SpecFileRecord {
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

export interface RunTruth {
  spec_text: string;
  plan_text: string | null;
  completion: string | null;
}

export type ReviewDecision = 'merged' | 'scrapped' | 'pr_opened';

export interface ReviewRecord {
  run_id: string;
  status: ReviewDecision;
  actor: string;
  detail: Record<string, unknown>;
  created_at: number;
  updated_at: number;
}

/** A rate-limit hold: no step of this agent kind starts before `until` (any host). */
export interface AgentHold {
  agent: string;
  until: number;
  run_id: string | null;
  step_id: number | null;
}

/** Merges into one target branch of one workspace run one at a time; the lock names the step. */
export interface MergeLock {
  workspace_root: string;
  target_branch: string;
  step_id: number;
  created_at: number;
}

// ---- inputs of the named transitions ----------------------------------------------------------

export interface QueueStep {
  run_id: string;
  phase: StepPhase;
  iteration: number;
  attempt: number;
  not_before?: number | null;
  input?: StepInputFacts | null;
}

export interface StepOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'CANCELED';
  exit_code: number | null;
  result: StepResultFacts;
  error: string | null;
  prompt_path: string | null;
  output_path: string | null;
  usage: { costUsd: number; inputTokens: number; outputTokens: number; costSource: string } | null;
}

export interface RunFilter {
  status?: RunStatus[];
  workspace?: string;
  limit?: number;
  /** The id of the last run of the previous page (runs are paged newest first by id). */
  cursor?: string;
}

export interface EventFilter {
  runId?: string;
  workspace?: string;
  afterSeq?: number;
  limit?: number;
}

export interface SpecFileUpsert {
  workspace_root: string;
  path: string;
  content_hash: string;
  status: string;
  /** undefined keeps the stored value. */
  last_run_id?: string | null;
}

/** The watcher's decision that this content of this spec makes the run `run_id`. */
export interface SpecChangeClaim {
  workspace_root: string;
  /** Relative to the workspace root. */
  path: string;
  content_hash: string;
  run_id: string;
}

// ---- the interface ----------------------------------------------------------------------------

/** Reads: usable inside and outside a transaction (inside, they see the transaction's writes). */
export interface StoreReads {
  getRun(id: string): Promise<RunRecord | undefined>;
  /** By exact id, unique id prefix, or name (newest first). */
  findRuns(ref: string): Promise<RunRecord[]>;
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;
  countRuns(workspace: string): Promise<number>;
  runStatusCounts(): Promise<Record<RunStatus, number>>;
  runBranchTaken(workspaceRoot: string, branch: string): Promise<boolean>;
  /**
   * The shortest prefix of a run id, at least 8 characters, that no other run shares: how people
   * read and type a run. UUIDv7 ids of runs made within a minute share their first 8 characters.
   */
  shortRunId(id: string): Promise<string>;
  /** The newest run of that name in the workspace, if any. */
  runNameTaken(workspaceRoot: string, name: string): Promise<RunRecord | undefined>;
  /**
   * Finished runs whose file work is still owed (a restart, or another host, finishes it), newest
   * first; `before` (the id of the last run of the previous page) pages on to older ones.
   */
  runsToFinalize(limit?: number, before?: string): Promise<RunRecord[]>;

  getStep(id: number): Promise<StepRecord | undefined>;
  stepsForRun(runId: string): Promise<StepRecord[]>;
  stepsWithStatus(statuses: StepStatus[]): Promise<StepRecord[]>;

  eventsAfter(filter: EventFilter): Promise<EventRecord[]>;
  lastEventSeq(): Promise<number>;
  /** The seq to read after, for a window of the last N events and/or those since a time. */
  eventsWindowStart(filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }): Promise<number>;
  artifactsForRun(runId: string): Promise<ArtifactRecord[]>;

  getWorkspace(root: string): Promise<WorkspaceRecord | undefined>;
  listWorkspaces(filter?: { watched?: boolean }): Promise<WorkspaceRecord[]>;
  getSpecFile(root: string, path: string): Promise<SpecFileRecord | undefined>;
  listSpecFiles(root: string): Promise<SpecFileRecord[]>;
  getReview(runId: string): Promise<ReviewRecord | undefined>;

  /** The spec and plan texts recorded when the run was created (0002), and its proven completion. */
  getRunTruth(runId: string): Promise<RunTruth | undefined>;
  ledgerFor(runId: string): Promise<LedgerTask[]>;
  /** Task counts of a run's ledger, or null when the run has none (plan-less, or older runs). */
  ledgerSummary(runId: string): Promise<{ total: number; open: number; completion: string | null } | null>;

  /** Holds still in force at `now`. */
  agentHolds(now: number): Promise<AgentHold[]>;
  mergeLocks(): Promise<MergeLock[]>;
}

/** Everything a transaction may do: the reads, plus one named operation per state transition. */
export interface StoreTx extends StoreReads {
  /** Records an event; a run's event also carries the run's workspace (to follow a workspace). */
  appendEvent<K extends EventType>(runId: string | null, stepId: number | null, type: K, payload: EventPayloads[K], workspace?: string | null): Promise<EventRecord>;

  // runs
  createRun(run: NewRun): Promise<RunRecord>;
  /** PENDING -> RUNNING; null when the run is no longer PENDING (another host admitted it). */
  admitRun(runId: string, now: number): Promise<RunRecord | null>;
  pauseRun(runId: string, reason: string): Promise<RunRecord>;
  /** PAUSED -> PENDING, with an optional new frozen config (a raised budget). */
  resumeRun(runId: string, config?: Record<string, unknown>): Promise<RunRecord>;
  requestCancel(runId: string): Promise<RunRecord>;
  /** Adds a step's usage to the run's totals, notes its error and a handler-learned worktree path. */
  chargeRun(runId: string, charge: { usage: StepOutcome['usage']; error: string | null; worktreePath?: string }): Promise<RunRecord>;
  /** -> COMPLETED/FAILED/CANCELED; the run's QUEUED steps are canceled with it. */
  finishRun(runId: string, status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: string, error: string | null, now: number): Promise<RunRecord>;
  markFinalized(runId: string, now: number): Promise<void>;

  /** The texts the run's ledger was parsed from; written once, at creation. */
  recordRunTruth(runId: string, specText: string, planText: string | null): Promise<void>;
  /** How the run's completion was proven (the transition rules decided; loopd's fact, not a claim). */
  setCompletion(runId: string, completion: Completion): Promise<void>;
  /** Writes the whole ledger of a run (tasks are never deleted: an upsert). */
  saveLedger(runId: string, tasks: readonly LedgerTask[]): Promise<void>;

  // steps
  queueStep(step: QueueStep): Promise<StepRecord>;
  /** QUEUED -> IN_PROGRESS under `owner`; null when someone else claimed it first. */
  claimStep(stepId: number, owner: string, now: number): Promise<StepRecord | null>;
  /** Recorded before the spawn: a restarted daemon finds the process by its nonce. */
  recordProcessIntent(stepId: number, process: StepProcess): Promise<void>;
  recordProcessStarted(stepId: number, process: StepProcess & { pid: number; startTime: string }): Promise<void>;
  /** IN_PROGRESS -> the handler's outcome; null when the step was no longer IN_PROGRESS. */
  finishStep(stepId: number, outcome: StepOutcome, now: number): Promise<StepRecord | null>;
  /**
   * A step that cannot run here (no handler) or whose process vanished across a restart: QUEUED or
   * IN_PROGRESS -> FAILED. Null when the step had ended already (in a cluster: another host reaped
   * its expired lease and queued the next attempt, which the caller must not queue again).
   */
  failStep(stepId: number, error: string, result: StepResultFacts | null, now: number): Promise<StepRecord | null>;

  // coordination
  /**
   * Admission's count for `max_runs_per_workspace`, across every host: the workspace's runs that
   * hold a slot (RUNNING, or PAUSED with a step still in progress). PostgreSQL first takes the
   * workspace's admission lock until the transaction ends, so hosts admitting into one workspace
   * take turns and the cap holds cluster-wide (SQLite transactions take turns anyway).
   */
  workspaceSlotsTaken(workspace: string): Promise<number>;
  /** Extends (never shortens) the hold on an agent kind. */
  holdAgent(hold: AgentHold): Promise<void>;
  /** Takes the merge lock of a target branch for a step; false when another step holds it. */
  takeMergeLock(lock: Omit<MergeLock, 'created_at'>, now: number): Promise<boolean>;
  releaseMergeLock(stepId: number): Promise<void>;

  // artifacts, workspaces, the watcher, reviews
  recordArtifact(a: Omit<ArtifactRecord, 'id'>): Promise<void>;
  ensureWorkspace(root: string): Promise<void>;
  setWatched(root: string, watched: boolean): Promise<WorkspaceRecord>;
  upsertSpecFile(row: SpecFileUpsert): Promise<SpecFileRecord>;
  /**
   * The trigger's decision, atomic across watchers (several hosts may watch one workspace and all
   * see the same save): records that this content of this spec made `run_id` (status 'triggered')
   * and returns true, unless the row already says this very content was triggered: then false,
   * another watcher made the run, and the caller throws to roll its own run back. Call it first in
   * the transaction that creates the run, so a concurrent caller waits on the spec's row (and not
   * on the run's branch name, which both would have picked).
   */
  claimSpecChange(claim: SpecChangeClaim): Promise<boolean>;
  putReview(runId: string, status: ReviewDecision, actor: string, detail: Record<string, unknown>): Promise<ReviewRecord>;
}

export interface LoopStore extends StoreReads {
  /**
   * Runs fn in one transaction. Events appended inside are published after COMMIT; a throw rolls
   * everything back and publishes nothing. Throws StoreBusyError (host/busy.ts) when the database
   * stays locked beyond the busy timeout: the caller retries. Transactions do not nest: code that
   * runs inside one takes the StoreTx it was given.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  appliedMigrations(): Promise<{ version: number; name: string }[]>;
  close(): Promise<void>;
}
