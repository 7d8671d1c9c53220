// The event contract: every event type the daemon records, with its payload. Emitters (the
// dispatcher, the handlers through their sink, the services, the trigger), the store and the CLI
// formatter all take their types from here, so adding an event or renaming a field is a compile
// error wherever it matters. Events already stored by an older daemon may lack newer fields: a
// reader treats a stored payload as Partial<> (see StoredPayload).
import type { RunStatus, StepPhase, StepStatus, WatchdogSignal } from './types.js';
import type { StepResultDigest } from './results.js';
import type { Completion } from './completion.js';
import type { LedgerCounts } from './ledger.js';

type Where = {
  phase: StepPhase;
  iteration: number;
  attempt: number;
};

/** What the judge (functions/judge.ts) found an agent did to what it may not change. */
export type TamperSignal = 'history_rewritten' | 'spec_tampered' | 'plan_tampered' | 'tick_without_work';

type TerminalRun = { status: Extract<RunStatus, 'COMPLETED' | 'FAILED' | 'CANCELED'>; reason: string; error: string | null };

export interface EventPayloads {
  // runs
  RUN_CREATED: {
    name: string;
    nameSource: string;
    spec: string;
    plan: string | null;
    runBranch: string;
    baseBranch: string;
    mergeTarget: string | null;
    worktree: string;
    origin: string;
  };
  RUN_STARTED: { status: 'RUNNING'; resumed: boolean };
  RUN_PAUSED: { reason: string };
  RUN_RESUMED: { maxCostUsd?: number; reason?: string };
  RUN_CANCEL_REQUESTED: Record<string, never>;
  RUN_COMPLETED: TerminalRun;
  RUN_FAILED: TerminalRun;
  RUN_CANCELED: TerminalRun;
  BUDGET_EXCEEDED: { costUsd: number; maxCostUsd: number };
  CONFIG_CHANGED: { key: string; value: unknown };
  CONFIG_WARNING: { message: string };
  NAME_FALLBACK: { reason: string };
  WORKTREE_PROVIDER: { provider: string; reason: string };
  /** `repaired`: what a crash left half-done and loopd put right first (stale git locks, an unfinished worktree add). */
  WORKTREE_READY: { path: string; branch: string; base: string; provider: string; repaired?: string };
  WORKTREE_REMOVED: { path: string };
  SPEC_SNAPSHOT: { spec: string; plan: string | null };
  // steps
  STEP_QUEUED: Where & { delayMs: number };
  STEP_RETRY_QUEUED: Where & { delayMs: number; reason?: string; detail?: string | null; until?: number | null; message?: string | null };
  STEP_STARTED: Where;
  STEP_ADOPTED: { pid: number; phase: StepPhase; iteration: number };
  STEP_REQUEUED: Where & { reason: string };
  STEP_FINISHED: Where &
    StepResultDigest & {
      status: StepStatus;
      exitCode: number | null;
      error: string | null;
      costUsd?: number;
      inputTokens?: number;
      outputTokens?: number;
    };
  RATE_LIMIT_WAIT: { agent: string; until: number };
  // agents
  AGENT_STARTED: Where & { pid: number; agent: string; log: string };
  AGENT_ADOPTED: Where & { pid: number };
  OUTPUT_TRUNCATED: Where & { totalBytes: number; omittedBytes: number; maxOutputBytes: number; log: string };
  // implementation, watchdog
  SIGNAL: {
    signal: WatchdogSignal | TamperSignal | 'self_review';
    iteration?: number;
    phase?: StepPhase;
    lines?: number[];
    // tampering loopd undid (functions/judge.ts, docs/truth.md)
    branch?: string | null;
    head?: string | null;
    runHead?: string | null;
    restoredTo?: string;
    spec?: string;
    changes?: string[];
    tasks?: number[];
  };
  LEDGER_CREATED: LedgerCounts & { plan: string | null };
  LEDGER_UPDATED: LedgerCounts & { iteration: number; ticked: number[]; added: number[] };
  COMPLETION_PROVEN: { completion: Completion; reason: string };
  LEFTOVER_COMMITTED: { commit: string; iteration?: number; phase?: StepPhase };
  WATCHDOG_REWRITE: { signal: WatchdogSignal | undefined; signals: WatchdogSignal[]; iteration: number; promptPath: string; rewritePath: string; rewrite: number };
  // verification, review
  VERIFY_STARTED: { iteration: number; index: number; command: string; log: string };
  VERIFY_FAILED: { iteration: number; index: number; command: string; exitCode: number | null; timedOut: boolean; notesPath: string };
  VERIFY_PASSED: { iteration: number; commands: number };
  REVIEW_APPROVED: { iteration: number; reviewed: number; tasks?: number[] };
  REVIEW_REJECTED: { iteration: number; notesPath: string; reopened?: number[] };
  REVIEWER_CHANGES_DISCARDED: { iteration: number; head: string | null; restoredTo: string | null };
  // merge and the human review of a finished run
  MERGE_TARGET_CREATED: { target: string; from: string };
  MERGED: { target: string; strategy: string; status: string; commit: string | null };
  MERGE_CONFLICT: { target: string; runBranch: string; conflicts: string[]; actor?: string };
  REVIEW_MERGED: { target: string; strategy: string; commit: string | null; result: string; actor: string };
  RUN_SCRAPPED: { branch: string; worktree: string; branchDeleted: boolean; worktreeRemoved: boolean; prUrl: unknown; actor: string };
  PR_OPENED: { url: string; remote: string; base: string; head: string; draft: boolean; actor: string };
  // the spec watcher
  TRIGGER_FIRED: { spec: string; plan: string | null; reason: string; planless: boolean };
  TRIGGER_SKIPPED: { spec: string; reason: string };
  TRIGGER_WAITING: { spec: string; plan: string; until: number };
}

export type EventType = keyof EventPayloads;

/** One event as emitted: `type` decides the payload's shape. */
export type LoopEvent = { [K in EventType]: { type: K; payload: EventPayloads[K] } }[EventType];

/** A payload as read back from the database: an older daemon may have written fewer fields. */
export type StoredPayload<K extends EventType> = Partial<EventPayloads[K]>;

/** An emitter of events of one step or run (the handlers' sink, the merge helper). */
/** An event as the API serves it, narrowed by its type (payload fields may be missing: StoredPayload). */
export type StoredEvent<Base = object> = { [K in EventType]: Base & { type: K; payload: StoredPayload<K> } }[EventType];

export type EmitEvent = <K extends EventType>(type: K, payload: EventPayloads[K]) => void;

export const RUN_END_EVENTS = { COMPLETED: 'RUN_COMPLETED', FAILED: 'RUN_FAILED', CANCELED: 'RUN_CANCELED' } as const satisfies Record<
  TerminalRun['status'],
  EventType
>;

/** Narrows an event (as emitted, stored or served by the API) to one type, payload included. */
export function isEventOf<E extends { type: string }, K extends E['type']>(ev: E, type: K): ev is Extract<E, { type: K }> {
  return ev.type === type;
}
