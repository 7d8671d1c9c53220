// A vitest setup file of every project whose files share worker processes (`isolate: false` in
// vitest.config.ts): a worker runs file after file, loading the sources once, so each file must
// leave the process as it found it. Before a file this notes the process-wide state a test can
// change; after it (after the file's own afterAll hooks: vitest runs after-hooks in reverse order,
// and this file's are registered first) it puts back what it can and fails the file, naming what
// it left behind, so a leak shows up at the file that made it rather than as a puzzling failure of
// whichever file happens to run next in that process. docs/testing.md lists the rules.
import { relative, resolve } from 'node:path';
import { afterAll, vi } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..');

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

interface Snapshot {
  env: Record<string, string | undefined>;
  cwd: string;
  listeners: Map<string, ((...args: unknown[]) => void)[]>;
  handles: Map<string, number>;
}

function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (r in HANDLES) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

// Taken when this setup file loads, which vitest does again before each test file is imported, so
// what the file's top-level code changes counts too.
let before: Snapshot | null = {
  env: { ...process.env },
  cwd: process.cwd(),
  listeners: new Map(EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals) as ((...args: unknown[]) => void)[]])),
  handles: handleCounts(),
};

// Vitest reads the first parameter as the fixtures to set up: it must be a destructuring pattern.
afterAll(async ({}, suite) => {
  const was = before;
  before = null;
  if (!was) return;
  const left: string[] = [];

  const changed = new Set([...Object.keys(was.env), ...Object.keys(process.env)].filter((k) => process.env[k] !== was.env[k]));
  if (changed.size > 0) {
    left.push(`process.env ${[...changed].join(', ')} changed`);
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
    const added = (process.listeners(event as NodeJS.Signals) as ((...args: unknown[]) => void)[]).filter((l) => !old.includes(l));
    if (added.length === 0) continue;
    left.push(`${added.length} process '${event}' listener(s)`);
    for (const l of added) process.off(event, l);
  }
  if (vi.isFakeTimers()) {
    left.push('fake timers on');
    vi.useRealTimers();
  }
  // A server or watcher may take a moment to let go after its close() resolved; up to 5 s on a
  // loaded machine (only a file that left one open waits at all).
  for (let i = 0; i < 100; i++) {
    const open = [...handleCounts()].filter(([k, n]) => n > (was.handles.get(k) ?? 0));
    if (open.length === 0) break;
    if (i === 99) for (const [k, n] of open) left.push(`${n - (was.handles.get(k) ?? 0)} ${HANDLES[k]}(s) still open`);
    else await new Promise((r) => setTimeout(r, 50));
  }

  if (left.length > 0) {
    throw new Error(
      `${relative(repoRoot, suite.file.filepath)} left the shared test process changed: ${left.join('; ')}. ` +
        'Files of this project share worker processes (isolate: false): restore it in afterEach/afterAll (docs/testing.md).',
    );
  }
});
