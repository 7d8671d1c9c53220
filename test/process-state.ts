// The process-wide state a test file can change and the next file in the same worker process would
// inherit (test/shared-worker-guard.ts): noted before a file, put back after it where it can be.
import { vi } from 'vitest';

type Listener = (...args: unknown[]) => void;

/** Process events a test (or the code it runs: a daemon's main, a CLI command) may listen to. */
const EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'uncaughtExceptionMonitor', 'warning'] as const;

/**
 * Handles that mean something is still serving or watching: a daemon or HTTP server still
 * listening, a file watcher still open (process.getActiveResourcesInfo() names them so).
 */
const HANDLES: Record<string, string> = {
  TCPServerWrap: 'listening server',
  PipeServerWrap: 'listening socket server',
  FSEventWrap: 'file watcher',
  StatWatcher: 'polling file watcher',
};

export interface ProcessState {
  env: Record<string, string | undefined>;
  cwd: string;
  listeners: Map<string, Listener[]>;
  handles: Map<string, number>;
}

function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (r in HANDLES) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

const listenersOf = (event: string): Listener[] => process.listeners(event as NodeJS.Signals) as Listener[];

export function noteProcessState(): ProcessState {
  return {
    env: { ...process.env },
    cwd: process.cwd(),
    listeners: new Map(EVENTS.map((e) => [e, listenersOf(e)])),
    handles: handleCounts(),
  };
}

/**
 * Puts back what differs from `was` where it can (the environment, the working directory, the
 * exit code, added process listeners, fake timers) and says, one item each, what differed. Open
 * servers and watchers cannot be closed from outside: they are waited for up to `graceMs` (one may
 * take a moment to let go after its close() resolved) and reported.
 */
export async function restoreProcessState(was: ProcessState, graceMs = 5000): Promise<string[]> {
  const left: string[] = [];
  const changed = [...new Set([...Object.keys(was.env), ...Object.keys(process.env)])].filter((k) => process.env[k] !== was.env[k]);
  if (changed.length > 0) {
    left.push(`process.env ${changed.join(', ')} changed`);
    for (const k of changed) {
      if (was.env[k] === undefined) delete process.env[k];
      else process.env[k] = was.env[k];
    }
  }
  if (process.cwd() !== was.cwd) {
    left.push(`the working directory changed to ${process.cwd()}`);
    process.chdir(was.cwd);
  }
  if (process.exitCode !== undefined && process.exitCode !== 0) {
    left.push(`process.exitCode set to ${process.exitCode}`);
    process.exitCode = undefined;
  }
  for (const [event, old] of was.listeners) {
    const added = listenersOf(event).filter((l) => !old.includes(l));
    if (added.length === 0) continue;
    left.push(`${added.length} process '${event}' listener(s)`);
    for (const l of added) process.off(event, l);
  }
  if (vi.isFakeTimers()) {
    left.push('fake timers on');
    vi.useRealTimers();
  }
  const deadline = Date.now() + graceMs;
  for (;;) {
    const open = [...handleCounts()].filter(([k, n]) => n > (was.handles.get(k) ?? 0));
    if (open.length === 0) break;
    if (Date.now() >= deadline) {
      for (const [k, n] of open) left.push(`${n - (was.handles.get(k) ?? 0)} ${HANDLES[k]}(s) still open`);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return left;
}
