// Starting the daemon's processes (git, the agent's wrapper) from a small long-lived spawner
// process instead of the daemon itself. Node's spawn() forks the calling process, which copies its
// page tables and blocks its event loop meanwhile: ~5 ms for a bare Node, 10-40 ms for a daemon of
// 90-250 MB, paid on every git process and every agent. The spawner (spawner-main.ts) stays at a
// bare Node's size and is asked over an IPC channel; the daemon only serializes a message.
//
// Started lazily on the first call, restarted on the next call after it died, and ended by
// stopSpawner() (the daemon's stop) or with the daemon (the channel closes). When it cannot be
// started (no compiled script, a spawn failure, three starts in a row that never answered), the
// daemon starts the process itself, exactly as before: same options, same results.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { installedPath } from './package-root.js';
import { runHere, startDetachedHere } from './spawn-here.js';
import type { RunOutcome, SpawnerReply, SpawnerRequest } from './spawner-protocol.js';

export type { RunOutcome } from './spawner-protocol.js';

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin, which is then closed (an empty stdin when absent). */
  input?: string;
  maxBuffer: number;
}

export interface Started {
  pid: number;
  /** /proc/<pid>/stat read before the process could be reaped, or null if it was unreadable. */
  stat: string | null;
  /**
   * Emits 'exit' when the process ends, as far as this daemon hears of it; 'lost' when it will
   * not hear of it any more (the spawner ended first): whoever waits then polls.
   */
  events: EventEmitter;
}

/** The spawner ended after taking the request and before answering it: the process may exist. */
export class SpawnerGoneError extends Error {
  override name = 'SpawnerGoneError';
}

// Small heaps: it holds one request's output at a time. --lite-mode (no optimizing compiler) keeps
// its code space small, which is most of what fork() copies in a process this size.
const SPAWNER_FLAGS = ['--max-old-space-size=32', '--max-semi-space-size=1', '--lite-mode'];
/** Starts that never answered, in a row, before the daemon stops trying and spawns itself. */
const MAX_FAILED_STARTS = 3;

type Answer =
  | Extract<SpawnerReply, { op: 'ran' } | { op: 'failed' }>
  | (Extract<SpawnerReply, { op: 'started' }> & { events: EventEmitter })
  | 'local'
  | 'gone';

interface Spawner {
  child: ChildProcess;
  ready: boolean;
  ended: boolean;
  retiring: boolean;
  pending: Map<number, (a: Answer) => void>;
  exits: Map<number, EventEmitter>;
}

let current: Spawner | null = null;
let failedStarts = 0;
let nextId = 1;

/** The compiled spawner script, in the build output whether this code runs from dist/, the daemon's bundle or the sources (tests). */
function spawnerScript(): string | null {
  const p = installedPath('dist', 'core', 'spawner-main.js');
  return existsSync(p) ? p : null;
}

function start(): Spawner | null {
  if (failedStarts >= MAX_FAILED_STARTS) return null;
  const script = spawnerScript();
  if (script === null) {
    failedStarts = MAX_FAILED_STARTS;
    return null;
  }
  let child: ChildProcess;
  try {
    // No environment of its own: every request carries the one its process gets.
    child = spawn(process.execPath, [...SPAWNER_FLAGS, script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: {}, serialization: 'json' });
  } catch {
    failedStarts++;
    return null;
  }
  const s: Spawner = { child, ready: false, ended: false, retiring: false, pending: new Map(), exits: new Map() };
  child.on('message', (m: SpawnerReply) => onReply(s, m));
  child.on('error', () => ended(s));
  // Not 'exit', which may come before the last messages are read.
  child.on('disconnect', () => ended(s));
  // Neither the process nor its channel keeps the daemon alive while nothing is asked of it.
  child.unref();
  child.channel?.unref();
  return s;
}

function onReply(s: Spawner, m: SpawnerReply): void {
  if (m.op === 'ready') {
    s.ready = true;
    failedStarts = 0;
    return;
  }
  if (m.op === 'exit') {
    const events = s.exits.get(m.pid);
    s.exits.delete(m.pid);
    events?.emit('exit', m.code, m.signal);
    return;
  }
  const settle = s.pending.get(m.id);
  if (!settle) return;
  s.pending.delete(m.id);
  idleCheck(s);
  if (m.op !== 'started') {
    settle(m);
    return;
  }
  // Its 'exit' message comes after this one, never before.
  const events = new EventEmitter();
  s.exits.set(m.pid, events);
  settle({ ...m, events });
}

function idleCheck(s: Spawner): void {
  if (s.pending.size > 0) return;
  s.child.channel?.unref();
  if (s.retiring && s.child.connected) s.child.disconnect();
}

function ended(s: Spawner): void {
  if (s.ended) return;
  s.ended = true;
  if (current === s) current = null;
  if (!s.ready) failedStarts++;
  // Never ready: it read no request, so the daemon runs them itself. Ready: it may have started
  // them, which only the caller can sort out.
  for (const settle of s.pending.values()) settle(s.ready ? 'gone' : 'local');
  s.pending.clear();
  for (const events of s.exits.values()) events.emit('lost');
  s.exits.clear();
  if (s.child.connected) s.child.disconnect();
}

function ask(req: SpawnerRequest): Promise<Answer> {
  const s = current ?? (current = start());
  if (s === null) return Promise.resolve('local');
  return new Promise((resolve) => {
    s.pending.set(req.id, resolve);
    s.child.channel?.ref();
    s.child.send(req, (err) => {
      if (err) ended(s);
    });
  });
}

/** Runs a command to its end with its output buffered, like execFile (the daemon's git commands). */
export async function runFile(file: string, args: string[], opts: RunOptions): Promise<RunOutcome> {
  const a = await ask({ op: 'run', id: nextId++, file, args, cwd: opts.cwd, env: opts.env, maxBuffer: opts.maxBuffer, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  if (a === 'local') return runHere(file, args, opts);
  if (a === 'gone') return { error: { code: null, signal: null, message: 'the spawner process ended before the command finished' }, stdout: '', stderr: '' };
  if (a.op !== 'ran') throw new Error(`spawner answered ${a.op} to a run`);
  return { error: a.error, stdout: a.stdout, stderr: a.stderr };
}

/**
 * Starts a command in its own session and process group with stdio ignored, not waited for and not
 * ended with the daemon. Throws the spawn error's message when it cannot start, SpawnerGoneError
 * when the spawner ended before saying whether it did.
 */
export async function spawnDetachedFile(file: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<Started> {
  const a = await ask({ op: 'detached', id: nextId++, file, args, cwd: opts.cwd, env: opts.env });
  if (a === 'local') return detachedLocal(file, args, opts);
  if (a === 'gone') throw new SpawnerGoneError('the spawner process ended before it reported the pid');
  if (a.op === 'failed') throw new Error(a.message);
  if (a.op !== 'started') throw new Error(`spawner answered ${a.op} to a spawn`);
  return { pid: a.pid, stat: a.stat, events: a.events };
}

async function detachedLocal(file: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<Started> {
  const { child, pid, stat } = await startDetachedHere(file, args, opts);
  child.unref();
  return { pid, stat, events: child };
}

/**
 * Ends the spawner once the commands it runs have answered (the daemon's stop). Detached processes
 * it started live on; a later call starts a new spawner.
 */
export function stopSpawner(): void {
  const s = current;
  if (s === null) return;
  current = null;
  s.retiring = true;
  idleCheck(s);
}

/** The spawner's pid while one runs (tests check that it ends). */
export function spawnerPid(): number | undefined {
  return current?.child.pid;
}
