// The daemon's composition: one store (the LoopStore, node:sqlite by default) handed to everything,
// the bus, the dispatcher, the services, the HTTP server and the spec watcher, wired together.
// (It imports the router through the API handler, the one place the host looks "up": someone has
// to plug them together.)
import { v7 as uuidv7 } from 'uuid';
import { writeFileAtomic } from '../core/artifacts.js';
import type { DaemonInfo, homePaths } from '../core/home.js';
import type { StepPhase } from '../core/types.js';
import { handlers as defaultHandlers } from '../functions/registry.js';
import type { Handler } from '../functions/types.js';
import { SpecWatcher } from '../triggers/spec-watcher.js';
import { createApiHandler } from './api-handler.js';
import { EventBus } from './bus.js';
import { removeOwnDaemonInfo } from './daemon-file.js';
import { createDashboardHandler } from './dashboard-http.js';
import { Dispatcher, systemClock } from './dispatcher.js';
import { secureHome } from './home-perms.js';
import type { LogFn } from './logger.js';
import { HostLoopService } from './loop-service.js';
import { ReviewService } from './review-service.js';
import { startServer } from './server.js';
import { DashboardSessions } from './session-auth.js';
import { SqliteStore } from './store/sqlite.js';
import { openCluster } from './cluster/open.js';
import { DEFAULT_LEASE_TTL_SEC } from '../core/config.js';
import { stopSpawner } from '../core/spawner.js';
import type { LoopStore } from './store/types.js';

export interface DaemonOptions {
  home?: string;
  host?: string;
  port?: number;
  token?: string;
  maxConcurrency?: number;
  handlers?: Partial<Record<StepPhase, Handler>>;
  log?: LogFn;
  /** Write daemon.json, where loopctl finds the daemon. */
  writeInfo?: boolean;
  /** Workspaces to register with the spec watcher at start-up (loopd --watch PATH). */
  watch?: string[];
  /** How long a spec must hold still before it is read (DEFAULT_STABILITY_MS unless set). */
  watchStabilityMs?: number;
  /** A shared PostgreSQL instead of the data dir's SQLite: this host joins that cluster (docs/scaling.md). */
  databaseUrl?: string;
  /** With databaseUrl: seconds a claimed step's lease lasts without a heartbeat (DEFAULT_LEASE_TTL_SEC). */
  leaseTtlSec?: number;
  /**
   * Leave the spawner process running at stop, for the next daemon this process starts (a test
   * worker starts dozens, each spawner start ~75 ms of CPU). It still ends with this process.
   */
  keepSpawner?: boolean;
}

export interface DaemonHandle {
  url: string;
  port: number;
  host: string;
  token: string;
  home: string;
  store: LoopStore;
  bus: EventBus;
  dispatcher: Dispatcher;
  service: HostLoopService;
  /** Stops accepting requests and claiming steps; agents keep running unless drain is set. */
  stop(opts?: { drain?: boolean }): Promise<void>;
  stopped: Promise<void>;
}

export interface ComposeInput {
  opts: DaemonOptions;
  home: string;
  paths: ReturnType<typeof homePaths>;
  log: LogFn;
  token: string;
  maxConcurrency: number;
  host: string;
  port: number;
  version: string;
}

/** Builds and starts everything; the caller has already checked the data dir is ours. */
export async function composeDaemon(c: ComposeInput): Promise<DaemonHandle> {
  const { opts, home, paths, log, token, maxConcurrency, host, version } = c;
  const bus = new EventBus();
  // One host on its SQLite, or one host of a cluster on PostgreSQL: the rest is the same.
  const cluster = opts.databaseUrl
    ? await openCluster({ databaseUrl: opts.databaseUrl, home, bus, maxConcurrency, leaseTtlSec: opts.leaseTtlSec ?? DEFAULT_LEASE_TTL_SEC, log })
    : null;
  const store: LoopStore = cluster?.store ?? new SqliteStore(paths.db, bus);
  if (cluster) log(`joined the cluster on PostgreSQL as host ${cluster.hostId} (agents: ${cluster.coordinator.agents.join(', ')})`, { hostId: cluster.hostId });
  const dispatcher = new Dispatcher({
    ...{ store, bus, handlers: opts.handlers ?? defaultHandlers, maxConcurrency, log },
    instanceId: cluster?.hostId ?? uuidv7(),
    // In a cluster, delayed retries (not_before) and agent holds are written by one host and read
    // by another: both on the database clock, as the leases are.
    ...(cluster ? { cluster: cluster.coordinator, clock: { ...systemClock, now: () => cluster.coordinator.now() } } : {}),
  });
  let boundPort = c.port;
  const startedAt = Date.now();
  let handle: DaemonHandle | null = null;
  const service = new HostLoopService({
    ...{ store, bus, dispatcher, home, version, host, startedAt, maxConcurrency },
    port: () => boundPort,
    onStop: (o) => void handle?.stop(o),
  });
  const review = new ReviewService({ store, resolveRun: (ref) => service.resolveRun(ref), view: (run) => service.view(run) });
  const sessions = new DashboardSessions(token, () => boundPort);
  const srv = await startServer({
    host,
    port: boundPort,
    token,
    api: createApiHandler({ service, review, dashboard: sessions }, log),
    session: (req) => sessions.check(req),
    web: createDashboardHandler(sessions),
  });
  boundPort = srv.port;
  const watcher = new SpecWatcher(
    { store, createRun: (input, o) => service.createRun(input, o), log },
    opts.watchStabilityMs !== undefined ? { stabilityMs: opts.watchStabilityMs } : {},
  );
  service.attachWatcher(watcher);
  cluster?.coordinator.setAddress(`http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`);
  await dispatcher.start();
  await watcher.start();
  for (const path of opts.watch ?? []) {
    const ws = await service.watchWorkspace(path);
    log(`watching ${ws.root}${ws.alreadyWatched ? '' : ` (${ws.recorded} existing spec(s) recorded)`}`);
  }
  // daemon.json last: `loopctl daemon start` waits for it, and what it promised (--watch) must
  // already hold when it returns.
  if (opts.writeInfo !== false) {
    const info: DaemonInfo = { pid: process.pid, host, port: boundPort, startedAt, version };
    writeFileAtomic(paths.daemonInfo, JSON.stringify(info) + '\n');
  }
  // Files created during start-up (database, daemon.json) get the data dir's privacy too.
  secureHome(home);

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  handle = {
    ...{ url, port: boundPort, host, token, home, store, bus, dispatcher, service, stopped },
    stop(o = {}) {
      if (!stopping) log(o.drain ? 'stopping once running steps finish' : 'stopping; running agents are left to be re-adopted');
      stopping ??= (async () => {
        await dispatcher.stop(o);
        await watcher.stop();
        await srv.close();
        await store.close();
        // The git processes and agent wrappers are started by the spawner: it ends once idle.
        if (opts.keepSpawner !== true) stopSpawner();
        if (opts.writeInfo !== false) removeOwnDaemonInfo(paths.daemonInfo);
        resolveStopped();
      })();
      return stopping;
    },
  };
  return handle;
}
