// What a user asks of a run: cancel, pause, resume. Each is one transaction with its event; the
// scheduler sees the new state on its next round.
import { runConfig } from '../run-input.js';
import { inTx, type DispatchContext } from './context.js';
import { endRun } from './decide.js';

/** Kills the run's agents (if this dispatcher runs any) and waits until the run is recorded CANCELED. */
export async function cancelRun(ctx: DispatchContext, runId: string): Promise<void> {
  const inFlight = [...ctx.active.values()].filter((a) => a.runId === runId);
  await inTx(ctx, async (tx) => {
    await tx.requestCancel(runId);
    await tx.appendEvent(runId, null, 'RUN_CANCEL_REQUESTED', {});
    // With a step in flight, its end records the cancel (the transition rules see cancel_requested).
    if (inFlight.length === 0) await endRun(tx, runId, 'CANCELED', 'canceled', null, ctx.clock.now());
  });
  for (const a of inFlight) a.abort.abort(new Error('canceled'));
  await Promise.allSettled(inFlight.map((a) => a.done));
  await ctx.finalise(runId);
  ctx.wake();
}

/** The current step finishes; no further step is claimed until resume. */
export async function pauseRun(ctx: DispatchContext, runId: string, reason: string): Promise<void> {
  await inTx(ctx, async (tx) => {
    await tx.pauseRun(runId, reason);
    await tx.appendEvent(runId, null, 'RUN_PAUSED', { reason });
  });
}

/** Back in the admission queue, with a raised budget if given: it runs again as soon as the caps allow. */
export async function resumeRun(ctx: DispatchContext, runId: string, opts: { maxCostUsd?: number }): Promise<void> {
  await inTx(ctx, async (tx) => {
    const run = await tx.getRun(runId);
    if (!run) throw new Error(`run ${runId} not found`);
    const { maxCostUsd } = opts;
    if (maxCostUsd !== undefined) {
      await tx.resumeRun(runId, { ...runConfig(run), max_cost_usd: maxCostUsd });
      await tx.appendEvent(runId, null, 'CONFIG_CHANGED', { key: 'max_cost_usd', value: maxCostUsd });
    } else {
      await tx.resumeRun(runId);
    }
    await tx.appendEvent(runId, null, 'RUN_RESUMED', maxCostUsd !== undefined ? { maxCostUsd } : {});
  });
  ctx.wake();
}
