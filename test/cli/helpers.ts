import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { format } from 'node:util';
import type { Config } from '@oclif/core';
import { vi } from 'vitest';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** A port nothing listens on: bind to 0, note it, close. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * When `out` (a file tsc wrote into dist/) was last known current: its own mtime, or the end of the
 * last tsc -b build (dist/tsconfig.tsbuildinfo), whichever is later. tsc -b does not rewrite an
 * output whose source was touched without changing, so the build info is what says it is current.
 */
function compiledAt(out: string): number {
  const info = join(repoRoot, 'dist', 'tsconfig.tsbuildinfo');
  return Math.max(statSync(out).mtimeMs, existsSync(info) ? statSync(info).mtimeMs : 0);
}

/** loopctl's oclif side in one file, what bin/loopctl.js runs past the fast path (scripts/build.sh). */
export const cliBundle = join(repoRoot, 'dist', 'bundle', 'loopctl.js');

/**
 * True when dist/, loopctl's bundle and the oclif manifest exist and no cli/ source is newer than
 * its compiled file or the bundle, so tests that spawn bin/loopctl.js exercise the current code (a
 * stale manifest runs stale code).
 */
export function builtCliIsFresh(): boolean {
  const manifest = join(repoRoot, 'oclif.manifest.json');
  if (!existsSync(manifest) || !existsSync(cliBundle)) return false;
  // esbuild rewrites the bundle on every build, so its own mtime says when it was made.
  const bundledAt = statSync(cliBundle).mtimeMs;
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  for (const src of walk(join(repoRoot, 'cli'))) {
    const out = join(repoRoot, 'dist', relative(repoRoot, src)).replace(/\.ts$/, '.js');
    if (!existsSync(out) || compiledAt(out) < statSync(src).mtimeMs) return false;
    if (statSync(manifest).mtimeMs < statSync(src).mtimeMs || bundledAt < statSync(src).mtimeMs) return false;
  }
  return true;
}

/** The daemon's single-file bundle that bin/loopd.js runs (scripts/build.sh). */
export const daemonBundle = join(repoRoot, 'dist', 'bundle', 'loopd.js');

/**
 * True when every TypeScript source of the daemon and the CLI (cli, host, router, core, functions,
 * triggers) has a compiled file in dist/ at least as new, the daemon's bundle was written after
 * every daemon source, and the oclif manifest is current: tests that start a real daemon through
 * bin/loopd.js or bin/loopctl.js then exercise the current code.
 */
export function builtDaemonIsFresh(): boolean {
  if (!builtCliIsFresh()) return false;
  // esbuild rewrites the bundle on every build, so its own mtime says when it was made.
  const bundledAt = existsSync(daemonBundle) ? statSync(daemonBundle).mtimeMs : -1;
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
        )
      : [];
  for (const top of ['host', 'router', 'core', 'functions', 'triggers']) {
    for (const src of walk(join(repoRoot, top))) {
      const out = join(repoRoot, 'dist', relative(repoRoot, src)).replace(/\.ts$/, '.js');
      const changedAt = statSync(src).mtimeMs;
      if (!existsSync(out) || compiledAt(out) < changedAt || bundledAt < changedAt) return false;
    }
  }
  return true;
}

export interface LoopctlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface LoopctlOptions {
  /** The whole environment of the command (nothing else is inherited). */
  env: NodeJS.ProcessEnv;
  /** Where it runs; default: the loopd checkout. */
  cwd?: string;
  timeoutMs?: number;
}

const LOOPCTL = join(repoRoot, 'bin', 'loopctl.js');

/**
 * Runs bin/loopctl.js in its own process with exactly `env`, in `cwd`: for what only the real
 * binary shows (the launcher, exit codes set by process.exit, stdout/stderr of a whole process).
 * Everything else goes through `loopctl()`, in this process.
 */
export function runLoopctl(args: string[], opts: LoopctlOptions): Promise<LoopctlResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [LOOPCTL, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A long-running bin/loopctl.js (`events -f`, `daemon logs -f`): its output so far, and Ctrl-C. */
export interface FollowingLoopctl {
  output(): string;
  stderr(): string;
  /** SIGINT (as Ctrl-C) unless it ended already; resolves with its exit code once it is gone. */
  stop(): Promise<number | null>;
  /** Its exit code once it ended by itself. */
  ended: Promise<number | null>;
}

export function followLoopctl(args: string[], opts: LoopctlOptions): FollowingLoopctl {
  const child = spawn(process.execPath, [LOOPCTL, ...args], { cwd: opts.cwd ?? repoRoot, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    ended: closed,
    output: () => stdout,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return closed;
    },
  };
}

/** Polls `cond` until it holds; the deadline only matters when the test fails. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type CommandClass = { id?: string; run(argv: string[], config: Config): Promise<unknown> };
type CommandModule = Promise<{ default: CommandClass }>;

// The commands from source (so coverage counts them). The daemon and service commands find
// bin/loopd.js from the package root (core/package-root.ts), the same from the sources as from dist/.
const commandModules: Record<string, () => CommandModule> = {
  cancel: () => import('../../cli/commands/cancel.js'),
  dashboard: () => import('../../cli/commands/dashboard.js'),
  diff: () => import('../../cli/commands/diff.js'),
  events: () => import('../../cli/commands/events.js'),
  hosts: () => import('../../cli/commands/hosts.js'),
  init: () => import('../../cli/commands/init.js'),
  inspect: () => import('../../cli/commands/inspect.js'),
  list: () => import('../../cli/commands/list.js'),
  merge: () => import('../../cli/commands/merge.js'),
  pause: () => import('../../cli/commands/pause.js'),
  pr: () => import('../../cli/commands/pr.js'),
  prompt: () => import('../../cli/commands/prompt.js'),
  resume: () => import('../../cli/commands/resume.js'),
  run: () => import('../../cli/commands/run.js'),
  scrap: () => import('../../cli/commands/scrap.js'),
  tail: () => import('../../cli/commands/tail.js'),
  unwatch: () => import('../../cli/commands/unwatch.js'),
  watch: () => import('../../cli/commands/watch.js'),
  workspaces: () => import('../../cli/commands/workspaces.js'),
  'daemon:logs': () => import('../../cli/commands/daemon/logs.js'),
  'daemon:status': () => import('../../cli/commands/daemon/status.js'),
  'daemon:stop': () => import('../../cli/commands/daemon/stop.js'),
  'daemon:start': () => import('../../cli/commands/daemon/start.js'),
  'daemon:restart': () => import('../../cli/commands/daemon/restart.js'),
  'daemon:install': () => import('../../cli/commands/daemon/install.js'),
  'daemon:uninstall': () => import('../../cli/commands/daemon/uninstall.js'),
};

/** The command id and its own argv, or null for what only oclif's dispatcher answers (help, typos, plugins). */
function routeCommand(argv: string[]): { id: string; rest: string[] } | null {
  const beforeDashes = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (beforeDashes.some((a) => a === '-h' || a === '--help' || a === '--version')) return null;
  const two = `${argv[0]}:${argv[1]}`;
  if (argv[0] === 'daemon') return two in commandModules ? { id: two, rest: argv.slice(2) } : null;
  return argv[0] !== undefined && argv[0] in commandModules ? { id: argv[0], rest: argv.slice(1) } : null;
}

// oclif's config reads the user's directories (cache, config, data) from the environment at load.
const configs = new Map<string, Promise<Config>>();
function oclifConfig(env: NodeJS.ProcessEnv): Promise<Config> {
  const key = JSON.stringify(['HOME', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME'].map((k) => env[k] ?? null));
  let config = configs.get(key);
  if (!config) configs.set(key, (config = import('@oclif/core').then(({ Config }) => Config.load(repoRoot))));
  return config;
}

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

let inProcessQueue: Promise<unknown> = Promise.resolve();

/**
 * loopctl in this process, by the route bin/loopctl.js takes: the fast path (cli/fast.ts) when it
 * answers, else the oclif command (from source, so coverage counts it), else oclif's dispatcher
 * (cli/main.ts: help, unknown commands, autocomplete). The environment is exactly `env` and the
 * working directory `cwd` while it runs; stdout, stderr and the exit code (ExitError, process.exit,
 * process.exitCode) are captured. One command at a time: they share process.env, the working
 * directory and the output streams. Saves a process start (~150 ms CPU on the oclif path) per
 * command; use runLoopctl where the process boundary itself is under test.
 */
export function loopctl(args: string[], opts: LoopctlOptions): Promise<LoopctlResult> {
  const next = inProcessQueue.then(() => runInProcess(args, opts));
  inProcessQueue = next.catch(() => undefined);
  return next;
}

async function runInProcess(argv: string[], opts: LoopctlOptions): Promise<LoopctlResult> {
  // Loaded here, not at the top: the files that import only the build checks need none of it.
  const [{ runFast }, { main }, { Errors }] = await Promise.all([import('../../cli/fast.js'), import('../../cli/main.js'), import('@oclif/core')]);
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const sigint = process.listeners('SIGINT');
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  // oclif's this.log and this.logToStderr go through console, which vitest intercepts.
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (stdout += `${format(...a)}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (stderr += `${format(...a)}\n`));
  const exit = vi.spyOn(process, 'exit').mockImplementation((code?: number | string | null) => {
    throw new ExitCalled(Number(code ?? 0));
  });
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, opts.env);
  process.chdir(opts.cwd ?? repoRoot);
  process.exitCode = undefined;
  let code = 0;
  const work = (async () => {
    try {
      if (process.env.LOOPCTL_NO_FAST_PATH !== '1' && (await runFast(argv, process.env))) return;
      const route = routeCommand(argv);
      if (route) {
        const command = (await commandModules[route.id]!()).default;
        command.id = route.id;
        await command.run(route.rest, await oclifConfig(opts.env));
      } else {
        await main(repoRoot, argv);
      }
    } catch (e) {
      if (e instanceof ExitCalled) code = e.code;
      else if (e instanceof Errors.ExitError) code = e.oclif.exit ?? 1;
      else throw e;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`loopctl ${argv.join(' ')} did not end in ${opts.timeoutMs ?? 60_000} ms`)), opts.timeoutMs ?? 60_000);
      }),
    ]);
    if (code === 0 && typeof process.exitCode === 'number') code = process.exitCode;
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    out.mockRestore();
    err.mockRestore();
    log.mockRestore();
    error.mockRestore();
    exit.mockRestore();
    process.exitCode = undefined;
    for (const l of process.listeners('SIGINT')) if (!sigint.includes(l)) process.off('SIGINT', l);
    process.chdir(savedCwd);
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  }
}

/** True when dist/dashboard was built after every file of the dashboard's source was last changed. */
export function builtDashboardIsFresh(): boolean {
  const built = join(repoRoot, 'dist', 'dashboard', 'index.html');
  if (!existsSync(built)) return false;
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const builtAt = statSync(built).mtimeMs;
  return walk(join(repoRoot, 'dashboard')).every((src) => statSync(src).mtimeMs <= builtAt);
}

/**
 * Fails the test file loudly when the compiled daemon or CLI (and with `dashboard`, the dashboard)
 * is missing or older than its source: every test file that runs anything from dist/ calls this at
 * load, because a test that silently skipped on a stale build would pass while testing nothing.
 */
export function requireFreshBuild(opts: { dashboard?: boolean } = {}): void {
  if (!existsSync(daemonBundle)) throw new Error(`the daemon's bundle ${daemonBundle} is missing: run npm run build`);
  if (!builtDaemonIsFresh() || (opts.dashboard && !builtDashboardIsFresh())) {
    throw new Error('the build in dist/ (the compiled modules or the daemon bundle) is missing or older than the source: run npm run build');
  }
}

/**
 * Ends the daemon a test started in `home`: `loopctl daemon stop` first, and when its daemon.json is
 * still there (the stop failed), SIGKILL by the recorded pid.
 */
export async function stopTestDaemon(home: string, stop: () => Promise<unknown>): Promise<void> {
  const info = join(home, 'daemon.json');
  if (!existsSync(info)) return;
  await stop().catch(() => undefined);
  if (!existsSync(info)) return;
  try {
    process.kill((JSON.parse(readFileSync(info, 'utf8')) as { pid: number }).pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
