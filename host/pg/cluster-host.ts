// One host's side of the cluster: it registers itself, beats its heartbeat (renewing its leases),
// reaps leases other hosts let expire, admits runs within the cluster-wide cap, claims steps within
// its own cap and hands each to `execute` with an AbortSignal.
//
// The signal aborts when the lease is lost: when a heartbeat finds it expired or taken, when a
// fenced write is rejected, or when this host could not renew in time (self-fencing: a host cut off
// from the database stops its agents before the lease can expire, measured on its own monotonic
// clock from the moment it sent the last successful renewal, so another host never starts the same
// step while this one still runs it).
import { performance } from 'node:perf_hooks';
import type { Pool } from './connect.js';
import { registerHost, markHostStopped, type HostInfo } from './hosts.js';
import { admitRuns, claimStep, completeStep, heartbeat, LeaseLostError, liveLeasesOf, reapExpiredLeases, type Completion, type Lease } from './leases.js';

export interface ClusterHostOptions extends HostInfo {
  pool: Pool;
  maxRunsPerWorkspace: number;
  /** Runs the step's work; resolves with what to record. Must stop its agent when `signal` aborts. */
  execute: (lease: Lease, signal: AbortSignal) => Promise<Completion>;
  /** Called for adopted leases after a same-host restart, instead of execute; defaults to execute. */
  adopt?: (lease: Lease, signal: AbortSignal) => Promise<Completion>;
  onEvent?: (what: 'lease_lost' | 'reaped' | 'fenced' | 'error', detail: unknown) => void;
  /** How often to look for work; the heartbeat runs at a third of the TTL. */
  pollMs?: number;
}

interface Held {
  lease: Lease;
  abort: AbortController;
}

export class ClusterHost {
  private readonly held = new Map<number, Held>();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  /** performance.now() until which this host may assume its leases are live. */
  private validUntil = 0;
  private ticking = false;

  constructor(private readonly o: ClusterHostOptions) {}

  get running(): number {
    return this.held.size;
  }

  async start(): Promise<void> {
    const sent = performance.now();
    await registerHost(this.o.pool, this.o);
    this.validUntil = sent + this.o.leaseTtlMs;
    // Same-host restart: the leases this host id still holds are its own agents' steps.
    for (const lease of await liveLeasesOf(this.o.pool, this.o.id)) this.run(lease, this.o.adopt ?? this.o.execute);
    const beat = Math.max(50, Math.floor(this.o.leaseTtlMs / 3));
    this.timers.push(setInterval(() => void this.beat(), beat));
    this.timers.push(setInterval(() => this.selfFence(), Math.max(20, Math.floor(beat / 4))));
    this.timers.push(setInterval(() => void this.tick(), this.o.pollMs ?? 100));
    void this.tick();
  }

  /** Stops claiming; in-flight agents keep their leases until they finish or the process exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await markHostStopped(this.o.pool, this.o.id).catch(() => {});
  }

  private async beat(): Promise<void> {
    const sent = performance.now();
    try {
      const { lost, renewed } = await heartbeat(this.o.pool, this.o.id, this.o.leaseTtlMs, [...this.held.values()].map((h) => h.lease));
      this.validUntil = sent + this.o.leaseTtlMs;
      for (const l of renewed) {
        const h = this.held.get(l.stepId);
        if (h) h.lease = l;
      }
      for (const l of lost) this.lose(l.stepId, 'lease_lost');
    } catch (e) {
      this.o.onEvent?.('error', e);
    }
  }

  // A margin of a tenth of the TTL covers the time between stopping an agent and its exit.
  private selfFence(): void {
    if (this.held.size === 0) return;
    if (performance.now() < this.validUntil - this.o.leaseTtlMs / 10) return;
    for (const id of [...this.held.keys()]) this.lose(id, 'lease_lost');
  }

  private lose(stepId: number, why: 'lease_lost' | 'fenced'): void {
    const h = this.held.get(stepId);
    if (!h) return;
    this.held.delete(stepId);
    this.o.onEvent?.(why, h.lease);
    h.abort.abort(new LeaseLostError(stepId, h.lease.epoch));
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      const reaped = await reapExpiredLeases(this.o.pool, this.o.id);
      if (reaped.length) this.o.onEvent?.('reaped', reaped);
      await admitRuns(this.o.pool, this.o.id, this.o.maxRunsPerWorkspace);
      while (!this.stopping && this.held.size < this.o.maxConcurrency && performance.now() < this.validUntil) {
        const lease = await claimStep(this.o.pool, { hostId: this.o.id, leaseTtlMs: this.o.leaseTtlMs, maxConcurrency: this.o.maxConcurrency, agents: this.o.agents, workspaces: this.o.workspaces });
        if (!lease) break;
        this.run(lease, this.o.execute);
      }
    } catch (e) {
      this.o.onEvent?.('error', e);
    } finally {
      this.ticking = false;
    }
  }

  private run(lease: Lease, fn: (lease: Lease, signal: AbortSignal) => Promise<Completion>): void {
    const abort = new AbortController();
    this.held.set(lease.stepId, { lease, abort });
    void (async () => {
      try {
        const done = await fn(lease, abort.signal);
        if (abort.signal.aborted) return;
        await completeStep(this.o.pool, this.o.id, this.held.get(lease.stepId)?.lease ?? lease, done);
      } catch (e) {
        if (e instanceof LeaseLostError) this.o.onEvent?.('fenced', lease);
        else if (!abort.signal.aborted) this.o.onEvent?.('error', e);
      } finally {
        if (this.held.get(lease.stepId)?.abort === abort) this.held.delete(lease.stepId);
        if (!this.stopping) void this.tick();
      }
    })();
  }
}
