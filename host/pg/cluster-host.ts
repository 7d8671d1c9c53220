// A minimal host of the cluster, without the daemon: it registers itself, keeps its leases and
// reaps expired ones (host/cluster/lease-keeper.ts, as the daemon's PgCoordinator does), admits
// runs within the cluster-wide cap, claims steps within its own cap (host/pg/leases.ts claimStep)
// and hands each to `execute` with an AbortSignal. The tests' stand-in hosts and the bench use it.
//
// The signal aborts when the lease is lost: when a heartbeat finds it expired or taken, when a
// fenced write is rejected, or when this host could not renew in time (self-fencing: a host cut off
// from the database stops its agents before the lease can expire, measured on its own monotonic
// clock from the moment it sent the last successful renewal, so another host never starts the same
// step while this one still runs it).
import { performance } from 'node:perf_hooks';
import { LeaseKeeper } from '../cluster/lease-keeper.js';
import type { Pool } from './connect.js';
import { registerHost, markHostStopped, type HostInfo } from './hosts.js';
import { admitRuns, claimStep, completeStep, LeaseLostError, liveLeasesOf, type Completion, type Lease } from './leases.js';

export interface ClusterHostOptions extends HostInfo {
  pool: Pool;
  maxRunsPerWorkspace: number;
  /** Runs the step's work; resolves with what to record. Must stop its agent when `signal` aborts. */
  execute: (lease: Lease, signal: AbortSignal) => Promise<Completion>;
  /** Called for adopted leases after a same-host restart, instead of execute; defaults to execute. */
  adopt?: (lease: Lease, signal: AbortSignal) => Promise<Completion>;
  onEvent?: (what: 'lease_lost' | 'reaped' | 'fenced' | 'error', detail: unknown) => void;
  /** How often to look for work (and reap expired leases). */
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
  private ticking = false;
  private readonly keeper: LeaseKeeper;

  constructor(private readonly o: ClusterHostOptions) {
    this.keeper = new LeaseKeeper({
      pool: o.pool,
      hostId: o.id,
      leaseTtlMs: o.leaseTtlMs,
      held: () => [...this.held.keys()],
      lose: (stepId) => this.lose(stepId),
      reaped: (r) => this.o.onEvent?.('reaped', r),
      onError: (e) => this.o.onEvent?.('error', e),
      reapMs: o.pollMs ?? 100,
    });
  }

  get running(): number {
    return this.held.size;
  }

  async start(): Promise<void> {
    const sent = performance.now();
    await registerHost(this.o.pool, this.o);
    this.keeper.renewed(sent);
    // Same-host restart: the leases this host id still holds are its own agents' steps.
    for (const lease of await liveLeasesOf(this.o.pool, this.o.id)) this.run(lease, this.o.adopt ?? this.o.execute);
    this.keeper.start();
    this.timers.push(setInterval(() => void this.tick(), this.o.pollMs ?? 100));
    void this.tick();
  }

  /** Stops claiming; in-flight agents keep their leases until they finish or the process exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.keeper.stop();
    await markHostStopped(this.o.pool, this.o.id).catch(() => {});
  }

  private lose(stepId: number): void {
    const h = this.held.get(stepId);
    if (!h) return;
    this.held.delete(stepId);
    this.o.onEvent?.('lease_lost', h.lease);
    h.abort.abort(new LeaseLostError(stepId, h.lease.epoch));
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      await admitRuns(this.o.pool, this.o.id, this.o.maxRunsPerWorkspace);
      while (!this.stopping && this.held.size < this.o.maxConcurrency && this.keeper.valid) {
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
