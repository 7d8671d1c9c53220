// The result contract: what each phase's handler reports (steps.result_json), one type per phase.
// The transition rules, the watchdog and the STEP_FINISHED digest read them through StepResultFacts
// (every phase's fields, all optional: a stored row may come from any phase or an older daemon).
import type { StepPhase, WatchdogSignal } from './types.js';

/** How an agent step ended, for the retry and fail rules (functions/agent-step.ts agentOutcome). */
export interface AgentFacts {
  errorKind?: string | null;
  /** Retrying cannot help (bad key, refusal to run as root): the run fails now with failReason. */
  fatal?: boolean;
  /** The exit reason when this failure ends the run (claude_failed:auth, worktree_missing...). */
  failReason?: string;
  transientError?: string | null;
  rateLimitResetAt?: number | null;
  timedOut?: boolean;
  outputBytes?: number;
  outputTruncated?: boolean;
}

interface TaskCounts {
  openTasks?: number;
  unreviewedTasks?: number;
  tasksDone?: number | null;
  tasksTotal?: number | null;
}

export interface ImplementationResult extends AgentFacts, TaskCounts {
  claimed?: boolean;
  malformed?: boolean;
  commits?: number;
  commitBefore?: string;
  commitAfter?: string;
  /**
   * commitAfter, when loopd's own `git status` after the agent saw a clean tree on the run branch
   * at that commit and loopd changed nothing in the worktree after it; null otherwise. A review
   * that comes next reads its state from this instead of a status of its own (functions/review-steps.ts).
   */
  cleanAt?: string | null;
  /**
   * The diff a review right after this step needs (from its base to cleanAt), taken beside the
   * status after the agent and kept in a file of the run (functions/review-diff-ahead.ts).
   */
  diffAhead?: { from: string; to: string; sha256: string };
  planChanged?: boolean;
  /** The iteration's commits changed something besides the plan (and the spec loopd restores). */
  codeChanged?: boolean;
  /** Tampering found (and undone) by loopd in this step, one entry per kind. */
  tampering?: string[];
  similarity?: number | null;
  durationMs?: number;
  logPath?: string;
  tailPath?: string;
  /** What loopd undid in this step, told to the agent in the next prompt. */
  loopdNotes?: string[];
  /** Set by the dispatcher on a step whose process vanished across a daemon restart. */
  requeued?: boolean;
}

export interface ReviewResult extends AgentFacts, TaskCounts {
  approved?: boolean;
  reviewed?: number;
  /** The ledger task ids this review judged. */
  tasks?: number[];
  notesPath?: string | null;
  /** The head after the review's own commit: the next review's diff starts here when approved. */
  headAfter?: string | null;
  requeued?: boolean;
}

export interface VerificationResult {
  passed: boolean;
  canceled?: boolean;
  commands?: number;
  failedCommand?: string;
  index?: number;
  exitCode?: number | null;
  timedOut?: boolean;
  notesPath?: string;
  tampering?: string[];
  loopdNotes?: string[];
  requeued?: boolean;
}

export interface WatchdogResult {
  signal: WatchdogSignal | null | undefined;
  signals: WatchdogSignal[];
  /** null in steps written by older daemons when there was nothing to rewrite. */
  rewritePath?: string | null;
  intervention?: string;
  rewrite?: number;
  requeued?: boolean;
}

export type MergeStatus = 'merged' | 'already_merged' | 'nothing_to_merge' | 'conflict' | 'error';

export interface MergeResult {
  mergeStatus: MergeStatus;
  commit?: string | null;
  conflicts?: string[];
  reason?: string;
  requeued?: boolean;
}

export interface PhaseResults {
  implementation: ImplementationResult;
  review: ReviewResult;
  verification: VerificationResult;
  watchdog: WatchdogResult;
  merge: MergeResult;
}

export type StepResult = PhaseResults[StepPhase];

type AllKeys<T> = T extends unknown ? keyof T : never;
type ValueOf<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : never) : never;

/** Any phase's result as read back: every field of every phase, all optional. */
export type StepResultFacts = { [K in AllKeys<StepResult>]?: ValueOf<StepResult, K> };

/** The result fields STEP_FINISHED carries, so `loopctl events` can say what a step found. */
export const DIGEST_KEYS = [
  'claimed',
  'openTasks',
  'tasksDone',
  'tasksTotal',
  'commits',
  'mergeStatus',
  'commit',
  'conflicts',
  'timedOut',
  'approved',
  'passed',
  'signal',
  'transientError',
] as const satisfies readonly AllKeys<StepResult>[];

export type StepResultDigest = Pick<StepResultFacts, (typeof DIGEST_KEYS)[number]>;

export function digestResult(r: StepResultFacts): StepResultDigest {
  const out: Record<string, unknown> = {};
  for (const k of DIGEST_KEYS) if (k in r) out[k] = r[k];
  return out as StepResultDigest;
}
