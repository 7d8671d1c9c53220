// Which step comes next: a pure function of the run, its step history and the last result.
// The dispatcher persists whatever this decides; nothing here touches the outside world.
import { completionGate } from '../core/completion.js';
import type { ExitReason, StepPhase, StepStatus } from '../core/types.js';

export interface TransitionConfig {
  iterations: number;
  /** Extra attempts after a failed agent run (claude_retries). */
  agentRetries: number;
  agentRetryBackoffSec: number;
  /** True when a merge target is set and merge_strategy is not none. */
  mergeEnabled: boolean;
}

export interface ImplementationOutcome {
  claimed: boolean;
  malformed: boolean;
  openTasks: number;
  timedOut?: boolean;
}

export interface MergeOutcome {
  mergeStatus: 'merged' | 'already_merged' | 'nothing_to_merge' | 'conflict' | 'error';
  reason?: string;
}

export interface StepFact {
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  result: Partial<ImplementationOutcome & MergeOutcome> | null;
}

export interface RunFact {
  cancelRequested: boolean;
}

export type Decision =
  | { kind: 'wait'; reason: 'step_active' }
  | { kind: 'queue'; phase: StepPhase; iteration: number; attempt: number; delayMs: number; signals: string[] }
  | { kind: 'finish'; status: 'COMPLETED' | 'FAILED' | 'CANCELED'; reason: ExitReason; signals: string[] };

const ACTIVE: readonly StepStatus[] = ['QUEUED', 'IN_PROGRESS'];

function finish(status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: ExitReason, signals: string[] = []): Decision {
  return { kind: 'finish', status, reason, signals };
}

function queue(phase: StepPhase, iteration: number, attempt = 1, delayMs = 0, signals: string[] = []): Decision {
  return { kind: 'queue', phase, iteration, attempt, delayMs, signals };
}

export function nextStep(run: RunFact, steps: readonly StepFact[], cfg: TransitionConfig): Decision {
  if (steps.some((s) => ACTIVE.includes(s.status))) {
    return { kind: 'wait', reason: 'step_active' };
  }
  const last = steps[steps.length - 1];
  // A merge that landed is the proof of work; a cancel that raced it does not undo it.
  if (last?.phase === 'merge' && last.status === 'SUCCEEDED') return finish('COMPLETED', 'complete_plan');
  if (run.cancelRequested) return finish('CANCELED', 'canceled');
  if (!last) return queue('implementation', 1);
  if (last.status === 'CANCELED') return finish('CANCELED', 'canceled');

  switch (last.phase) {
    case 'implementation':
      return afterImplementation(last, cfg);
    case 'merge':
      return afterMerge(last);
    case 'review':
    case 'verification':
    case 'watchdog':
      // These phases are not scheduled by this version; a history holding them (say, from a
      // newer loopd) must not be guessed at.
      return finish('FAILED', 'failed');
  }
}

function afterImplementation(last: StepFact, cfg: TransitionConfig): Decision {
  const r = last.result ?? {};
  if (last.status === 'FAILED') {
    if (last.attempt <= cfg.agentRetries) {
      return queue('implementation', last.iteration, last.attempt + 1, cfg.agentRetryBackoffSec * 1000);
    }
    return finish('FAILED', 'claude_failed');
  }
  const gate = completionGate({
    claimed: r.claimed === true,
    openTasks: r.openTasks ?? 0,
    reviewerOn: false,
    unreviewedTasks: 0,
    lastReviewApproved: null,
    verificationPassed: null,
  });
  const signals: string[] = [];
  if (gate.signal) signals.push(gate.signal);
  else if (r.malformed) signals.push('malformed_complete');
  if (gate.complete) {
    return cfg.mergeEnabled ? queue('merge', last.iteration, 1, 0, signals) : finish('COMPLETED', 'complete_plan', signals);
  }
  if (last.iteration >= cfg.iterations) return finish('FAILED', 'iterations_exhausted', signals);
  return queue('implementation', last.iteration + 1, 1, 0, signals);
}

function afterMerge(last: StepFact): Decision {
  if (last.status === 'SUCCEEDED') return finish('COMPLETED', 'complete_plan');
  const status = last.result?.mergeStatus;
  return finish('FAILED', status === 'conflict' ? 'merge_conflict' : 'merge_failed');
}
