// The hosts table: who is in the cluster, what each can run and reach, and whether it is alive.
// A host's heartbeat renews its own row and every lease it still holds in one statement each, so
// a host that stops beating loses both together after the lease TTL.
import type { Client, Pool } from './connect.js';
import { renewLiveLeases } from './leases.js';

export interface HostInfo {
  id: string;
  hostname: string;
  address: string | null;
  agents: string[];
  workspaces: string[];
  maxConcurrency: number;
  leaseTtlMs: number;
}

export interface HostRow extends HostInfo {
  startedAt: number;
  heartbeatAt: number;
  /** On the database clock, so a host's skewed clock does not distort it. */
  heartbeatAgeMs: number;
  stoppedAt: number | null;
  /** alive: beat within its TTL; lost: no beat for longer than its TTL (its leases are up for grabs); stopped: shut down cleanly. */
  state: 'alive' | 'lost' | 'stopped';
  runningSteps: number;
}

type Q = Pick<Pool | Client, 'query'>;

/**
 * Registers (or, on a restart, re-registers) the host, and is its first heartbeat: it also renews
 * every lease this host id still holds and that is live, never an expired one. The caller counts
 * it as a lease renewal sent when it sent this (LeaseKeeper.renewed), and a restarted host adopts
 * those leases and starts work under them at once: were they not renewed here, one with a moment
 * left would expire under the adopted agent while the host believed it had a whole TTL before its
 * first beat, and another host would run the same step alongside it.
 */
export async function registerHost(db: Q, h: HostInfo): Promise<void> {
  // One statement: the host row and its leases are renewed together or not at all.
  await db.query(
    `WITH host AS (
       INSERT INTO hosts (id, hostname, address, agents, workspaces, max_concurrency, lease_ttl_ms, started_at, heartbeat_at, stopped_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, loopd_now_ms(), loopd_now_ms(), NULL)
       ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, address = EXCLUDED.address, agents = EXCLUDED.agents,
         workspaces = EXCLUDED.workspaces, max_concurrency = EXCLUDED.max_concurrency, lease_ttl_ms = EXCLUDED.lease_ttl_ms,
         started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL
       RETURNING id)
     ${renewLiveLeases('(SELECT id FROM host)', '$7')}`,
    [h.id, h.hostname, h.address, h.agents, h.workspaces, h.maxConcurrency, h.leaseTtlMs],
  );
}

export async function markHostStopped(db: Q, hostId: string): Promise<void> {
  await db.query('UPDATE hosts SET stopped_at = loopd_now_ms() WHERE id = $1', [hostId]);
}

export async function listHosts(db: Q): Promise<HostRow[]> {
  const { rows } = await db.query<{
    id: string; hostname: string; address: string | null; agents: string[]; workspaces: string[];
    max_concurrency: number; lease_ttl_ms: number; started_at: number; heartbeat_at: number; stopped_at: number | null;
    now: number; running: number;
  }>(
    `SELECT h.*, loopd_now_ms() AS now,
       (SELECT count(*)::int FROM steps s WHERE s.status = 'IN_PROGRESS' AND s.lease_owner = h.id) AS running
     FROM hosts h ORDER BY h.hostname, h.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    hostname: r.hostname,
    address: r.address,
    agents: r.agents,
    workspaces: r.workspaces,
    maxConcurrency: r.max_concurrency,
    leaseTtlMs: r.lease_ttl_ms,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    heartbeatAgeMs: Math.max(0, r.now - r.heartbeat_at),
    stoppedAt: r.stopped_at,
    state: r.stopped_at !== null ? 'stopped' : r.now - r.heartbeat_at > r.lease_ttl_ms ? 'lost' : 'alive',
    runningSteps: r.running,
  }));
}
