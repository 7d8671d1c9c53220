// SQLite write-lock contention without blocking the event loop.
//
// node:sqlite is synchronous, and SQLite's busy handler sleeps inside the call: with a long busy
// timeout, a write that meets another process's write lock (a backup, `sqlite3` left open, a second
// tool) freezes the whole daemon, /health included. So the store waits at most BUSY_TIMEOUT_MS in
// a call and then throws StoreBusyError; callers that may meet it retry with whenFree(), which
// waits between attempts with timers, so HTTP reads and agents' output keep flowing meanwhile.
// Reads need no lock in WAL mode and are not affected: outside a transaction they run on the
// store's read-only connection (host/store/sqlite/connection.ts), which never takes the write lock.

/** The longest one store call may hold the event loop waiting for a lock. */
export const BUSY_TIMEOUT_MS = 5;

/** SQLITE_BUSY, SQLITE_LOCKED and their extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT, LOCKED_SHAREDCACHE). */
const BUSY_CODES = new Set([5, 6, 261, 262, 517, 773]);

export class StoreBusyError extends Error {
  constructor(cause: unknown) {
    super('the loopd database is locked by another process; retrying', { cause });
    this.name = 'StoreBusyError';
  }
}

export function isBusy(e: unknown): boolean {
  if (e instanceof StoreBusyError) return true;
  const code = (e as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' && BUSY_CODES.has(code);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs fn until it does not fail for a busy database, waiting 10 ms, 20 ms ... up to 250 ms between
 * attempts. fn must be harmless to run again after a busy failure (a failed transaction rolls back).
 * Without a limit: a lock never released stops loopd's writes either way, and this keeps them ready
 * to go the moment it is; onWait hears about the first wait so it can be logged once.
 */
export async function whenFree<T>(fn: () => T | Promise<T>, onWait?: (err: unknown) => void): Promise<T> {
  for (let delay = 10, waited = false; ; delay = Math.min(delay * 2, 250)) {
    try {
      return await fn();
    } catch (e) {
      if (!isBusy(e)) throw e;
      if (!waited) onWait?.(e);
      waited = true;
      await sleep(delay);
    }
  }
}
