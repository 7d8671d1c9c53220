// What a finished step means for its run beyond the next step: the two pieces of policy that used
// to sit in the dispatcher (budget pause, rate-limit hold). Pure functions of facts the dispatcher
// already holds; it persists whatever these decide, in the transaction that records the step.
import type { RunStatus, StepStatus } from '../core/types.js';

export interface BudgetFacts {
  runStatus: RunStatus;
  /** The run's cost before and after this step's usage was charged. */
  costBefore: number;
  costAfter: number;
  /** The run's budget (max_cost_usd); 0 means no limit. */
  maxCostUsd: number;
}

/**
 * Pause when this step crossed the budget, once: a run resumed without a raised budget is already
 * over it, and "resume" then means "go on". Only a RUNNING run is paused (a paused or ended one is not).
 */
export function budgetPause(f: BudgetFacts): { costUsd: number; maxCostUsd: number } | null {
  if (f.runStatus !== 'RUNNING' || !(f.maxCostUsd > 0)) return null;
  if (f.costBefore >= f.maxCostUsd || f.costAfter < f.maxCostUsd) return null;
  return { costUsd: f.costAfter, maxCostUsd: f.maxCostUsd };
}

export interface HoldFacts {
  stepStatus: StepStatus;
  /** The agent kind the step ran, or null for phases that run no agent. */
  agentKind: string | null;
  /** When the agent's provider said its rate limit resets (the step's result), if it did. */
  rateLimitResetAt: unknown;
  now: number;
}

/** Hold every step of that agent kind (any run, any host) until the limit resets, when a failed agent step reported one still ahead. */
export function rateLimitHold(f: HoldFacts): { agent: string; until: number } | null {
  if (f.stepStatus !== 'FAILED' || !f.agentKind) return null;
  const until = f.rateLimitResetAt;
  if (typeof until !== 'number' || !Number.isFinite(until) || until <= f.now) return null;
  return { agent: f.agentKind, until };
}
