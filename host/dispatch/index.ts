// The dispatcher: the `steps` table is the durable queue. Rounds of admit + claim (scheduler.ts)
// start steps (execute.ts), whose outcome lands with the next step in one transaction
// (complete.ts, decide.ts); recover.ts takes over what a previous daemon left in flight;
// finalise.ts does the file work after a run's end. Wake-ups come from events and timers, never
// from a busy poll. Everything goes through the LoopStore interface: nothing here knows SQLite.
import type { RunStatus } from '../../core/types.js';
import { isBusy } from '../busy.js';
import { errorText, systemClock, type Active, type Clock, type DispatchContext, type DispatcherOptions } from './context.js';
import { cancelRun, pauseRun, resumeRun } from './control.js';
import { execute } from './execute.js';
import { cleanupWorktree, finaliseRun } from './finalise.js';
import { recover } from './recover.js';
import { SingleHost } from '../cluster/coordinator.js';
import { admitRuns, claimSteps } from './scheduler.js';

export type { Clock, DispatcherOptions } from './context.js';
export { systemClock } from './context.js';
export { summaryExitReason } from './finalise.js';

export class Dispatcher {
  private readonly active = new Map<number, Active>();
  private readonly ctx: DispatchContext;
  private readonly clock: Clock;
  private wakeQueued = false;
  private again = false;
  private ticking: Promise<void> | null = null;
  private timer: unknown = null;
  private readonly timers = new Set<unknown>();
  private readonly finalising = new Map<string, Promise<void>>();
  private readonly cleanups = new Set<Promise<void>>();
  private stopped = false;
  /** Stopped without draining: in-flight agents belong to the next daemon, which re-adopts them. */
  private abandoned = false;

  constructor(o: DispatcherOptions) {
    this.clock = o.clock ?? systemClock;
    this.ctx = {
      store: o.store,
      bus: o.bus,
      handlers: o.handlers,
      maxConcurrency: o.maxConcurrency,
      // In a cluster the lease owner is the host's stable id, so a restart finds its own steps.
      instanceId: o.cluster?.hostId ?? o.instanceId,
      cluster: o.cluster ?? new SingleHost(o.instanceId),
      log: o.log,
      clock: this.clock,
      finalisePageSize: o.finalisePageSize ?? 200,
      active: this.active,
      wake: () => this.wake(),
      wakeAt: (at) => this.wakeAt(at),
      finalise: (runId) => this.finalise(runId),
      abandoned: () => this.abandoned,
    };
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Re-adopts or requeues what a previous daemon left in flight, then starts dispatching. */
  async start(): Promise<void> {
    // The cluster's leases are kept from before recovery on, so adopted steps keep theirs.
    await this.ctx.cluster.start({
      running: () => [...this.active.keys()],
      abort: (stepId, why) => this.active.get(stepId)?.abort.abort(why),
      wake: () => this.wake(),
      stopRun: (runId) => {
        for (const a of this.active.values()) if (a.runId === runId) a.abort.abort(new Error('canceled'));
      },
    });
    await recover(this.ctx);
    this.wake();
  }

  /** Stops claiming work. In-flight agents keep running and are re-adopted by the next daemon. */
  async stop(opts: { drain?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (!opts.drain) this.abandoned = true;
    for (const t of this.timers) this.clock.clearTimer(t);
    this.timers.clear();
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    await this.ticking;
    if (opts.drain) await Promise.allSettled([...this.active.values()].map((a) => a.done));
    await Promise.allSettled(this.finalising.values());
    await this.ctx.cluster.stop();
  }

  /** Schedules a round of admit + claim; rounds never overlap (one asked for during a round follows it). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      if (this.stopped || this.ticking) return;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
    });
  }

  /**
   * Resolves once nothing is left to do now: no round queued or running, no step in flight, no
   * finalisation in progress. Steps waiting for a later time (back-off, hold) do not count. With
   * inFlight false, steps still running are not waited for (their handlers may be blocked).
   */
  async idle(opts: { inFlight?: boolean } = {}): Promise<void> {
    for (;;) {
      const steps = opts.inFlight === false ? [] : [...this.active.values()].map((a) => a.done);
      const pending = [this.ticking, ...steps, ...this.finalising.values(), ...this.cleanups].filter((p) => p !== null);
      if (pending.length === 0 && !this.wakeQueued && !this.again) return;
      await Promise.allSettled(pending);
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  async cancel(runId: string): Promise<void> {
    await cancelRun(this.ctx, runId);
  }

  async pause(runId: string, reason = 'user'): Promise<void> {
    await pauseRun(this.ctx, runId, reason);
  }

  async resume(runId: string, opts: { maxCostUsd?: number } = {}): Promise<void> {
    await resumeRun(this.ctx, runId, opts);
  }

  runStatusCounts(): Promise<Record<RunStatus, number>> {
    return this.ctx.store.runStatusCounts();
  }

  private async tick(): Promise<void> {
    try {
      await admitRuns(this.ctx);
      const soonest = await claimSteps(this.ctx, ({ run, step, handler }) => execute(this.ctx, run, step, handler, null));
      if (this.timer !== null) this.clock.clearTimer(this.timer);
      this.timer = null;
      if (soonest !== null && !this.stopped) {
        this.timer = this.clock.setTimer(() => this.wake(), Math.max(10, soonest - this.clock.now()));
      }
    } catch (e) {
      // Another process holds the write lock: try again shortly, with the event loop free.
      if (isBusy(e)) this.wakeAt(this.clock.now() + 50);
      else this.ctx.log?.(`dispatcher tick failed: ${errorText(e)}`, { level: 'error', stack: e instanceof Error ? e.stack : undefined });
    }
  }

  private wakeAt(at: number): void {
    if (this.stopped) return;
    const t = this.clock.setTimer(() => {
      this.timers.delete(t);
      this.wake();
    }, Math.max(10, at - this.clock.now()));
    this.timers.add(t);
  }

  /**
   * The file work after a run's end, once per run at a time; resolves when the summary is written
   * (the worktree cleanup goes on after it, which idle() also waits for).
   */
  private finalise(runId: string): Promise<void> {
    if (this.abandoned) return Promise.resolve();
    const running = this.finalising.get(runId);
    if (running) return running;
    const p = finaliseRun(this.ctx, runId)
      .then((run) => {
        if (!run) return;
        const c = cleanupWorktree(this.ctx, run).finally(() => this.cleanups.delete(c));
        this.cleanups.add(c);
      })
      // Owed work stays owed (finalized_at unset): the next start does it. Never an unhandled rejection.
      .catch((e: unknown) => this.ctx.log?.(`finalising run ${runId} failed: ${errorText(e)}`, { level: 'error', runId }))
      .finally(() => this.finalising.delete(runId));
    this.finalising.set(runId, p);
    return p;
  }
}
