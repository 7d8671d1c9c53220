// Waiting for a step's process to end, whether this daemon started it or re-adopted it after a
// restart: the exit file is the record, /proc the liveness check.
import { readFileSync, rmSync } from 'node:fs';
import { guardStampPath } from './heartbeat-guard.js';
import { isDead, nonceMatches, readStat, type ProcessHandle } from './proc.js';
import { ownChild } from './spawn.js';
import { killTree, settle, SETTLE_MS } from './process-tree.js';

export function isAlive(h: ProcessHandle): boolean {
  const stat = readStat(h.pid);
  if (stat === null || stat.startTime !== h.startTime || isDead(stat.state)) return false;
  return nonceMatches(h.pid, h.nonce);
}

/**
 * The status the wrapper wrote, or null when there is none yet. Only a complete line counts: the
 * wrapper writes the file in place (spawn.ts), so a file read between its creation and the write,
 * or left empty by a SIGKILL at that moment, is no status.
 */
export function readExitStatus(exitPath: string): number | null {
  let raw: string;
  try {
    raw = readFileSync(exitPath, 'utf8');
  } catch {
    return null;
  }
  if (!/^\d+\n$/.test(raw)) return null;
  return Number(raw.slice(0, -1));
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  pollMs?: number;
  /** SIGTERM -> SIGKILL, default 2000. */
  graceMs?: number;
  /** Told when the end is seen, the group settled and the tree checked (core/trace.ts). */
  mark?: (name: string) => void;
  /** After the exit, how long the group may take to empty by itself before it is signalled; default SETTLE_MS. */
  settleMs?: number;
}

export interface WaitResult {
  exitCode: number | null;
  timedOut: boolean;
  canceled: boolean;
  /** The process is gone and left no exit status. */
  vanished: boolean;
}

/**
 * Resolves when the exit file appears or the process dies; on timeout or abort, kills the whole
 * group first. Works for processes this daemon did not start (re-adoption after a restart).
 * Stray group members left behind by a finished agent (a backgrounded dev server, say) are
 * killed too, so they do not pile up across iterations.
 */
export async function waitForExit(h: ProcessHandle, exitPath: string, opts: WaitOptions = {}): Promise<WaitResult> {
  const pollMs = opts.pollMs ?? 100;
  const graceMs = opts.graceMs ?? 2000;
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;

  let wake: (() => void) | null = null;
  const onWake = (): void => wake?.();
  const child = ownChild(h.pid);
  child?.once('exit', onWake);
  opts.signal?.addEventListener('abort', onWake, { once: true });

  const finish = async (why: 'exit' | 'timeout' | 'abort'): Promise<WaitResult> => {
    // After a normal exit, let the group empty by itself first: the output writer is still
    // draining the pipe (or still starting: Node cannot ignore SIGTERM before it runs our code).
    // Only what is left after that (strays holding the pipe) gets SIGTERM.
    opts.mark?.(`end seen (${why})`);
    if (why === 'exit') await settle(h, opts.settleMs ?? SETTLE_MS);
    opts.mark?.('group settled');
    // Once the agent's status is recorded, a process it left behind that missed the TERM gets one
    // of its own: holding the output pipe, it would keep the writer (and the step) for the grace.
    await killTree(h, why === 'exit' ? Math.min(graceMs, 500) : graceMs, () => readExitStatus(exitPath) !== null);
    // The dead-man guard's stamp (cluster mode), once its guard is gone with the group: removed
    // here rather than by an rm process in the guard (spawn.ts).
    rmSync(guardStampPath(exitPath), { force: true });
    opts.mark?.('tree checked');
    const exitCode = readExitStatus(exitPath);
    return {
      exitCode,
      timedOut: why === 'timeout',
      canceled: why === 'abort',
      vanished: why === 'exit' && exitCode === null,
    };
  };

  try {
    for (;;) {
      if (opts.signal?.aborted) return await finish('abort');
      if (readExitStatus(exitPath) !== null) return await finish('exit');
      // Re-read after the liveness check: the wrapper writes the file and then exits.
      if (!isAlive(h)) return await finish('exit');
      const left = deadline - Date.now();
      if (left <= 0) return await finish('timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(pollMs, left));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    child?.off('exit', onWake);
    opts.signal?.removeEventListener('abort', onWake);
  }
}

