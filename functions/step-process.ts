// The crash-safe life of a step's process, one protocol for agents and verification commands:
//
//   1. record the intent (nonce, log, exit file) on the step, before anything runs;
//   2. spawn the command detached, in its own process group, with the nonce in its environment;
//   3. record the pid and its start time;
//   4. wait for the exit file, or, after a daemon restart, adopt the recorded process and wait;
//   5. read the exit status from the file the wrapper wrote.
//
// A daemon that dies between 1 and 3 finds the process by its nonce (recoverStepProcess), one that
// dies after 3 by pid + start time; either way it never starts a paid-for agent twice.
import { randomUUID } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { findByNonce, isAlive, killTree, readExitStatus, spawnDetached, waitForExit, type WaitResult } from '../core/agents/process.js';
import { guardStampPath, type HeartbeatGuard } from '../core/agents/heartbeat-guard.js';
import { traceMark } from '../core/trace.js';
import type { AgentProcessInfo, EventSink } from './types.js';

const FOLLOW_INTERVAL_MS = 100;

export interface LaunchSpec {
  /** Run through /bin/sh -c. */
  command: string;
  cwd: string;
  env: Record<string, string>;
  stdinPath: string;
  logPath: string;
  exitPath: string;
  /** Output cap (core/agents/output-cap.ts); none when absent. */
  maxOutputBytes?: number;
  /** Facts to remember with the process, so a re-adopted step can still judge the work. */
  commitBefore?: string;
  planBefore?: string | null;
  /** Cluster mode: the host's dead-man guard (core/agents/heartbeat-guard.ts); none on one host. */
  guard?: HeartbeatGuard | null;
  /** The step, for the bench's trace marks (core/trace.ts). */
  stepId?: number;
}

/** Steps 1-3: intent, spawn, started. Starts from an empty log and no exit file. */
export async function launchStepProcess(sink: Pick<EventSink, 'processIntent' | 'processStarted'>, spec: LaunchSpec): Promise<AgentProcessInfo> {
  writeFileSync(spec.logPath, '');
  rmSync(spec.exitPath, { force: true });
  const nonce = randomUUID();
  const startedAt = Date.now();
  const facts = { logPath: spec.logPath, exitPath: spec.exitPath, commitBefore: spec.commitBefore ?? '', planBefore: spec.planBefore ?? null, startedAt };
  // Must land before the spawn: it is how a restarted daemon finds a process whose pid it missed.
  await sink.processIntent({ nonce, ...facts });
  if (spec.stepId !== undefined) traceMark(spec.stepId, 'intent landed');
  const handle = await spawnDetached({
    nonce,
    shellCommand: spec.command,
    cwd: spec.cwd,
    env: spec.env,
    stdinPath: spec.stdinPath,
    logPath: spec.logPath,
    exitPath: spec.exitPath,
    ...(spec.maxOutputBytes !== undefined ? { maxOutputBytes: spec.maxOutputBytes } : {}),
    ...(spec.guard ? { guard: spec.guard } : {}),
  });
  if (spec.stepId !== undefined) traceMark(spec.stepId, 'spawned');
  const proc: AgentProcessInfo = { ...handle, ...facts };
  // Need not be awaited: a crash before it lands is covered by the intent's nonce.
  void sink.processStarted(proc);
  return proc;
}

export interface AwaitOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** Called while the process runs whenever its log grew (live output subscribers). */
  onOutput?: () => void;
  /** Trace marks of the wait's phases (core/trace.ts). */
  mark?: (name: string) => void;
}

/** Steps 4-5: waits for a launched or adopted process; its group is empty when this resolves. */
export async function awaitStepProcess(proc: AgentProcessInfo, opts: AwaitOptions): Promise<WaitResult> {
  const onOutput = opts.onOutput;
  let follower: ReturnType<typeof setInterval> | null = null;
  if (onOutput) {
    let lastSize = 0;
    follower = setInterval(() => {
      try {
        const size = statSync(proc.logPath).size;
        if (size !== lastSize) {
          lastSize = size;
          onOutput();
        }
      } catch {
        /* the log may not exist for a moment */
      }
    }, FOLLOW_INTERVAL_MS);
  }
  try {
    return await waitForExit(proc, proc.exitPath, { timeoutMs: opts.timeoutMs, signal: opts.signal, ...(opts.mark ? { mark: opts.mark } : {}) });
  } finally {
    if (follower) clearInterval(follower);
  }
}

/** Ends an adopted process without waiting for its result (a step that simply runs again). */
export async function abandonStepProcess(proc: AgentProcessInfo, graceMs = 2000): Promise<void> {
  await killTree(proc, graceMs, () => readExitStatus(proc.exitPath) !== null);
  // The dead-man guard's stamp went with nobody (the group is gone): waitForExit removes it otherwise.
  rmSync(guardStampPath(proc.exitPath), { force: true });
}

/** What a step's recorded process JSON holds: at least the intent, the pid once it was started. */
export type RecordedProcess = Partial<AgentProcessInfo> & { nonce: string; exitPath: string };

export type Recovered =
  /** Still running, or finished with an exit status: adopt it and read its result. */
  | { kind: 'adopt'; proc: AgentProcessInfo }
  /** Gone without an exit status (or never started): the step has to run again. */
  | { kind: 'gone'; proc: AgentProcessInfo | null };

/**
 * After a restart, what became of a step's process. A process whose pid was never recorded is
 * found by its nonce; one that finished while no daemon watched is known by its exit file.
 */
export function recoverStepProcess(recorded: RecordedProcess | null): Recovered {
  if (recorded === null) return { kind: 'gone', proc: null };
  let proc: RecordedProcess | null = recorded;
  if (!proc.pid) {
    // The daemon died between spawning and recording the pid: find the process by its nonce.
    const found = findByNonce(proc.nonce);
    if (found) proc = { ...proc, ...found };
    else if (readExitStatus(proc.exitPath) !== null) proc = { ...proc, pid: 0, pgid: 0, startTime: '' };
    else proc = null;
  }
  const handle = proc as AgentProcessInfo | null;
  if (handle && (isAlive(handle) || readExitStatus(handle.exitPath) !== null)) return { kind: 'adopt', proc: handle };
  return { kind: 'gone', proc: handle };
}
