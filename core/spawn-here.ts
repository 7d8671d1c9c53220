// Starting a process from the calling process itself: what the spawner process does for the daemon
// (spawner-main.ts), and what the daemon falls back to when no spawner can run (spawner.ts). Imports
// nothing beyond node:child_process and node:fs, so the spawner process stays small.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RunOutcome } from './spawner-protocol.js';

/** Runs a command to its end with its output buffered, stdin given (or empty) and closed. */
export function runHere(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; input?: string; maxBuffer: number }): Promise<RunOutcome> {
  return new Promise((resolve) => {
    try {
      const child = execFile(file, args, { cwd: opts.cwd, env: opts.env, encoding: 'utf8', maxBuffer: opts.maxBuffer }, (err, stdout, stderr) => {
        const error = err === null ? null : { code: typeof err.code === 'number' || typeof err.code === 'string' ? err.code : null, signal: err.signal ?? null, message: err.message };
        resolve({ error, stdout, stderr });
      });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input ?? '');
    } catch (e) {
      resolve({ error: { code: null, signal: null, message: e instanceof Error ? e.message : String(e) }, stdout: '', stderr: '' });
    }
  });
}

/**
 * Starts a command in its own session and process group with stdio ignored; rejects with the spawn
 * error when it cannot start. `stat` is /proc/<pid>/stat read while the child cannot have been
 * reaped yet (until this process handles SIGCHLD, never before this synchronous read, the pid stays
 * the child's even if it already exited); null when it could not be read.
 */
export async function startDetachedHere(file: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<{ child: ChildProcess; pid: number; stat: string | null }> {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) {
    // A failed spawn (a missing cwd, say) reports itself on 'error', on a later tick.
    throw await new Promise<Error>((resolve) => child.once('error', resolve));
  }
  child.on('error', () => undefined);
  let stat: string | null;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    stat = null;
  }
  return { child, pid, stat };
}
