// What every room of the dispatcher shares: the store, the handlers, the clock, the steps in flight
// and the way back to the scheduler (wake). The rooms import this file and each other one way
// (index -> scheduler/recover/control -> execute -> complete -> decide; finalise on its own);
// none imports index.ts.
import type { StepPhase } from '../../core/types.js';
import type { Handler } from '../../functions/types.js';
import type { EventBus } from '../bus.js';
import type { ClusterCoordinator } from '../cluster/coordinator.js';
import type { LogFn } from '../logger.js';
import type { LoopStore, StoreTx } from '../store/types.js';
import { whenFree } from '../busy.js';

/** Time and timers, injectable so tests drive back-offs and holds without waiting. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DispatcherOptions {
  store: LoopStore;
  bus: EventBus;
  handlers: Partial<Record<StepPhase, Handler>>;
  maxConcurrency: number;
  instanceId: string;
  log?: LogFn;
  clock?: Clock;
  /** Other hosts on the same database (host/cluster/coordinator.ts); default: this host alone. */
  cluster?: ClusterCoordinator;
  /** Runs per page when a start finishes the owed finalisations (default 200). */
  finalisePageSize?: number;
}

export interface Active {
  stepId: number;
  runId: string;
  abort: AbortController;
  done: Promise<void>;
}

export interface DispatchContext {
  readonly store: LoopStore;
  readonly bus: EventBus;
  readonly handlers: Partial<Record<StepPhase, Handler>>;
  readonly maxConcurrency: number;
  readonly instanceId: string;
  readonly cluster: ClusterCoordinator;
  readonly log: LogFn | undefined;
  readonly clock: Clock;
  readonly finalisePageSize: number;
  /** Steps this dispatcher runs now (the database says who else runs what). */
  readonly active: Map<number, Active>;
  /** Schedules a scheduling round (admit + claim). */
  wake(): void;
  /** Schedules a round at a time (a back-off, a hold, a delayed step). */
  wakeAt(at: number): void;
  /** The file work after a run's end (summary now, worktree cleanup after), tracked so idle() waits for it. */
  finalise(runId: string): Promise<void>;
  /** Stopped without draining: in-flight steps belong to the next daemon, which re-adopts them. */
  abandoned(): boolean;
}

/** One transaction, retried while another process holds the SQLite write lock (host/busy.ts). */
export function inTx<T>(ctx: DispatchContext, fn: (tx: StoreTx) => Promise<T>, what?: string): Promise<T> {
  return whenFree(
    () => ctx.store.transaction(fn),
    what ? () => ctx.log?.(`${what} waits for the database lock`) : undefined,
  );
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
