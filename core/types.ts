// Shared domain vocabulary. Kept free of Node imports so every layer can import it.

export { RUN_STATUSES, TERMINAL_RUN_STATUSES, isTerminalRunStatus, type RunStatus } from './run-status.js';

export const STEP_PHASES = ['implementation', 'review', 'verification', 'watchdog', 'merge'] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export const STEP_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const COMPLETION_MODES = ['exact', 'trailing'] as const;
export type CompletionMode = (typeof COMPLETION_MODES)[number];

export const WATCHDOG_SIGNALS = ['repeated_task', 'no_progress', 'verification_failed', 'malformed_complete'] as const;
export type WatchdogSignal = (typeof WATCHDOG_SIGNALS)[number];

/** Kinds of tampering loopd undoes; the same kind twice in a run fails it (tampering:<kind>). */
export const TAMPERING_KINDS = ['history_rewritten', 'spec_tampered', 'plan_tampered', 'tick_without_work'] as const;
export type TamperingKind = (typeof TAMPERING_KINDS)[number];

export const MERGE_STRATEGIES = ['none', 'merge', 'squash'] as const;
export type MergeStrategy = (typeof MERGE_STRATEGIES)[number];

export const QUEUE_POLICIES = ['fifo', 'newest_first'] as const;
export type QueuePolicy = (typeof QUEUE_POLICIES)[number];

export const NAME_SOURCES = ['spec_slug', 'haiku', 'explicit'] as const;
export type NameSource = (typeof NAME_SOURCES)[number];

export const RUN_ORIGINS = ['cli', 'watch', 'api'] as const;
export type RunOrigin = (typeof RUN_ORIGINS)[number];

// The agent kinds are the registry's (core/agents/kinds/index.ts: one file per kind).
export { AGENT_KINDS, type AgentKind } from './agents/kinds/index.js';

export const COMPLETION_TOKEN = '<promise>COMPLETE</promise>';

/** Why a run ended; written to runs.exit_reason and summary.json. */
export type ExitReason =
  | 'complete_plan'
  | 'iterations_exhausted'
  | 'claude_failed'
  | 'agent_failed'
  | 'failed'
  | 'canceled'
  | (string & {});
