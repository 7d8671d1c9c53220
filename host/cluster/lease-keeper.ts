// Keeping one host's leases: the heartbeat (every third of the TTL) renews the host row and the
// leases of the steps it runs; a lease found gone is lost, and so is every lease when the host
// could not renew in time (self-fencing). The reaper (every `reapMs`) requeues the steps whose
// leases other hosts let expire. Used by the daemon's PgCoordinator and by the stand-in
// ClusterHost of the tests, so both fence and reap the same way.
//
// Self-fencing: a host cut off from the database cannot learn that its lease expired, so it stops
// its agents on its own once its last successful renewal (measured on its monotonic clock from
// when the renewal was *sent*) is older than 0.9 TTL. The database expires the lease no earlier
// than TTL after that renewal, so the agent is gone before another host can start the step.
import { performance } from 'node:perf_hooks';
import { touchHeartbeat } from '../../core/agents/heartbeat-guard.js';
import type { Pool } from '../pg/connect.js';
import { LeaseLostError, reapExpiredLeases, renewLeases } from '../pg/leases.js';

export type Reaped = Awaited<ReturnType<typeof reapExpiredLeases>>;

export interface LeaseKeeperOptions {
  pool: Pool;
  hostId: string;
  leaseTtlMs: number;
  /** The steps this host runs now. */
  held(): number[];
  /** The lease of a step is gone: stop its agent (the error says why). */
  lose(stepId: number, why: LeaseLostError): void;
  /** Steps of other hosts were requeued: there is work to look at. */
  reaped?(r: Reaped): void;
  onError?(e: unknown): void;
  /** How often to reap; default a third of the TTL. */
  reapMs?: number;
  /**
   * The host's heartbeat file, whose mtime each renewal sets to its send time: the dead-man guard
   * of this host's agents reads it (core/agents/heartbeat-guard.ts).
   */
  heartbeatFile?: string;
}

export class LeaseKeeper {
  private timers: NodeJS.Timeout[] = [];
  /** performance.now() until which this host may assume its leases are live. */
  private validUntil = 0;
  /** The renewal and the reap under way, if any: at most one of each at a time. */
  private beating: Promise<void> | null = null;
  private reaping: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly o: LeaseKeeperOptions) {}

  /** Whether the last renewal is recent enough to claim new work. */
  get valid(): boolean {
    return performance.now() < this.validUntil - this.o.leaseTtlMs / 10;
  }

  /** Counts a registration (or any renewal the caller made) sent at `sentAt` (performance.now()). */
  renewed(sentAt: number): void {
    this.validUntil = Math.max(this.validUntil, sentAt + this.o.leaseTtlMs);
    if (this.o.heartbeatFile === undefined) return;
    // The send time on the wall clock, which is what the guard's shell can read.
    const sentWall = Date.now() - (performance.now() - (this.validUntil - this.o.leaseTtlMs));
    try {
      touchHeartbeat(this.o.heartbeatFile, sentWall);
    } catch (e) {
      // Left stale, the guards end this host's agents: the safe side, but say why.
      this.o.onError?.(new Error(`cannot refresh the heartbeat file ${this.o.heartbeatFile}: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  start(): void {
    const beat = Math.max(50, Math.floor(this.o.leaseTtlMs / 3));
    this.timers.push(setInterval(() => void this.beat(), beat));
    this.timers.push(setInterval(() => this.selfFence(), Math.max(20, Math.floor(beat / 4))));
    this.timers.push(setInterval(() => void this.reap(), this.o.reapMs ?? beat));
    for (const t of this.timers) t.unref();
    void this.reap();
  }

  /**
   * No more renewals or reaps, and the ones under way finished: a renewal still in flight when the
   * host marks itself stopped would otherwise commit after that mark and clear it (renewLeases
   * sets stopped_at back to NULL), leaving a stopped host listed alive until its TTL ran out.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all([this.beating, this.reaping]);
  }

  beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.beating ??= this.renew().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  private async renew(): Promise<void> {
    const sent = performance.now();
    try {
      const { lost } = await renewLeases(this.o.pool, this.o.hostId, this.o.leaseTtlMs, this.o.held());
      this.renewed(sent);
      for (const id of lost) this.o.lose(id, new LeaseLostError(id, 0));
    } catch (e) {
      this.o.onError?.(e);
    }
  }

  // A margin of a tenth of the TTL covers the time between stopping an agent and its exit.
  private selfFence(): void {
    if (this.valid) return;
    for (const id of this.o.held()) this.o.lose(id, new LeaseLostError(id, 0));
  }

  reap(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.reaping ??= this.requeueExpired().finally(() => {
      this.reaping = null;
    });
    return this.reaping;
  }

  private async requeueExpired(): Promise<void> {
    try {
      const reaped = await reapExpiredLeases(this.o.pool, this.o.hostId);
      if (reaped.length) this.o.reaped?.(reaped);
    } catch (e) {
      this.o.onError?.(e);
    }
  }
}
