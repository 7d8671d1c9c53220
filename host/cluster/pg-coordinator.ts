// The daemon's side of a cluster on PostgreSQL (docs/scaling.md): the host registers in `hosts`
// (agents on its PATH, the workspaces it reaches), keeps the leases of the steps it runs (heartbeat,
// self-fencing, reaping: lease-keeper.ts), stops the agents of its steps that were reaped while it
// was away, relays other hosts' events and output notices into its bus (event-relay.ts,
// output-relay.ts) and answers the dispatcher's questions (coordinator.ts).
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { guardFor, type HeartbeatGuard } from '../../core/agents/heartbeat-guard.js';
import { isAlive, killTree } from '../../core/agents/process.js';
import type { StepPhase } from '../../core/types.js';
import type { AgentProcessInfo } from '../../functions/types.js';
import type { EventBus } from '../bus.js';
import type { LogFn } from '../logger.js';
import { openPool, type Pool } from '../pg/connect.js';
import { markHostStopped, registerHost } from '../pg/hosts.js';
import { clusterRunSlots, reapedStepsOf } from '../pg/leases.js';
import { agentKindFor, runConfig } from '../run-input.js';
import type { RunRecord, StepRecord } from '../store/types.js';
import type { ClusterCoordinator, CoordinatorHooks } from './coordinator.js';
import { startEventRelay, type EventRelay } from './event-relay.js';
import { availableAgents } from './host-identity.js';
import { LeaseKeeper } from './lease-keeper.js';
import { startOutputRelay, type OutputRelay } from './output-relay.js';

export interface PgCoordinatorOptions {
  url: string;
  hostId: string;
  hostname: string;
  /** Where this host's API listens (shown by `loopctl hosts`); also settable once the server is up. */
  address?: string | null;
  maxConcurrency: number;
  leaseTtlMs: number;
  bus: EventBus;
  log?: LogFn;
  /** Agent kinds this host runs; default: those on PATH (host-identity.ts). */
  agents?: string[];
  /** How often to reap other hosts' expired leases; default a third of the TTL. */
  reapMs?: number;
  /**
   * The heartbeat file of this host's dead-man guard (core/agents/heartbeat-guard.ts), which
   * open.ts sets to `<home>/cluster-heartbeat`; without it (in-process test hosts) nothing is guarded.
   */
  heartbeatFile?: string;
}

// A workspace path is checked on disk at most this often (it may be mounted later).
const REACH_CACHE_MS = 5000;
const SLOTS_CACHE_MS = 1000;

export class PgCoordinator implements ClusterCoordinator {
  readonly shared = true;
  readonly processGuard: HeartbeatGuard | null;
  agents: string[];
  private agentsAt = performance.now();
  private pool: Pool | null = null;
  private keeper: LeaseKeeper | null = null;
  private events: EventRelay | null = null;
  private output: OutputRelay | null = null;
  private refresh: NodeJS.Timeout | null = null;
  private readonly reach = new Map<string, { ok: boolean; at: number }>();
  private slots = { n: 0, at: Number.NEGATIVE_INFINITY };
  /** The database clock minus this host's, measured at start and with each refresh. */
  private clockOffsetMs = 0;

  constructor(private readonly o: PgCoordinatorOptions) {
    this.agents = o.agents ?? availableAgents();
    this.address = o.address ?? null;
    this.processGuard = o.heartbeatFile !== undefined ? guardFor(o.heartbeatFile, o.leaseTtlMs) : null;
  }

  private address: string | null;

  get hostId(): string {
    return this.o.hostId;
  }

  /** The API's URL, known once the server listens; registered at start. */
  setAddress(url: string): void {
    this.address = url;
  }

  async start(hooks: CoordinatorHooks): Promise<void> {
    const { o } = this;
    const pool = openPool(o.url, 3);
    this.pool = pool;
    const sent = performance.now();
    await registerHost(pool, { id: o.hostId, hostname: o.hostname, address: this.address, agents: this.agents, workspaces: await this.reachableWorkspaces(), maxConcurrency: o.maxConcurrency, leaseTtlMs: o.leaseTtlMs });
    await this.stopOrphans();
    await this.measureClock();
    const onError = (e: unknown): void => o.log?.(`cluster: ${e instanceof Error ? e.message : String(e)}`, { level: 'warn' });
    this.keeper = new LeaseKeeper({
      pool,
      hostId: o.hostId,
      leaseTtlMs: o.leaseTtlMs,
      held: hooks.running,
      lose: (stepId, why) => {
        o.log?.(`cluster: the lease of step ${stepId} is gone; stopping its agent (another host takes the step over)`, { level: 'warn', stepId });
        hooks.abort(stepId, why);
      },
      reaped: (r) => {
        for (const x of r) o.log?.(`cluster: step ${x.stepId} of host ${x.host ?? '?'} lost its lease; queued again as step ${x.newStepId}`, { level: 'warn', runId: x.runId, stepId: x.stepId });
        hooks.wake();
      },
      onError,
      ...(o.reapMs !== undefined ? { reapMs: o.reapMs } : {}),
      ...(o.heartbeatFile !== undefined ? { heartbeatFile: o.heartbeatFile } : {}),
    });
    this.keeper.renewed(sent);
    this.keeper.start();
    this.events = await startEventRelay({
      ...{ url: o.url, hostId: o.hostId, bus: o.bus, onError },
      onForeignEvent: (e) => {
        // A cancel asked of another host reaches the agent wherever it runs.
        if (e.run_id && (e.type === 'RUN_CANCEL_REQUESTED' || e.type === 'RUN_CANCELED')) hooks.stopRun(e.run_id);
        hooks.wake();
      },
    });
    this.output = await startOutputRelay({ url: o.url, hostId: o.hostId, bus: o.bus, onError });
    // New workspaces appear while the host runs (another host registered one): keep the row true.
    this.refresh = setInterval(() => void Promise.all([this.updateWorkspaces(), this.measureClock()]).catch(onError), 60_000);
    this.refresh.unref();
  }

  async stop(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    // Before the stop mark: a renewal still in flight would clear it.
    await this.keeper?.stop();
    await this.events?.close().catch(() => {});
    await this.output?.close().catch(() => {});
    if (this.pool) {
      await markHostStopped(this.pool, this.o.hostId).catch((e: unknown) =>
        this.o.log?.(`cluster: recording this host as stopped failed (others see it alive until its TTL, then lost): ${e instanceof Error ? e.message : String(e)}`, { level: 'warn' }),
      );
      await this.pool.end().catch(() => {});
    }
    this.pool = null;
  }

  canRun(run: RunRecord, phase: StepPhase): boolean {
    const kind = agentKindFor(runConfig(run), phase);
    if (kind !== null && !this.hasAgent(kind)) return false;
    return this.reaches(run.workspace_root);
  }

  /**
   * An agent missing at start may be installed later (or PATH changed): look again, at most every
   * few seconds, while a step waits for it, and keep the hosts row true. Agents given explicitly
   * (options.agents) are fixed.
   */
  private hasAgent(kind: string): boolean {
    if (this.agents.includes(kind)) return true;
    const now = performance.now();
    if (this.o.agents || now - this.agentsAt < REACH_CACHE_MS) return false;
    this.agentsAt = now;
    const found = availableAgents();
    if (found.join() !== this.agents.join()) {
      this.agents = found;
      void this.pool
        ?.query('UPDATE hosts SET agents = $2 WHERE id = $1', [this.o.hostId, found])
        .catch((e: unknown) => this.o.log?.(`cluster: recording this host's agents failed: ${e instanceof Error ? e.message : String(e)}`, { level: 'warn' }));
    }
    return found.includes(kind);
  }

  async runSlots(localMax: number): Promise<number> {
    if (!this.pool) return localMax;
    if (performance.now() - this.slots.at > SLOTS_CACHE_MS) {
      // This host counts even before its first heartbeat is visible.
      this.slots = { n: Math.max(localMax, await clusterRunSlots(this.pool)), at: performance.now() };
    }
    return this.slots.n;
  }

  mayClaim(): boolean {
    return this.keeper?.valid ?? false;
  }

  /**
   * Now on the database clock (loopd_now_ms()), as this host best knows it: its own clock plus the
   * offset measured over a round trip. Delayed retries and agent holds are written by one host and
   * read by others, so they use this, as leases do; skew between hosts then does not move them.
   */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private async measureClock(): Promise<void> {
    if (!this.pool) return;
    const sent = Date.now();
    const { rows } = await this.pool.query<{ now: string }>('SELECT loopd_now_ms() AS now');
    const back = Date.now();
    this.clockOffsetMs = Number(rows[0]!.now) - Math.round((sent + back) / 2);
  }

  owns(step: StepRecord): boolean {
    return step.lease_owner === this.o.hostId;
  }

  private reaches(root: string): boolean {
    const now = performance.now();
    const cached = this.reach.get(root);
    if (cached && now - cached.at < REACH_CACHE_MS) return cached.ok;
    const ok = existsSync(root);
    this.reach.set(root, { ok, at: now });
    return ok;
  }

  private async reachableWorkspaces(): Promise<string[]> {
    const { rows } = await this.pool!.query<{ root: string }>('SELECT root FROM workspaces UNION SELECT DISTINCT workspace_root FROM runs ORDER BY 1');
    return rows.map((r) => r.root).filter((r) => this.reaches(r));
  }

  private async updateWorkspaces(): Promise<void> {
    if (!this.pool) return;
    await this.pool.query('UPDATE hosts SET workspaces = $2 WHERE id = $1', [this.o.hostId, await this.reachableWorkspaces()]);
  }

  /**
   * A restart that took longer than the TTL: this host's steps were requeued elsewhere, but their
   * agents (detached, so they outlived the daemon) may still run. They must not run beside the new
   * attempt: stop them (the pid, its start time and the nonce prove it is still our agent).
   */
  private async stopOrphans(): Promise<void> {
    for (const s of await reapedStepsOf(this.pool!, this.o.hostId)) {
      let p: AgentProcessInfo | null = null;
      try {
        p = JSON.parse(s.process ?? 'null') as AgentProcessInfo | null;
      } catch {
        continue;
      }
      if (!p?.pid || !isAlive(p)) continue;
      this.o.log?.(`cluster: step ${s.id} was requeued while this host was away; stopping its agent (pid ${p.pid})`, { level: 'warn', stepId: s.id });
      await killTree(p, 2000).catch(() => {});
    }
  }
}
