// The contract between the dispatcher and the phase handlers. A handler gets everything it needs
// in its input and reports through its result and the sink; it keeps nothing between calls.
import type { LoopConfig } from '../core/config.js';
import type { LedgerTask } from '../core/ledger.js';
import type { ProcessHandle } from '../core/agents/process.js';
import type { HeartbeatGuard } from '../core/agents/heartbeat-guard.js';
import type { StepPhase, StepStatus, WatchdogSignal } from '../core/types.js';
import type { EmitEvent } from '../core/events.js';
import type { PhaseResults, StepResult, StepResultFacts } from '../core/results.js';

export interface RunInput {
  id: string;
  name: string;
  workspaceRoot: string;
  /** Relative to the workspace root (and so also to the worktree root). */
  specPath: string;
  planPath: string | null;
  baseBranch: string;
  runBranch: string;
  mergeTargetBranch: string | null;
  mergeStrategy: 'none' | 'merge' | 'squash';
  worktreePath: string;
  worktreeProvider: string;
  runDir: string;
  config: LoopConfig;
  /** The spec and plan as handed over at creation (loopd's truth); absent for older runs. */
  specText?: string | null;
  planText?: string | null;
}

export interface StepInput {
  id: number;
  phase: StepPhase;
  iteration: number;
  attempt: number;
  /** What the decision that queued the step handed it (the watchdog's signals); null for older steps. */
  input?: { signals?: WatchdogSignal[] } | null;
}

export interface HistoryEntry {
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  result: StepResultFacts | null;
}

export interface AgentProcessInfo extends ProcessHandle {
  logPath: string;
  exitPath: string;
  /** Facts from before the agent started, needed to judge its work if the step is re-adopted. */
  commitBefore: string;
  planBefore: string | null;
  startedAt: number;
}

export interface EventSink {
  event: EmitEvent;
  /**
   * Recorded just before spawning: with the nonce, a restarted daemon finds a process whose pid it
   * missed. Await it before the spawn; it rejects when the record could not be written.
   */
  processIntent(p: Omit<AgentProcessInfo, 'pid' | 'pgid' | 'startTime'>): Promise<void>;
  /** Recorded on the step so a restarted daemon can find the process (need not be awaited). */
  processStarted(p: AgentProcessInfo): Promise<void>;
  /** The step's log grew: wakes live output subscribers. */
  outputGrew(): void;
  /** Registers a file in the artifacts table (checksum computed by the host). */
  artifact(kind: string, path: string): void;
}

export interface HandlerInput {
  run: RunInput;
  step: StepInput;
  history: HistoryEntry[];
  signal: AbortSignal;
  sink: EventSink;
  /** The task ledger as loopd recorded it before this step. */
  ledger: LedgerTask[];
  /** Set when a restarted daemon re-adopts this step's still-running (or finished) agent. */
  adopt?: AgentProcessInfo | null;
  /** Cluster mode: the guard every process of the step carries (core/agents/heartbeat-guard.ts). */
  guard?: HeartbeatGuard | null;
}

export interface HandlerResult<R extends StepResult = StepResult> {
  status: 'SUCCEEDED' | 'FAILED' | 'CANCELED';
  exitCode?: number | null;
  promptPath?: string | null;
  outputPath?: string | null;
  error?: string | null;
  usage?: { inputTokens: number; outputTokens: number; costUsd: number; costSource?: string; model?: string | null } | null;
  /** Run fields the handler learned (worktrunk chooses the worktree path); the dispatcher saves them. */
  runPatch?: { worktreePath?: string };
  /** The whole task ledger after this step, when the step changed it; saved with the step. */
  ledger?: LedgerTask[];
  result: R;
}

/** The handler of one phase: its result type is that phase's (core/results.ts). */
export type Handler<P extends StepPhase = StepPhase> = (input: HandlerInput) => Promise<HandlerResult<PhaseResults[P]>>;
