// Recording a handler's outcome: the step's end, the run's usage, the ledger the step judged, the
// run-level policy (budget pause, rate-limit hold: host/step-policy.ts) and the next step, all in
// one transaction, so a crash leaves either all of it or none.
import { digestResult, type StepResultFacts } from '../../core/results.js';
import type { HandlerResult } from '../../functions/types.js';
import { agentKindFor, runConfig } from '../run-input.js';
import { budgetPause, rateLimitHold } from '../step-policy.js';
import type { StepOutcome, StoreTx } from '../store/types.js';
import { advanceRun } from './decide.js';

export function outcomeOf(result: HandlerResult): StepOutcome {
  return {
    status: result.status,
    exit_code: result.exitCode ?? null,
    result: result.result,
    error: result.error ?? null,
    prompt_path: result.promptPath ?? null,
    output_path: result.outputPath ?? null,
    usage: result.usage
      ? { costUsd: result.usage.costUsd, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, costSource: result.usage.costSource ?? 'reported' }
      : null,
  };
}

/**
 * Must run inside a transaction. Returns when the dispatcher should look again (a delayed next
 * step), or null; does nothing when the step is no longer IN_PROGRESS (recorded already).
 */
export async function completeStep(tx: StoreTx, stepId: number, result: HandlerResult, now: number): Promise<{ wakeAt: number | null } | null> {
  const step = await tx.getStep(stepId);
  if (!step || step.status !== 'IN_PROGRESS') return null;
  if (step.phase === 'merge') await tx.releaseMergeLock(stepId);
  const updated = await tx.finishStep(stepId, outcomeOf(result), now);
  if (!updated) return null;
  await tx.appendEvent(step.run_id, stepId, 'STEP_FINISHED', {
    phase: updated.phase,
    iteration: updated.iteration,
    attempt: updated.attempt,
    status: updated.status,
    exitCode: updated.exit_code,
    error: updated.error,
    ...(result.usage ? { costUsd: result.usage.costUsd, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens } : {}),
    ...digestResult(result.result),
  });
  const before = await tx.getRun(step.run_id);
  if (!before) return null;
  let run = await tx.chargeRun(before.id, {
    usage: outcomeOf(result).usage,
    error: result.error ?? null,
    ...(result.runPatch?.worktreePath ? { worktreePath: result.runPatch.worktreePath } : {}),
  });
  // The ledger changes with the step that judged the plan, in the same transaction.
  if (result.ledger) await tx.saveLedger(run.id, result.ledger);
  const cfg = runConfig(run);
  const pause = budgetPause({ runStatus: run.status, costBefore: before.cost_usd, costAfter: run.cost_usd, maxCostUsd: cfg.max_cost_usd });
  if (pause) {
    await tx.appendEvent(run.id, null, 'BUDGET_EXCEEDED', pause);
    run = await tx.pauseRun(run.id, 'budget_exceeded');
    await tx.appendEvent(run.id, null, 'RUN_PAUSED', { reason: 'budget_exceeded' });
  }
  const hold = rateLimitHold({ stepStatus: updated.status, agentKind: agentKindFor(cfg, updated.phase), rateLimitResetAt: (result.result as StepResultFacts).rateLimitResetAt, now });
  if (hold) {
    await tx.holdAgent({ ...hold, run_id: run.id, step_id: stepId });
    await tx.appendEvent(run.id, stepId, 'RATE_LIMIT_WAIT', hold);
  }
  // A paused run still gets its next step queued, so resuming just carries on.
  if (run.status !== 'RUNNING' && run.status !== 'PAUSED') return { wakeAt: null };
  return { wakeAt: await advanceRun(tx, run, now) };
}
