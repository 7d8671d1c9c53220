// Which step comes next: a pure function of the run, its step history and the last result.
// The dispatcher persists whatever this decides; nothing here touches the outside world.
//
// One iteration is: implementation -> verification (verify_cmds set) -> review (reviewer on, only
// when verification passed and there is code the reviewer has not seen) -> watchdog (only when a
// signal fired) -> the next iteration, or merge once completion is proven from loopd's own facts.
import { completionGate, type Completion } from '../core/completion.js';
import type { LedgerCounts } from '../core/ledger.js';
import { computeSignals, iterationFacts, latestPerIteration, type StepFact } from '../core/signals.js';
export type { StepFact, StepResultFacts } from '../core/signals.js';
import { TAMPERING_KINDS, type ExitReason, type StepPhase, type StepStatus, type TamperingKind, type WatchdogSignal } from '../core/types.js';

export interface TransitionConfig {
  iterations: number;
  /** Extra attempts after a failed agent run (claude_retries). */
  agentRetries: number;
  agentRetryBackoffSec: number;
  /** Extra attempts after transient API errors, on their own budget (transient_retries). */
  transientRetries: number;
  /** True when a merge target is set and merge_strategy is not none. */
  mergeEnabled: boolean;
  reviewer: boolean;
  verify: boolean;
  maxConsecutiveVerificationFailures: number;
  maxConsecutiveReviewFailures: number;
  watchdogMaxRewrites: number;
  noProgressIterations: number;
}

export interface RunFact {
  cancelRequested: boolean;
  /** The task ledger now; null (or absent) for a plan-less run, which completes on the token. */
  ledger?: LedgerCounts | null;
}

export type Decision =
  | { kind: 'wait'; reason: 'step_active' }
  | {
      kind: 'queue';
      proof?: CompletionProof;
      phase: StepPhase;
      iteration: number;
      attempt: number;
      delayMs: number;
      signals: WatchdogSignal[];
      /** Why a retry was queued ('agent_failed' | 'transient' | 'rate_limit'), for the event. */
      retry?: { reason: 'agent_failed' | 'transient' | 'rate_limit'; detail: string | null; until: number | null };
    }
  | { kind: 'finish'; status: 'COMPLETED' | 'FAILED' | 'CANCELED'; reason: ExitReason; signals: WatchdogSignal[]; proof?: CompletionProof };

/** Set on the decision that proved completion (a merge queued, or COMPLETED without one). */
export type CompletionProof = { completion: Completion; why: string };

export const MAX_TRANSIENT_BACKOFF_MS = 120_000;
const ACTIVE: readonly StepStatus[] = ['QUEUED', 'IN_PROGRESS'];
const AGENT_PHASES: readonly StepPhase[] = ['implementation', 'review'];

function finish(status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: ExitReason, signals: WatchdogSignal[] = []): Decision {
  return { kind: 'finish', status, reason, signals };
}

type QueueDecision = Extract<Decision, { kind: 'queue' }>;

function queue(phase: StepPhase, iteration: number, attempt = 1, delayMs = 0, signals: WatchdogSignal[] = []): QueueDecision {
  return { kind: 'queue', phase, iteration, attempt, delayMs, signals };
}

export function nextStep(run: RunFact, steps: readonly StepFact[], cfg: TransitionConfig, now = Date.now()): Decision {
  if (steps.some((s) => ACTIVE.includes(s.status))) return { kind: 'wait', reason: 'step_active' };
  const last = steps[steps.length - 1];
  // A merge that landed is the proof of work; a cancel that raced it does not undo it.
  if (last?.phase === 'merge' && last.status === 'SUCCEEDED') return finish('COMPLETED', 'complete_plan');
  if (run.cancelRequested) return finish('CANCELED', 'canceled');
  if (!last) return queue('implementation', 1);
  if (last.status === 'CANCELED') return finish('CANCELED', 'canceled');
  // Whatever the phase: a failure retrying cannot fix (a deleted worktree, a bad key) ends the run.
  if (last.status === 'FAILED' && last.result?.fatal === true) return finish('FAILED', last.result.failReason ?? 'failed');

  if (last.phase === 'implementation' || last.phase === 'review' || last.phase === 'verification') {
    const kind = repeatedTampering(steps);
    if (kind) return finish('FAILED', `tampering:${kind}`);
  }

  switch (last.phase) {
    case 'implementation':
      if (last.status === 'FAILED') return retryOrFail(steps, last, cfg, now);
      return afterImplementation(run, steps, last.iteration, cfg);
    case 'review':
      if (last.status === 'FAILED') return retryOrFail(steps, last, cfg, now);
      return afterReview(run, steps, last, cfg);
    case 'verification':
      return afterVerification(run, steps, last, cfg);
    case 'watchdog':
      if (last.status === 'FAILED') return finish('FAILED', 'failed');
      return nextIteration(last.iteration, cfg);
    case 'merge': {
      const status = last.result?.mergeStatus;
      return finish('FAILED', status === 'conflict' ? 'merge_conflict' : 'merge_failed');
    }
  }
}

/** The first kind of tampering seen twice in the run, if any. */
export function repeatedTampering(steps: readonly StepFact[]): TamperingKind | null {
  const seen = new Map<string, number>();
  for (const s of steps) {
    for (const k of new Set(s.result?.tampering ?? [])) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return TAMPERING_KINDS.find((k) => (seen.get(k) ?? 0) >= 2) ?? null;
}

function codeChanged(s: StepFact): boolean {
  const r = s.result ?? {};
  return typeof r.codeChanged === 'boolean' ? r.codeChanged : (r.commits ?? 0) > 0;
}

/**
 * A review is due when some implementation since the last review changed more than the plan: an
 * iteration that changed nothing is never reviewed (nor paid for), and work whose verification
 * failed is reviewed together with its fix.
 */
export function reviewDue(steps: readonly StepFact[], iteration: number, cfg: TransitionConfig): boolean {
  if (!cfg.reviewer) return false;
  const lastReview = Math.max(0, ...steps.filter((s) => s.phase === 'review' && s.status === 'SUCCEEDED').map((s) => s.iteration));
  return steps.some((s) => s.phase === 'implementation' && s.status === 'SUCCEEDED' && s.iteration > lastReview && s.iteration <= iteration && codeChanged(s));
}

function afterImplementation(run: RunFact, steps: readonly StepFact[], iteration: number, cfg: TransitionConfig): Decision {
  if (cfg.verify) return queue('verification', iteration);
  if (reviewDue(steps, iteration, cfg)) return queue('review', iteration);
  return endOfIteration(run, steps, iteration, cfg);
}

function afterVerification(run: RunFact, steps: readonly StepFact[], last: StepFact, cfg: TransitionConfig): Decision {
  if (last.result?.passed !== true && cfg.maxConsecutiveVerificationFailures > 0) {
    const streak = trailingStreak(steps, 'verification', (s) => s.result?.passed !== true);
    if (streak >= cfg.maxConsecutiveVerificationFailures) {
      return finish('FAILED', `max_consecutive_failures:verification:${cfg.maxConsecutiveVerificationFailures}`);
    }
  }
  if (last.result?.passed === true && reviewDue(steps, last.iteration, cfg)) return queue('review', last.iteration);
  return endOfIteration(run, steps, last.iteration, cfg);
}

function afterReview(run: RunFact, steps: readonly StepFact[], last: StepFact, cfg: TransitionConfig): Decision {
  if (last.result?.approved !== true && cfg.maxConsecutiveReviewFailures > 0) {
    const streak = trailingStreak(steps, 'review', (s) => s.result?.approved !== true);
    if (streak >= cfg.maxConsecutiveReviewFailures) {
      return finish('FAILED', `max_consecutive_failures:review:${cfg.maxConsecutiveReviewFailures}`);
    }
  }
  return endOfIteration(run, steps, last.iteration, cfg);
}

/** How many of the latest settled steps of `phase` (one per iteration) match `failed`, newest first. */
function trailingStreak(steps: readonly StepFact[], phase: StepPhase, failed: (s: StepFact) => boolean): number {
  const perIteration = latestPerIteration(steps.filter((s) => s.phase === phase && s.status !== 'CANCELED'));
  let n = 0;
  for (let i = perIteration.length - 1; i >= 0 && failed(perIteration[i]!); i--) n++;
  return n;
}

function latestOf(steps: readonly StepFact[], phase: StepPhase, upTo: number): StepFact | undefined {
  return [...steps].reverse().find((s) => s.phase === phase && s.iteration <= upTo && (s.status === 'SUCCEEDED' || s.status === 'FAILED') && !s.result?.requeued);
}

function endOfIteration(run: RunFact, steps: readonly StepFact[], iteration: number, cfg: TransitionConfig): Decision {
  const impl = [...steps].reverse().find((s) => s.phase === 'implementation' && s.iteration === iteration && s.status === 'SUCCEEDED');
  const review = cfg.reviewer ? latestOf(steps, 'review', iteration) : undefined;
  const verification = cfg.verify ? latestOf(steps, 'verification', iteration) : undefined;
  const ir = impl?.result ?? {};
  const gate = completionGate({
    claimed: ir.claimed === true,
    ledger: run.ledger ?? null,
    openTasks: ir.openTasks ?? 0,
    reviewerOn: cfg.reviewer,
    lastReviewApproved: review ? review.result?.approved === true : null,
    verificationPassed: verification ? verification.result?.passed === true : null,
  });
  if (gate.complete) {
    const proof: CompletionProof = { completion: gate.completion!, why: gate.reason };
    if (cfg.mergeEnabled) return { ...queue('merge', iteration), proof };
    return { kind: 'finish', status: 'COMPLETED', reason: 'complete_plan', signals: [], proof };
  }
  const facts = iterationFacts(steps).filter((f) => f.iteration <= iteration);
  const signals = computeSignals(facts, { noProgressIterations: cfg.noProgressIterations });
  if (iteration >= cfg.iterations) return finish('FAILED', 'iterations_exhausted', signals);
  if (signals.length > 0) {
    const used = steps.filter((s) => s.phase === 'watchdog' && s.status === 'SUCCEEDED' && s.result?.rewritePath).length;
    if (used >= cfg.watchdogMaxRewrites) return finish('FAILED', `watchdog:${signals[0]}`, signals);
    return queue('watchdog', iteration, 1, 0, signals);
  }
  return nextIteration(iteration, cfg);
}

function nextIteration(iteration: number, cfg: TransitionConfig): Decision {
  if (iteration >= cfg.iterations) return finish('FAILED', 'iterations_exhausted');
  return queue('implementation', iteration + 1);
}

/**
 * A failed agent step (implementation or review). Transient API errors retry on their own budget
 * with exponential backoff (capped), or until a rate limit's reset time when the agent reported
 * one; any other failure retries claude_retries times after a fixed backoff.
 */
function retryOrFail(steps: readonly StepFact[], last: StepFact, cfg: TransitionConfig, now: number): Decision {
  const same = steps.filter((s) => s.phase === last.phase && s.iteration === last.iteration && s.status === 'FAILED' && !s.result?.requeued);
  const r = last.result ?? {};
  const reason = r.failReason ?? 'agent_failed';
  // A bad key, a refusal to run as root, a deleted worktree: retrying cannot help.
  if (r.fatal === true) return finish('FAILED', reason);
  if (AGENT_PHASES.includes(last.phase) && r.transientError) {
    const transient = same.filter((s) => s.result?.transientError).length;
    if (transient <= cfg.transientRetries) {
      const resetAt = typeof r.rateLimitResetAt === 'number' && r.rateLimitResetAt > now ? r.rateLimitResetAt : null;
      const base = Math.max(1, cfg.agentRetryBackoffSec) * 1000;
      const delay = resetAt !== null ? resetAt - now : Math.min(MAX_TRANSIENT_BACKOFF_MS, base * 2 ** (transient - 1));
      const d = queue(last.phase, last.iteration, last.attempt + 1, delay);
      return { ...d, retry: { reason: resetAt !== null ? 'rate_limit' : 'transient', detail: r.transientError, until: resetAt } };
    }
    return finish('FAILED', reason);
  }
  const ordinary = same.filter((s) => !s.result?.transientError).length;
  if (ordinary <= cfg.agentRetries) {
    const d = queue(last.phase, last.iteration, last.attempt + 1, cfg.agentRetryBackoffSec * 1000);
    return { ...d, retry: { reason: 'agent_failed', detail: null, until: null } };
  }
  return finish('FAILED', reason);
}
