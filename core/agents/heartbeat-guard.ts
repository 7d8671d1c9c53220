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
//
// What a check costs: one `sleep`, nothing else. The guard cannot read an mtime without a process
// (`date -r`, two `date`s a check until now), so it compares the heartbeat with a stamp file of
// its own (dash's `test -nt` is a builtin and compares nanoseconds) and keeps the time from
// /proc/uptime (read by the `read` builtin, 10 ms steps). Whenever the heartbeat is newer than the
// stamp, the guard writes the stamp again (`: > stamp`, a builtin redirect: truncating even an
// empty file sets its mtime) and notes when, so the stamp is always written no earlier than the
// heartbeat it last saw; once the heartbeat is no newer than the stamp and the stamp is older than
// the limit (by the uptime clock, plus one step of it), the heartbeat is older than the limit too.
// The stamp is rewritten at the first check after the file was touched (when the renewal's reply
// came, its send time after), so the kill comes at the latest the limit plus a period after the
// renewal was sent, as with `date`, plus that reply's latency, 10 ms and a second wake-up (the check
// at the deadline): a few ms on an idle machine, inside the 0.15 TTL kept for late wake-ups.
// Deadlines are absolute, so the sleeps' drift does not add up. At spawn the daemon writes the first stamp with the
// heartbeat's own mtime and hands the guard the time the heartbeat had left then (seedGuard), so
// a heartbeat that was already old at spawn is not given a fresh limit.
import { closeSync, futimesSync, openSync, statSync, utimesSync } from 'node:fs';
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

/** The guard's stamp file, beside the step's exit file (the wrapper's own files). */
export function guardStampPath(exitPath: string): string {
  return `${exitPath}.guard`;
}

/**
 * Writes the guard's first stamp, just after the heartbeat's mtime (so only a later renewal is
 * newer), and returns the milliseconds the heartbeat has left before it is older than the limit:
 * 0 when it is missing or stale. Called before the spawn, so the guard starts after `nowMs`.
 */
export function seedGuard(g: HeartbeatGuard, exitPath: string, nowMs?: number): number {
  let beatNs: bigint | null = null;
  try {
    beatNs = statSync(g.file, { bigint: true }).mtimeNs;
  } catch {
    // No heartbeat: stale from the start.
  }
  const now = nowMs ?? Date.now();
  const fd = openSync(guardStampPath(exitPath), 'w', 0o600);
  try {
    if (beatNs === null) return 0;
    // In whole microseconds (exact in a double), 2 us later: utimes goes through seconds as a
    // double (about 0.24 us steps today), which must not land on or before the heartbeat's mtime.
    const atUs = Number(beatNs / 1000n) + 2;
    futimesSync(fd, atUs / 1e6, atUs / 1e6);
    return Math.max(0, Math.ceil(g.maxAgeMs - (now - atUs / 1000)));
  } finally {
    closeSync(fd);
  }
}

/**
 * The wrapper's positional arguments for a guard ($8 file, $9 max age in ms, $10 period in ms,
 * $11 the ms the heartbeat had left at spawn, from seedGuard); empty: no guard.
 */
export function guardArgs(g: HeartbeatGuard | null | undefined, leftMs = 0): [string, string, string, string] {
  if (!g) return ['', '', '', ''];
  return [g.file, String(Math.floor(g.maxAgeMs)), String(Math.round(g.checkMs)), String(Math.max(0, Math.ceil(leftMs)))];
}
