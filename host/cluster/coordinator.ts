// What the dispatcher asks of the cluster, and the answer when there is none. The dispatcher is
// the same on one host and on many; what differs is who else may run steps from the same database:
//
// - whose lease a claim writes (`hostId`: stable across restarts in a cluster, so a restarted host
//   finds its own steps again);
// - which steps this host may take (`canRun`: it has the phase's agent and reaches the workspace);
// - how many runs may be active at once (`runSlots`: per host alone, every live host's added up in a
//   cluster), while `max_runs_per_workspace` is counted in the store (workspaceSlotsTaken);
// - whether it may claim at all right now (`mayClaim`: not while its own leases may have lapsed);
// - which in-progress steps a starting host takes over (`owns`: only its own in a cluster);
// - keeping the leases of the steps it runs (`start` gets the hooks: the heartbeat asks which
//   steps run, and stops one whose lease is gone with a LeaseLostError; other hosts' news wakes it).
//
// SingleHost is the SQLite default (everything allowed, nothing to keep); PgCoordinator
// (pg-coordinator.ts) is the PostgreSQL one.
import type { HeartbeatGuard } from '../../core/agents/heartbeat-guard.js';
import type { StepPhase } from '../../core/types.js';
import { LeaseLostError } from '../pg/leases.js';
import type { RunRecord, StepRecord } from '../store/types.js';

export { LeaseLostError };

export interface CoordinatorHooks {
  /** The ids of the steps this host runs now. */
  running(): number[];
  /** The step's lease is gone: stop its agent and record nothing for it (another host takes it over). */
  abort(stepId: number, why: LeaseLostError): void;
  /** Something changed elsewhere (another host's event, a requeued step): look for work. */
  wake(): void;
  /** Another host canceled this run: stop its steps running here (their end records the cancel). */
  stopRun(runId: string): void;
}

export interface ClusterCoordinator {
  /** The lease owner this host writes on its claims. */
  readonly hostId: string;
  /** Whether other hosts share the database. */
  readonly shared: boolean;
  start(hooks: CoordinatorHooks): Promise<void>;
  /** Stops keeping leases; the steps still running are left to a restart (adoption) or the TTL. */
  stop(): Promise<void>;
  canRun(run: RunRecord, phase: StepPhase): boolean;
  runSlots(localMax: number): Promise<number>;
  mayClaim(): boolean;
  owns(step: StepRecord): boolean;
  /** The dead-man guard every step process of this host carries; null on one host (nothing to guard). */
  readonly processGuard: HeartbeatGuard | null;
}

/** True when a step was stopped because its lease is gone: its outcome must not be recorded. */
export function lostLease(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof LeaseLostError;
}

/** One host on its own database: every step is its own. */
export class SingleHost implements ClusterCoordinator {
  readonly shared = false;
  readonly processGuard = null;
  constructor(readonly hostId: string) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  canRun(): boolean {
    return true;
  }
  async runSlots(localMax: number): Promise<number> {
    return localMax;
  }
  mayClaim(): boolean {
    return true;
  }
  owns(): boolean {
    return true;
  }
}
