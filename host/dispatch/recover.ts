// What a previous daemon left in flight: a step whose agent still runs (or finished while no one
// watched) is adopted and followed to its end, instead of paying for it twice; a step whose process
// is gone is failed (not the agent's fault: it does not use up retries) and queued again with the
// same input. Then every RUNNING run gets its next step, and owed finalisation is done.
import { findByNonce, isAlive, killTree, readExitStatus } from '../../core/agents/process.js';
import { isTerminalRunStatus } from '../../core/types.js';
import type { AgentProcessInfo } from '../../functions/types.js';
import type { RunRecord, StepRecord } from '../store/types.js';
import { inTx, type DispatchContext } from './context.js';
import { advanceRun } from './decide.js';
import { execute } from './execute.js';
import { finaliseOwed } from './finalise.js';

export async function recover(ctx: DispatchContext): Promise<void> {
  for (const step of await ctx.store.stepsWithStatus(['IN_PROGRESS'])) {
    if (ctx.active.has(step.id)) continue;
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

/** The step's process as the previous daemon recorded it, found again by its nonce if the pid was never recorded. */
function processOf(step: StepRecord): AgentProcessInfo | null {
  let proc = step.process as (Partial<AgentProcessInfo> & { nonce: string; exitPath: string }) | null;
  if (proc && !proc.pid) {
    // The daemon died between spawning and recording the pid.
    const found = findByNonce(proc.nonce);
    if (found) proc = { ...proc, ...found };
    else if (readExitStatus(proc.exitPath) !== null) proc = { ...proc, pid: 0, pgid: 0, startTime: '' };
    else proc = null;
  }
  return proc as AgentProcessInfo | null;
}

async function recoverStep(ctx: DispatchContext, run: RunRecord, step: StepRecord): Promise<void> {
  const handle = processOf(step);
  const handler = ctx.handlers[step.phase];
  const running = !isTerminalRunStatus(run.status);
  if (handle && handler && running && (isAlive(handle) || readExitStatus(handle.exitPath) !== null)) {
    // The agent outlived the previous daemon: follow it to its end instead of paying twice.
    await inTx(ctx, (tx) => tx.appendEvent(run.id, step.id, 'STEP_ADOPTED', { pid: handle.pid, phase: step.phase, iteration: step.iteration }));
    execute(ctx, run, step, handler, handle);
    return;
  }
  if (handle && isAlive(handle)) void killTree(handle, 2000);
  await inTx(ctx, async (tx) => {
    const now = ctx.clock.now();
    // Not the agent's failure: { requeued } keeps it from using up claude_retries.
    await tx.failStep(step.id, 'the daemon stopped while this step ran and its process is gone', { requeued: true }, now);
    if (!running || run.cancel_requested) return;
    const again = await tx.queueStep({ run_id: run.id, phase: step.phase, iteration: step.iteration, attempt: step.attempt + 1, input: step.input });
    await tx.appendEvent(run.id, again.id, 'STEP_REQUEUED', {
      phase: step.phase,
      iteration: step.iteration,
      attempt: again.attempt,
      reason: 'process vanished without an exit status after a daemon restart',
    });
  });
}
