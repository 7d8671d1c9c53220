// What a previous daemon left in flight: a step whose agent still runs (or finished while no one
// watched) is adopted and followed to its end, instead of paying for it twice; a step whose process
// is gone is failed (not the agent's fault: it does not use up retries) and queued again with the
// same input. Then every RUNNING run gets its next step, and owed finalisation is done.
import { isTerminalRunStatus } from '../../core/types.js';
import { isAlive } from '../../core/agents/process.js';
import { abandonStepProcess, recoverStepProcess, type RecordedProcess } from '../../functions/step-process.js';
import type { RunRecord, StepRecord } from '../store/types.js';
import { inTx, type DispatchContext } from './context.js';
import { advanceRun } from './decide.js';
import { execute } from './execute.js';
import { finaliseOwed } from './finalise.js';

export async function recover(ctx: DispatchContext): Promise<void> {
  for (const step of await ctx.store.stepsWithStatus(['IN_PROGRESS'])) {
    if (ctx.active.has(step.id)) continue;
    // In a cluster, other hosts' steps are theirs (an expired lease is reaped, not recovered).
    if (!ctx.cluster.owns(step)) continue;
    const run = await ctx.store.getRun(step.run_id);
    if (run) await recoverStep(ctx, run, step);
  }
  for (const run of await ctx.store.listRuns({ status: ['RUNNING'] })) {
    const at = await inTx(ctx, async (tx) => {
      const fresh = await tx.getRun(run.id);
      return fresh && fresh.status === 'RUNNING' ? advanceRun(tx, fresh, ctx.clock.now()) : null;
    });
    if (at !== null) ctx.wakeAt(at);
  }
  // Finalisation owed is a fact in the database (runs.finalized_at), not a guess from the files.
  await finaliseOwed(ctx);
}

async function recoverStep(ctx: DispatchContext, run: RunRecord, step: StepRecord): Promise<void> {
  // The protocol's recovery (functions/step-process.ts): found by pid + start time, or by its
  // nonce when the pid was never recorded, or known finished by its exit file.
  const found = recoverStepProcess(step.process as RecordedProcess | null);
  const handler = ctx.handlers[step.phase];
  const running = !isTerminalRunStatus(run.status);
  if (found.kind === 'adopt' && handler && running) {
    const handle = found.proc;
    // The agent outlived the previous daemon: follow it to its end instead of paying twice.
    await inTx(ctx, (tx) => tx.appendEvent(run.id, step.id, 'STEP_ADOPTED', { pid: handle.pid, phase: step.phase, iteration: step.iteration }));
    execute(ctx, run, step, handler, handle);
    return;
  }
  if (found.proc && isAlive(found.proc)) void abandonStepProcess(found.proc);
  await inTx(ctx, async (tx) => {
    const now = ctx.clock.now();
    // Not the agent's failure: { requeued } keeps it from using up claude_retries.
    const failed = await tx.failStep(step.id, 'the daemon stopped while this step ran and its process is gone', { requeued: true }, now);
    // Already ended: another host reaped its lease and queued the next attempt itself.
    if (!failed || !running || run.cancel_requested) return;
    const again = await tx.queueStep({ run_id: run.id, phase: step.phase, iteration: step.iteration, attempt: step.attempt + 1, input: step.input });
    await tx.appendEvent(run.id, again.id, 'STEP_REQUEUED', {
      phase: step.phase,
      iteration: step.iteration,
      attempt: again.attempt,
      reason: 'process vanished without an exit status after a daemon restart',
    });
  });
}
