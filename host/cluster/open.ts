// What `loopd --database-url` opens instead of the data dir's SQLite: the PostgreSQL store (which
// applies its migrations and refuses a newer schema) and this host's coordinator, under the host's
// stable id (host-identity.ts), so the composition root only picks one or the other.
import { hostname } from 'node:os';
import { heartbeatFile } from '../../core/agents/heartbeat-guard.js';
import type { EventBus } from '../bus.js';
import type { LogFn } from '../logger.js';
import { checkDatabaseUrl } from '../pg/url.js';
import { PgStore } from '../store/postgres.js';
import { hostIdOf } from './host-identity.js';
import { PgCoordinator } from './pg-coordinator.js';

export interface ClusterOpenOptions {
  databaseUrl: string;
  home: string;
  bus: EventBus;
  maxConcurrency: number;
  leaseTtlSec: number;
  log?: LogFn;
  /** Agent kinds this host runs (default: those on PATH). */
  agents?: string[];
}

export interface ClusterParts {
  store: PgStore;
  coordinator: PgCoordinator;
  hostId: string;
}

export async function openCluster(o: ClusterOpenOptions): Promise<ClusterParts> {
  const url = checkDatabaseUrl(o.databaseUrl);
  const hostId = hostIdOf(o.home);
  const leaseTtlMs = Math.round(o.leaseTtlSec * 1000);
  const store = await PgStore.open({ url, bus: o.bus, leaseTtlMs, hostId });
  const coordinator = new PgCoordinator({
    url,
    hostId,
    hostname: hostname(),
    maxConcurrency: o.maxConcurrency,
    leaseTtlMs,
    bus: o.bus,
    heartbeatFile: heartbeatFile(o.home),
    ...(o.log ? { log: o.log } : {}),
    ...(o.agents ? { agents: o.agents } : {}),
  });
  return { store, coordinator, hostId };
}
