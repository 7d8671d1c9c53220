// The shapes the API returns. Plain data, safe to send through superjson.
import type { RunStatus, StepPhase, StepStatus } from '../core/types.js';
import type { FileDiff } from '../core/diff.js';
import type { EventType, StoredEvent } from '../core/events.js';

export interface RunView {
  id: string;
  /** The shortest prefix of the id (8 characters or more) that no other run shares. */
  shortId: string;
  name: string;
  nameSource: string;
  status: RunStatus;
  workspaceRoot: string;
  specPath: string;
  planPath: string | null;
  baseBranch: string;
  runBranch: string;
  mergeTargetBranch: string | null;
  mergeStrategy: string;
  worktreePath: string;
  worktreeProvider: string;
  origin: string;
  exitReason: string | null;
  /** Why a PAUSED run is paused: user, budget_exceeded. */
  pauseReason: string | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Current (or last) iteration and phase, derived from the step history. */
  iteration: number;
  phase: StepPhase | null;
  tasksDone: number | null;
  tasksTotal: number | null;
  /** Of tasksDone, those the reviewer approved ([R]); null before any count. */
  tasksReviewed: number | null;
  /** How completion was proven (docs/truth.md): complete_token, complete_facts, or null. */
  completion: string | null;
  /** Primary artifact directory (workspace, or global when artifact_mode=global). */
  runDir: string;
  /** The global mirror directory, when artifact_mode is mirror or global. */
  globalRunDir: string | null;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  /** The decision on the run's work (pending, merged, scrapped, pr_opened). */
  review: ReviewView;
}

export interface StepView {
  id: number;
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  exitCode: number | null;
  promptPath: string | null;
  outputPath: string | null;
  error: string | null;
  startedAt: number | null;
  endedAt: number | null;
  result: Record<string, unknown> | null;
  /** What the step's agent used; null for steps that ran no agent. */
  costUsd: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** reported (by the agent), estimated (tokens x price table) or unpriced. */
  costSource: string | null;
}

export interface ArtifactView {
  kind: string;
  location: 'workspace' | 'global';
  path: string;
  checksum: string;
  bytes: number;
  stepId: number | null;
}

/** A task of the run's ledger: loopd's own record of the plan (docs/truth.md). */
export interface TaskView {
  id: number;
  text: string;
  section: string | null;
  state: 'open' | 'blocked' | 'done' | 'reviewed';
  doneBeforeRun: boolean;
  addedIteration: number | null;
  tickedIteration: number | null;
}

export interface RunDetail extends RunView {
  /** The task ledger, in plan order; empty for a plan-less run. */
  tasks: TaskView[];
  steps: StepView[];
  artifacts: ArtifactView[];
  config: Record<string, unknown>;
}

/** Where and when an event happened: the part every event shares. */
export interface EventViewBase {
  seq: number;
  runId: string | null;
  /** The shortest unique prefix of runId when the event was read, for people to read and type. */
  runShortId: string | null;
  stepId: number | null;
  ts: number;
}

/**
 * One event as the API serves it: a discriminated union on `type`, so a reader that checks the
 * type gets that event's payload (core/events.ts EventPayloads). Payload fields may be missing
 * (an older daemon wrote the event: StoredPayload). A client older than the daemon may still meet
 * a type it does not know; it should fall back to showing the payload as it is.
 */
export type EventView = StoredEvent<EventViewBase>;

/** The EventView of one event type. */
export type EventViewOf<K extends EventType> = Extract<EventView, { type: K }>;

/** Which stored events to start from: the last N, those since a time (ms), or both (the narrower). */
export interface EventWindow {
  last?: number | undefined;
  since?: number | undefined;
}

export interface OutputChunk {
  /** The step's attempt (retries of one phase in one iteration). */
  attempt?: number;
  stepId: number;
  iteration: number;
  phase: StepPhase;
  /** Byte offset in the step's log just after this chunk: the resume point. */
  offset: number;
  chunk: string;
}

export interface TailView {
  stepId: number;
  iteration: number;
  phase: StepPhase;
  path: string;
  text: string;
  attempt?: number;
  /** The agent kind that wrote it (how to render it); null for a non-agent step. */
  agent?: string | null;
  /** Byte length of the log when read: `<stepId>:<offset>` resumes runs.output right after it. */
  offset: number;
}

export interface PromptPreview {
  prompt: string;
  workspaceRoot: string;
  specPath: string;
  planPath: string | null;
  /** Where the run's worktree would be; the prompt's paths point inside it. */
  worktreePath: string;
  warnings: string[];
}

export interface DaemonStatus {
  pid: number;
  version: string;
  host: string;
  port: number;
  home: string;
  startedAt: number;
  uptimeMs: number;
  maxConcurrency: number;
  runs: Record<RunStatus, number>;
  /** How agent and verification processes are contained (docs/truth.md). */
  containment: { env: string; processes: string; cgroup: boolean };
}

export interface CreateRunInput {
  /** Directory the request is about (usually the client's cwd); its git root is the workspace. */
  cwd: string;
  spec: string;
  plan?: string | undefined;
  configFile?: string | undefined;
  /** The client's LOOP_CONFIG, so the daemon's own environment does not leak into a run. */
  loopConfig?: string | undefined;
  flags?: Record<string, string | number | boolean> | undefined;
  name?: string | undefined;
  origin?: 'cli' | 'api' | 'watch' | undefined;
}

export interface SpecFileView {
  path: string;
  status: string;
  lastRunId: string | null;
  updatedAt: number;
}

export interface WorkspaceView {
  root: string;
  watched: boolean;
  runs: number;
  specs: SpecFileView[];
  createdAt: number;
  updatedAt: number;
}

// ---- review (runs.diff, runs.merge, runs.scrap, runs.createPr) -----------------------------------

export type ReviewStatus = 'pending' | 'merged' | 'scrapped' | 'pr_opened';

export interface ReviewView {
  status: ReviewStatus;
  /** Who decided: "loopctl (alice)", "dashboard", "api", or "loopd" for the run's own merge. */
  actor: string | null;
  at: number | null;
  /** True when the run merged itself (merge phase), false for a reviewer's decision. */
  automatic: boolean;
  /** merged: target, strategy, commit; pr_opened: url, remote, base; scrapped: what was removed. */
  detail: Record<string, unknown>;
}

/** One file of a run's diff; the patch is empty in the per-iteration summaries. */
export type DiffFileView = FileDiff;

export interface DiffStatsView {
  files: number;
  additions: number;
  deletions: number;
}

export interface IterationDiffView {
  iteration: number;
  from: string;
  to: string;
  stats: DiffStatsView;
  files: DiffFileView[];
}

export interface RunDiffView {
  runId: string;
  runBranch: string;
  baseBranch: string;
  /** What `from`..`to` covers: the whole run, or one iteration. */
  scope: 'run' | 'iteration';
  iteration: number | null;
  from: string;
  to: string;
  files: DiffFileView[];
  stats: DiffStatsView;
  /** Each iteration's own change (from its start to the next one's), per file without patches. */
  iterations: IterationDiffView[];
}

export interface ReviewActionResult {
  run: RunView;
  review: ReviewView;
  /** False when the run was already in the requested state: nothing was done again. */
  changed: boolean;
  message: string;
}
