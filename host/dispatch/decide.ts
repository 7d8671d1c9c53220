// Persisting what the transition rules (host/transitions.ts) decide for a run: the next step with
// its input, the proof of completion, or the run's end. Always inside the caller's transaction, so
// the decision lands together with the change that led to it.
import { ledgerCounts } from '../../core/ledger.js';
import { RUN_END_EVENTS } from '../../core/events.js';
import { transitionConfig } from '../run-input.js';
import type { RunRecord, StoreReads, StoreTx } from '../store/types.js';
import { nextStep, type Decision, type StepFact } from '../transitions.js';

export async function decide(tx: StoreReads, run: RunRecord, now: number): Promise<Decision> {
  const steps = await tx.stepsForRun(run.id);
  const facts: StepFact[] = steps.map((s) => ({ phase: s.phase, status: s.status, iteration: s.iteration, attempt: s.attempt, result: s.result }));
  const planRun = run.plan_path !== null && (await tx.getRunTruth(run.id)) !== undefined;
  const ledger = planRun ? ledgerCounts(await tx.ledgerFor(run.id)) : null;
  return nextStep({ cancelRequested: run.cancel_requested, ledger }, facts, transitionConfig(run), now);
}

/** Decides and records the run's next move; returns when the dispatcher should look again (a delayed step), or null. */
export async function advanceRun(tx: StoreTx, run: RunRecord, now: number): Promise<number | null> {
  return applyDecision(tx, run, await decide(tx, run, now), now);
}

async function applyDecision(tx: StoreTx, run: RunRecord, d: Decision, now: number): Promise<number | null> {
  if (d.kind === 'wait') return null;
  for (const signal of d.signals) await tx.appendEvent(run.id, null, 'SIGNAL', { signal });
  if (d.proof) {
    await tx.setCompletion(run.id, d.proof.completion);
    await tx.appendEvent(run.id, null, 'COMPLETION_PROVEN', { completion: d.proof.completion, reason: d.proof.why });
  }
  if (d.kind === 'finish') {
    await endRun(tx, run.id, d.status, d.reason, d.status === 'COMPLETED' ? null : run.last_error, now);
    return null;
  }
  const step = await tx.queueStep({
    run_id: run.id,
    phase: d.phase,
    iteration: d.iteration,
    attempt: d.attempt,
    not_before: d.delayMs > 0 ? now + d.delayMs : null,
    // The watchdog acts on the signals that queued it, instead of deriving them again.
    input: d.phase === 'watchdog' && d.signals.length > 0 ? { signals: d.signals } : null,
  });
  await tx.appendEvent(run.id, step.id, d.attempt > 1 ? 'STEP_RETRY_QUEUED' : 'STEP_QUEUED', {
    phase: d.phase,
    iteration: d.iteration,
    attempt: d.attempt,
    delayMs: d.delayMs,
    ...(d.retry ? { reason: d.retry.reason, detail: d.retry.detail, until: d.retry.until, message: await lastError(tx, run.id) } : {}),
  });
  return d.delayMs > 0 ? now + d.delayMs : null;
}

/** The readable error of the run's latest failed step, for retry events. */
async function lastError(tx: StoreReads, runId: string): Promise<string | null> {
  const steps = await tx.stepsForRun(runId);
  for (let i = steps.length - 1; i >= 0; i--) if (steps[i]!.status === 'FAILED') return steps[i]!.error;
  return null;
}

/** Ends a run (its queued steps canceled with it) together with its RUN_<STATUS> event. */
export async function endRun(
  tx: StoreTx,
  runId: string,
  status: 'COMPLETED' | 'FAILED' | 'CANCELED',
  reason: string,
  error: string | null,
  now: number,
): Promise<RunRecord> {
  const run = await tx.finishRun(runId, status, reason, error, now);
  await tx.appendEvent(runId, null, RUN_END_EVENTS[status], { status, reason, error });
  return run;
}
