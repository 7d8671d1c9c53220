// The /proc stat line of a child just spawned, shared by the daemon and its spawner process (which
// loads nothing beyond node:child_process and node:fs, so this module imports only node:fs).
import { readFileSync } from 'node:fs';

/**
 * Read while the child cannot have been reaped yet: until the parent handles SIGCHLD (never before
 * this synchronous read, made right after spawn()), the pid stays the child's even if it already
 * exited. Null when it cannot be read.
 */
export function spawnedStat(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
}
