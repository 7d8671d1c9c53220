// The dead-man guard of a cluster host's agents (docs/scaling.md, "No attempt on two hosts").
//
// In a cluster, agents are detached so that a restarted daemon adopts them; but a daemon that dies
// (or stops without --drain) and stays away longer than the lease TTL gets its steps reaped and run
// again elsewhere, while its agents still run. So the host keeps a heartbeat file whose mtime is
// the time its last successful lease renewal was *sent* (the lease keeper sets it), and every
// process group it spawns carries a guard (spawn.ts) that kills the whole group once that file is
// older than its limit (about 0.8 TTL). The guard leaves with the agent, so nothing waits on it.
//
// Why the group is dead before another host can start the step: the database expires a lease TTL
// after the renewal *ran*, which is no earlier than when it was sent (the mtime); another host can
// only reap it after that. The guard looks every `checkMs` (a twentieth of the TTL, 0.1 s to 1 s)
// and its limit is GUARD_DEADLINE of the TTL minus one period, so it kills at the latest 0.85 TTL
// after the last renewal was sent: 0.15 TTL is left for a late wake-up of the guard's shell on a
// busy machine, and the reaping host still has to notice the expiry, claim the step and spawn its
// agent on top of that. The daemon's own self-fencing stops agents at 0.9 TTL (lease-keeper.ts);
// the guard covers a daemon that is gone.
//
// Same-host restart: the new daemon's keeper refreshes the same file at registration, so agents
// whose host came back within the limit live on and are adopted.
import { closeSync, openSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

/** What the spawn wrapper needs to guard a process group; absent on a single host (SQLite). */
export interface HeartbeatGuard {
  /** The host's heartbeat file; its mtime is the last renewal's send time. */
  file: string;
  /** The group is killed once the file is older than this (or missing). */
  maxAgeMs: number;
  /** How often the guard looks. */
  checkMs: number;
}

/** The fraction of the lease TTL by which a guarded group is dead, at the latest (limit + one period). */
export const GUARD_DEADLINE = 0.85;
const CHECK_MIN_MS = 100;
const CHECK_MAX_MS = 1000;

export function heartbeatFile(home: string): string {
  return join(home, 'cluster-heartbeat');
}

/** The guard of a host whose leases live `leaseTtlMs`. */
export function guardFor(file: string, leaseTtlMs: number): HeartbeatGuard {
  const checkMs = Math.round(Math.min(CHECK_MAX_MS, Math.max(CHECK_MIN_MS, leaseTtlMs / 20)));
  return { file, maxAgeMs: Math.floor(leaseTtlMs * GUARD_DEADLINE) - checkMs, checkMs };
}

/** Sets the heartbeat file's mtime to `sentWallMs` (creating it), the send time of a renewal that succeeded. */
export function touchHeartbeat(file: string, sentWallMs: number): void {
  closeSync(openSync(file, 'a', 0o600));
  const t = new Date(sentWallMs);
  utimesSync(file, t, t);
}

/** The wrapper's positional arguments for a guard ($8 file, $9 max age in ms, $10 period in s); empty: no guard. */
export function guardArgs(g: HeartbeatGuard | null | undefined): [string, string, string] {
  if (!g) return ['', '', ''];
  return [g.file, String(Math.floor(g.maxAgeMs)), (g.checkMs / 1000).toFixed(3)];
}
