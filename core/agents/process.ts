// Detached agent processes that survive the daemon.
//
// The agent runs under a tiny /bin/sh wrapper in its own process group. The wrapper, not the
// daemon, owns the plumbing: stdin comes from the prompt file, stdout+stderr are appended to the
// log file, and the exit status is written to a file by rename when the command ends. So a
// daemon that dies mid-run loses nothing: after a restart it finds the process by pid + start
// time (ProcessHandle is plain JSON, meant to be stored), follows the log, and reads the exit
// file. Liveness comes from /proc, not kill(pid, 0), because in containers without a reaping
// init, killed orphans linger as zombies that kill(0) reports as alive.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export interface SpawnSpec {
  /** Run via /bin/sh -c. */
  shellCommand: string;
  cwd: string;
  /** Added to the daemon's own environment (agents need PATH, HOME...). */
  env: Record<string, string>;
  /** Prompt file fed on stdin. */
  stdinPath: string;
  /** stdout+stderr appended, in order. */
  logPath: string;
  /** Keep at most this many bytes of output in the log (head + last part, output-cap.ts). */
  maxOutputBytes?: number;
  /** Written atomically (tmp + mv) with the exit status when the command ends. */
  exitPath: string;
  /**
   * Chosen by the caller and recorded before spawning, so a daemon that dies between the spawn and
   * recording the pid can still find the process (findByNonce) instead of starting it twice.
   */
  nonce?: string;
}

export interface ProcessHandle {
  pid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat, to guard against pid reuse. */
  startTime: string;
  nonce: string;
}

export const NONCE_ENV = 'LOOP_PROCESS_NONCE';

// $1 command, $2 stdin file, $3 log, $4 exit file, $5 output cap in bytes (empty: none), $6 node,
// $7 the capping writer. Arguments rather than interpolation, so no path or command needs
// quoting. The no-op TERM/INT traps keep the shells alive long enough to record the status of a
// child that was terminated (143/130) instead of dying with it; a trap that runs a command
// (unlike `trap ""`) is reset to the default in children, so agents still get the signal.
// SIGKILL still ends everything.
//
// With a cap, the agent writes into a pipe read by the capping writer (output-cap.ts), which
// lives in this process group too, so it survives a daemon restart like the agent. The exit
// status is written as soon as the agent ends, not when the pipe closes: a background process
// the agent left holding the pipe must not hold up the step (it is killed with the group).
const WRAPPER = [
  "trap ':' TERM INT",
  // Redirect the wrapper itself first, so even "cannot open <prompt>" ends up in the log.
  'exec >> "$3" 2>&1',
  // A function's $1.. are its own arguments: the exit file path goes in through a variable.
  'exitf="$4"',
  'record() { tmp="$exitf.tmp.$$"; printf \'%s\\n\' "$1" > "$tmp" && mv -f "$tmp" "$exitf"; }',
  'if [ -n "$5" ]; then',
  '  { trap \':\' TERM INT; /bin/sh -c "$1" < "$2"; record $?; } 2>&1 | "$6" "$7" "$3" "$5" > /dev/null 2>&1',
  'else',
  '  /bin/sh -c "$1" < "$2"',
  '  record $?',
  'fi',
].join('\n');

/**
 * The compiled capping writer: beside this module when running from dist/, else (tests running
 * the TypeScript sources) in the build output, which `npm test` refreshes first.
 */
export function capperScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, 'output-capper.js');
  if (existsSync(sibling)) return sibling;
  const built = join(here, '..', '..', 'dist', 'core', 'agents', 'output-capper.js');
  if (existsSync(built)) return built;
  throw new Error(`cannot find the output capping writer (output-capper.js) next to ${here}: run npm run build`);
}

/** Children spawned by this daemon instance, for a fast wake-up on 'exit' instead of a poll. */
const children = new Map<number, ChildProcess>();

interface ProcStat {
  state: string;
  pgrp: number;
  startTime: string;
}

function readStat(pid: number): ProcStat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses; everything after the last ')' is fixed.
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const pgrp = rest[2];
  const startTime = rest[19];
  if (state === undefined || pgrp === undefined || startTime === undefined) return null;
  return { state, pgrp: Number(pgrp), startTime };
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null if no such process. */
export function readProcessStartTime(pid: number): string | null {
  return readStat(pid)?.startTime ?? null;
}

const isDead = (state: string): boolean => state === 'Z' || state === 'X' || state === 'x';

function nonceMatches(pid: number, nonce: string): boolean {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return true; // unreadable (hidepid, other user): the start time check has to suffice
  }
  if (env === '') return true; // kernel threads and exiting processes expose no environment
  return env.split('\0').includes(`${NONCE_ENV}=${nonce}`);
}

/**
 * The environment of every process started for a step: the daemon's own (agents need PATH, HOME,
 * their API keys), minus every LOOPD_* variable, so an agent never holds the daemon's API token,
 * address or data dir, plus the step's documented LOOP_* variables.
 */
export function stepEnv(extra: Record<string, string>, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.toUpperCase().startsWith('LOOPD_')) env[k] = v;
  return { ...env, ...extra };
}

/** What `loopctl daemon status` reports about how step processes are contained. */
export function containment(): { env: string; processes: string; cgroup: boolean } {
  return {
    env: 'LOOPD_* variables removed from every agent and verification command',
    processes: 'process group, plus any process carrying the step nonce (found in /proc/<pid>/environ), killed at timeout, cancel and step end',
    // A cgroup per step would also catch processes that drop the nonce from their environment;
    // loopd does not create cgroups (most daemons cannot write to /sys/fs/cgroup).
    cgroup: false,
  };
}

export async function spawnDetached(spec: SpawnSpec): Promise<ProcessHandle> {
  mkdirSync(dirname(spec.logPath), { recursive: true });
  mkdirSync(dirname(spec.exitPath), { recursive: true });
  // A leftover status from an earlier process at this path would make waitForExit return at once.
  rmSync(spec.exitPath, { force: true });
  const nonce = spec.nonce ?? randomUUID();
  const cap = spec.maxOutputBytes !== undefined && spec.maxOutputBytes > 0 ? String(Math.floor(spec.maxOutputBytes)) : '';
  const args = [spec.shellCommand, spec.stdinPath, spec.logPath, spec.exitPath, cap, process.execPath, cap ? capperScript() : ''];
  const subprocess = execa('/bin/sh', ['-c', WRAPPER, 'loopd-agent', ...args], {
    cwd: spec.cwd,
    env: stepEnv({ ...spec.env, [NONCE_ENV]: nonce }),
    extendEnv: false,
    detached: true,
    stdio: 'ignore',
    // execa's default cleanup kills the child when the daemon exits; the whole point is that it lives on.
    cleanup: false,
    reject: false,
  });
  const child = subprocess.nodeChildProcess;
  const pid = child.pid;
  if (pid === undefined) {
    const result = await subprocess;
    throw new Error(`cannot start agent in ${spec.cwd}: ${result.message ?? 'spawn failed'}`);
  }
  // Read while the child cannot have been reaped yet: until Node handles SIGCHLD (never before
  // this synchronous read), the pid stays ours even if the wrapper already exited.
  const stat = readStat(pid);
  if (stat === null) throw new Error(`agent process ${pid} vanished before it could be tracked`);
  children.set(pid, child);
  child.once('exit', () => children.delete(pid));
  child.unref();
  // The execa promise settles when the wrapper ends; swallow it, the exit file is the record.
  subprocess.then(
    () => undefined,
    () => undefined,
  );
  // detached: true makes the wrapper a session and group leader, so its pgid is its pid.
  return { pid, pgid: pid, startTime: stat.startTime, nonce };
}

export function isAlive(h: ProcessHandle): boolean {
  const stat = readStat(h.pid);
  if (stat === null || stat.startTime !== h.startTime || isDead(stat.state)) return false;
  return nonceMatches(h.pid, h.nonce);
}

export function readExitStatus(exitPath: string): number | null {
  let raw: string;
  try {
    raw = readFileSync(exitPath, 'utf8').trim();
  } catch {
    return null;
  }
  if (!/^\d+$/.test(raw)) return null;
  return Number(raw);
}

/** Live (non-zombie) members of the handle's process group. */
function groupMembers(h: ProcessHandle): number[] {
  if (!(h.pgid > 1)) return [];
  // Once the leader's pid belongs to a different process, the pgid is no longer ours: Linux does
  // not hand out a pid while a group with that id still has members, so our group is gone.
  const leader = readStat(h.pid);
  if (leader !== null && leader.startTime !== h.startTime) return [];
  const members: number[] = [];
  for (const { pid, stat } of liveProcesses()) if (stat.pgrp === h.pgid) members.push(pid);
  return members;
}

/** Every process in /proc that is not a zombie, with its stat. */
function* liveProcesses(): Generator<{ pid: number; stat: ProcStat }> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const stat = readStat(pid);
    if (stat !== null && !isDead(stat.state)) yield { pid, stat };
  }
}

function signalGroup(h: ProcessHandle, signal: NodeJS.Signals): void {
  // A handle without a real group (pid unknown) must never become kill(0) or kill(-1).
  if (!(h.pgid > 1)) return;
  try {
    process.kill(-h.pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long a finished agent's group may take to empty by itself before it is signalled. */
const SETTLE_MS = 2000;

/** Waits until the group has no live member, or `ms` passed. */
async function settle(h: ProcessHandle, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!groupGone(h) && Date.now() < deadline) await sleep(20);
}

/**
 * True when no process of the group is left. One kill(0) answers the usual case after an agent
 * exits (the group is empty: ESRCH) without reading every /proc/<pid>/stat; when something answers
 * (maybe only a zombie, which groupMembers does not count), the full scan decides.
 */
function groupGone(h: ProcessHandle): boolean {
  if (h.pgid > 1) {
    try {
      process.kill(-h.pgid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
  }
  return groupMembers(h).length === 0;
}


/**
 * The step's processes in one pass over /proc: its group, and those that left the group (setsid,
 * a daemonizing tool shell) but still carry the step's nonce in their environment. Only processes
 * started no earlier than the step's own wrapper can carry its nonce, so older ones (most of the
 * machine) are never opened. Unreadable environments (other users) are skipped.
 */
function stepProcesses(h: ProcessHandle): { group: number[]; strays: number[] } {
  const leader = h.pgid > 1 ? readStat(h.pid) : null;
  // Once the leader's pid belongs to a different process, the pgid is no longer ours (see groupMembers).
  const groupOurs = h.pgid > 1 && !(leader !== null && leader.startTime !== h.startTime);
  const needle = h.nonce ? `${NONCE_ENV}=${h.nonce}` : null;
  const since = /^\d+$/.test(h.startTime) ? Number(h.startTime) : 0;
  const group: number[] = [];
  const strays: number[] = [];
  for (const { pid, stat } of liveProcesses()) {
    if (groupOurs && stat.pgrp === h.pgid) {
      group.push(pid);
      continue;
    }
    if (needle === null || pid === process.pid || Number(stat.startTime) < since) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (env.split('\0').includes(needle)) strays.push(pid);
  }
  return { group, strays };
}

function signalAll(h: ProcessHandle, strays: readonly number[], signal: NodeJS.Signals): void {
  signalGroup(h, signal);
  for (const pid of strays) {
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: already gone.
    }
  }
}

/**
 * SIGTERM to the whole group and to every process that left it but carries the step's nonce,
 * SIGKILL after graceMs to whatever is left; resolves once none is.
 */
export async function killTree(h: ProcessHandle, graceMs = 2000): Promise<void> {
  let p = stepProcesses(h);
  if (p.group.length === 0 && p.strays.length === 0) return;
  signalAll(h, p.strays, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    p = stepProcesses(h);
    if (p.group.length === 0 && p.strays.length === 0) return;
  }
  for (let i = 0; i < 40; i++) {
    p = stepProcesses(h);
    if (p.group.length === 0 && p.strays.length === 0) return;
    signalAll(h, p.strays, 'SIGKILL');
    await sleep(25);
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  pollMs?: number;
  /** SIGTERM -> SIGKILL, default 2000. */
  graceMs?: number;
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
  const child = children.get(h.pid);
  child?.once('exit', onWake);
  opts.signal?.addEventListener('abort', onWake, { once: true });

  const finish = async (why: 'exit' | 'timeout' | 'abort'): Promise<WaitResult> => {
    // After a normal exit, let the group empty by itself first: the output writer is still
    // draining the pipe (or still starting: Node cannot ignore SIGTERM before it runs our code).
    // Only what is left after that (strays holding the pipe) gets SIGTERM.
    if (why === 'exit') await settle(h, SETTLE_MS);
    await killTree(h, why === 'exit' ? Math.min(graceMs, 500) : graceMs);
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

/**
 * The process group leader started with this nonce (the wrapper shell), if it is still alive:
 * how a restarted daemon finds an agent whose pid it never got to record.
 */
export function findByNonce(nonce: string): ProcessHandle | null {
  for (const { pid, stat } of liveProcesses()) {
    if (stat.pgrp !== pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (env.split('\0').includes(`${NONCE_ENV}=${nonce}`)) return { pid, pgid: pid, startTime: stat.startTime, nonce };
  }
  return null;
}
