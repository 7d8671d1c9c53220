// Short, attached agent calls (naming a run, say): unlike process.ts, nothing here has to survive
// the daemon, so the command simply runs as our child and its output is collected in memory.
import { execa } from 'execa';
import { stepEnv } from './process.js';

export interface OneShotResult {
  /** null when the command never started or was killed by a signal. */
  exitCode: number | null;
  /** stdout and stderr, interleaved as written. */
  output: string;
  timedOut: boolean;
}

// $1 is the command line. The outer shell merges stderr into stdout so the output keeps the
// order it was written in (execa's `all` batches each stream); the inner shell runs the
// command, so its syntax is the user's business, as with agents under process.ts.
const WRAPPER = '/bin/sh -c "$1" 2>&1';

// Grace between SIGTERM and SIGKILL to the group: an agent CLI gets a moment to exit cleanly.
const KILL_GRACE_MS = 2000;

/** Runs a shell command line with the prompt on stdin; never throws, whatever the command does. */
export async function runOneShot(opts: {
  command: string;
  cwd: string;
  prompt: string;
  timeoutMs: number;
  env?: Record<string, string>;
}): Promise<OneShotResult> {
  try {
    const r = await execa('/bin/sh', ['-c', WRAPPER, 'loopd-oneshot', opts.command], {
      cwd: opts.cwd,
      env: stepEnv(opts.env ?? {}),
      extendEnv: false,
      input: opts.prompt,
      timeout: opts.timeoutMs,
      // The whole group, not just the shell: otherwise a killed wrapper leaves the agent (and
      // whatever it started) running, still holding the pipe, and the call hangs.
      killDescendants: true,
      forceKillAfterDelay: KILL_GRACE_MS,
      reject: false,
      stripFinalNewline: false,
    });
    let output = r.stdout;
    if (r.exitCode === undefined && !r.timedOut && output === '') {
      // Never started (missing cwd, say): the reason is worth more than an empty log.
      output = r.shortMessage ?? r.message ?? 'failed to start';
    }
    return { exitCode: r.exitCode ?? null, output, timedOut: r.timedOut };
  } catch (e) {
    // reject: false covers the command failing, not execa itself refusing (invalid options).
    return { exitCode: null, output: e instanceof Error ? e.message : String(e), timedOut: false };
  }
}
