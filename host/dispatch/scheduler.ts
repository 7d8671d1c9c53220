// One scheduling round: admit PENDING runs within the concurrency caps, then claim QUEUED steps
// that may start now (not delayed, their agent kind not held, merge lock free). Every admission
// and claim is a transaction that can lose a race to another host (admitRun/claimStep return
// null); the loser just moves on.
import type { Handler } from '../../functions/types.js';
import { agentKindFor, runConfig } from '../run-input.js';
import type { RunRecord, StepRecord } from '../store/types.js';
import { inTx, type DispatchContext } from './context.js';
import { advanceRun, endRun } from './decide.js';

export interface Claimed {
  run: RunRecord;
  step: StepRecord;
  handler: Handler;
}

export async function admitRuns(ctx: DispatchContext): Promise<void> {
  const { store } = ctx;
  // Asked first: on every round of the dispatcher, but nearly always empty, and then the running
  // runs (two more queries, every row decoded) are not needed.
  const pending = await store.listRuns({ status: ['PENDING'] });
  if (pending.length === 0) return;
  const activeRuns = new Set([...ctx.active.values()].map((a) => a.runId));
  // A paused run whose step is still finishing keeps its slot until that step ends.
  const running = [...(await store.listRuns({ status: ['RUNNING'] })), ...(await store.listRuns({ status: ['PAUSED'] })).filter((r) => activeRuns.has(r.id))];
  let total = running.length;
  const perWs = new Map<string, number>();
  for (const r of running) perWs.set(r.workspace_root, (perWs.get(r.workspace_root) ?? 0) + 1);
  // Alone, this host's cap; in a cluster, every live host's added up (steps are capped per host).
  const slots = await ctx.cluster.runSlots(ctx.maxConcurrency);
  for (const run of pendingInOrder(pending)) {
    if (total >= slots) break;
    const cap = runConfig(run).max_runs_per_workspace;
    if (cap > 0 && (perWs.get(run.workspace_root) ?? 0) >= cap) continue;
    const admitted = await inTx(ctx, async (tx) => {
      // Counted again inside the transaction, across hosts (other hosts admit too).
      if (cap > 0 && (await tx.workspaceSlotsTaken(run.workspace_root)) >= cap) return false;
      const before = await tx.getRun(run.id);
      const now = ctx.clock.now();
      const fresh = before ? await tx.admitRun(run.id, now) : null;
      if (!before || !fresh) return false;
      await tx.appendEvent(run.id, null, 'RUN_STARTED', { status: 'RUNNING', resumed: before.started_at !== null });
      const at = await advanceRun(tx, fresh, now);
      if (at !== null) ctx.wakeAt(at);
      return true;
    });
    if (admitted) {
      total++;
      perWs.set(run.workspace_root, (perWs.get(run.workspace_root) ?? 0) + 1);
    }
  }
}

/** PENDING runs (listed newest first) in admission order: per workspace by its queue_policy, workspaces FIFO. */
export function pendingInOrder(newestFirst: RunRecord[]): RunRecord[] {
  const byWs = new Map<string, RunRecord[]>();
  for (const r of [...newestFirst].reverse()) byWs.set(r.workspace_root, [...(byWs.get(r.workspace_root) ?? []), r]);
  const lanes = [...byWs.values()].map((runs) => (runConfig(runs[runs.length - 1]!).queue_policy === 'newest_first' ? [...runs].reverse() : runs));
  // Interleave lanes so one busy workspace cannot starve another.
  const out: RunRecord[] = [];
  for (let i = 0; lanes.some((l) => i < l.length); i++) for (const l of lanes) if (i < l.length) out.push(l[i]!);
  return out;
}

/** How soon a cluster host looks again at a queued step it could not run. */
const CLUSTER_RECHECK_MS = 5000;

/**
 * Claims what may start now, in queue order, up to the concurrency cap; `start` runs each claim
 * at once (so the cap counts it). Returns the soonest time a waiting step may start, or null.
 */
export async function claimSteps(ctx: DispatchContext, start: (c: Claimed) => void): Promise<number | null> {
  const { store } = ctx;
  const now = ctx.clock.now();
  let soonest: number | null = null;
  const later = (at: number) => (soonest = soonest === null ? at : Math.min(soonest, at));
  // Rate-limit holds are rows (agent_holds): a restarted daemon, or another host, keeps them.
  const holds = new Map((await store.agentHolds(now)).map((h) => [h.agent, h.until]));
  // A cluster host whose leases may have lapsed (it could not renew) takes nothing new; it looks
  // again shortly, when its heartbeat may have got through.
  if (!ctx.cluster.mayClaim()) return now + 500;
  for (const step of await store.stepsWithStatus(['QUEUED'])) {
    if (ctx.active.size >= ctx.maxConcurrency) break;
    const run = await store.getRun(step.run_id);
    if (!run || run.status !== 'RUNNING') continue;
    // Another host's step: this one lacks its agent or cannot reach its workspace. Both can change
    // (an agent installed, a share mounted) without an event, so look again in a while.
    if (!ctx.cluster.canRun(run, step.phase)) {
      later(now + CLUSTER_RECHECK_MS);
      continue;
    }
    if (step.not_before && step.not_before > now) {
      later(step.not_before);
      continue;
    }
    const agentKind = agentKindFor(runConfig(run), step.phase);
    const hold = agentKind ? holds.get(agentKind) : undefined;
    if (hold !== undefined && hold > now) {
      later(hold);
      continue;
    }
    const handler = ctx.handlers[step.phase];
    if (!handler) {
      await failUnsupported(ctx, run, step);
      continue;
    }
    const claimed = await inTx(ctx, async (tx) => {
      // Merges into one target branch are serialized by a row (merge_locks), taken with the
      // claim; the next merge waits for the wake-up that follows the holder's end.
      if (step.phase === 'merge') {
        const lock = { workspace_root: run.workspace_root, target_branch: run.merge_target_branch ?? '', step_id: step.id };
        if (!(await tx.takeMergeLock(lock, ctx.clock.now()))) return null;
      }
      const s = await tx.claimStep(step.id, ctx.instanceId, ctx.clock.now());
      // Lost the race: the lock taken above rolls back with this transaction.
      if (!s) throw new LostClaim();
      await tx.appendEvent(run.id, step.id, 'STEP_STARTED', { phase: s.phase, iteration: s.iteration, attempt: s.attempt });
      return s;
    }).catch((e: unknown) => {
      if (e instanceof LostClaim) return null;
      throw e;
    });
    if (claimed) start({ run, step: claimed, handler });
  }
  return soonest;
}

class LostClaim extends Error {}

async function failUnsupported(ctx: DispatchContext, run: RunRecord, step: StepRecord): Promise<void> {
  await inTx(ctx, async (tx) => {
    const now = ctx.clock.now();
    await tx.failStep(step.id, `no handler for phase ${step.phase}`, null, now);
    await endRun(tx, run.id, 'FAILED', 'failed', `this loopd has no handler for the ${step.phase} phase`, now);
  });
  await ctx.finalise(run.id);
}
