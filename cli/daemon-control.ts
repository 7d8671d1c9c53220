// Starting and stopping the daemon process, shared by `daemon start`, `daemon stop` and
// `daemon restart`. The commands print; these functions only act and report what happened.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { resolve } from 'node:path';
import { homePaths, loopdHome, parseAddr } from '../core/home.js';
import { installedPath } from '../core/package-root.js';
import { DAEMON_NODE_FLAGS } from '../host/node-flags.js';
import { UserError } from './base.js';
import { baseUrl, createClientFor, pidAlive, probeHealth, readDaemonInfo, type DaemonLocation } from './client.js';

const START_TIMEOUT_MS = 10_000;
export const STOP_TIMEOUT_MS = 10_000;
/** How long `daemon stop --drain` waits for in-flight steps (agents can take a while). */
export const DRAIN_TIMEOUT_MS = 10 * 60_000;

export interface StartOptions {
  addr?: string | undefined;
  maxConcurrency?: number | undefined;
  /** Directories whose workspaces the daemon watches from the start (`loopd --watch PATH`). */
  watch?: string[] | undefined;
  /** Where the last lines of the daemon log go when it fails to start; null: nowhere. */
  logTail?: ((text: string) => void) | null;
}

export type StartResult =
  | { started: true; alreadyRunning: false; pid: number; url: string; home: string; log: string }
  | { started: false; alreadyRunning: true; pid: number; url: string; home: string };

/** --watch paths made absolute: the daemon runs in the data dir, so they are resolved against the user's cwd. */
export function resolveWatchPaths(paths: string[]): string[] {
  return paths.map((p) => {
    const abs = resolve(p);
    if (!fs.existsSync(abs)) throw new UserError(`--watch ${p}: directory not found`);
    if (!fs.statSync(abs).isDirectory()) throw new UserError(`--watch ${p}: not a directory`);
    return abs;
  });
}

/** Starts loopd detached and waits until it answers; reports an already running one instead. */
export async function startDaemon(opts: StartOptions): Promise<StartResult> {
  const home = resolve(loopdHome());
  const paths = homePaths(home);
  const watch = resolveWatchPaths(opts.watch ?? []);

  const current = readDaemonInfo(home);
  if (current && pidAlive(current.pid) && (await probeHealth(baseUrl(current.host, current.port), 1000))) {
    return { started: false, alreadyRunning: true, pid: current.pid, url: baseUrl(current.host, current.port), home };
  }

  const addrText = opts.addr ?? process.env.LOOPD_ADDR;
  const target = addrText && addrText.trim() !== '' ? parseAddr(addrText) : null;
  if (target && target.port !== 0 && (await probeHealth(baseUrl(target.host, target.port), 1000))) {
    throw new UserError(
      `something already answers at ${baseUrl(target.host, target.port)} but ${paths.daemonInfo} does not name it ` +
        '(a loopd with another LOOPD_HOME?); stop it, or pick another address with --addr',
    );
  }

  const script = installedPath('bin', 'loopd.js');
  if (!fs.existsSync(script)) throw new UserError(`cannot find the daemon launcher at ${script}`);

  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  // The daemon writes its own (rotated) log; its stdout/stderr only catch what Node prints when it
  // cannot start or crashes. Truncated at every start, so it never grows.
  const logFd = fs.openSync(paths.daemonStderr, 'w', 0o600);
  const args = [...DAEMON_NODE_FLAGS, script, '--home', home];
  if (opts.addr) args.push('--addr', opts.addr);
  if (opts.maxConcurrency !== undefined) args.push('--max-concurrency', String(opts.maxConcurrency));
  for (const w of watch) args.push('--watch', w);

  const spawnedAt = Date.now();
  // process.execPath: the launcher already put this CLI on Node >= 24.15, so the daemon gets it too.
  // cwd is the data dir so the daemon never pins the directory loopctl happened to be run from.
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: home, env: process.env });
  fs.closeSync(logFd);
  // Filled in by the child's callbacks; an object so the checks below are not narrowed away.
  const state: { exited: { code: number | null; signal: NodeJS.Signals | null } | null; failure: Error | null } = {
    exited: null,
    failure: null,
  };
  child.on('exit', (code, signal) => {
    state.exited = { code, signal };
  });
  child.on('error', (err) => {
    state.failure = err;
  });
  child.unref();

  const deadline = spawnedAt + START_TIMEOUT_MS;
  while (Date.now() < deadline && !state.exited && !state.failure) {
    const info = readDaemonInfo(home);
    // The pid check skips a stale daemon.json left by a crashed daemon; one still marked starting
    // is not done yet (its server may answer before its --watch registrations are made).
    if (info && !info.starting && (info.pid === child.pid || (info.startedAt >= spawnedAt - 1000 && pidAlive(info.pid)))) {
      const candidate = baseUrl(info.host, info.port);
      if (await probeHealth(candidate, 500)) {
        return { started: true, alreadyRunning: false, pid: info.pid, url: candidate, home, log: paths.daemonLog };
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  let why: string;
  const ended = state.exited;
  if (state.failure) why = `could not start ${process.execPath}: ${state.failure.message}`;
  else if (ended) why = `loopd exited during start-up (${ended.signal ? `signal ${ended.signal}` : `code ${ended.code}`})`;
  else {
    why = `loopd (pid ${child.pid}) did not answer within ${START_TIMEOUT_MS / 1000} s, so it was stopped`;
    try {
      if (child.pid) process.kill(child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  const tail = readLogTail(paths.daemonStderr, 20);
  if (opts.logTail && tail) opts.logTail(`--- ${paths.daemonStderr} ---\n${tail}\n---\n`);
  throw new UserError(`${why}; see ${paths.daemonStderr} and loopctl daemon logs`);
}

function readLogTail(path: string, lines: number): string {
  try {
    const text = fs.readFileSync(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface RunningDaemon {
  pid: number;
  home: string;
  host: string;
  port: number;
  maxConcurrency: number;
}

export type StopResult =
  | { stopped: true; drained: boolean; pid: number; url: string }
  | { stopped: false; running: false; url: string };

export interface StopOptions {
  drain: boolean;
  /** Called once the daemon accepted the stop request, before waiting for it to exit. */
  onRequested?: (d: RunningDaemon, timeoutMs: number) => void;
}

/** Asks the daemon at `loc` to stop and waits for its process to exit. */
export async function stopDaemon(loc: DaemonLocation, opts: StopOptions): Promise<StopResult> {
  if (!(await probeHealth(loc.url, 1000))) {
    const stale = loc.info && pidAlive(loc.info.pid) ? loc.info : null;
    if (stale) {
      throw new UserError(
        `loopd (pid ${stale.pid}, per ${loc.home}/daemon.json) does not answer at ${loc.url}; ` +
          `if it is hung, stop it with "kill ${stale.pid}"`,
      );
    }
    return { stopped: false, running: false, url: loc.url };
  }

  const client = createClientFor(loc.url, loc.token);
  // The pid from the daemon itself, since LOOPD_ADDR may point at a daemon with another data dir.
  const status = await client.daemon.status.query();
  const running: RunningDaemon = {
    pid: status.pid,
    home: status.home,
    host: status.host,
    port: status.port,
    maxConcurrency: status.maxConcurrency,
  };
  await client.daemon.stop.mutate(opts.drain ? { drain: true } : {});
  const timeoutMs = opts.drain ? DRAIN_TIMEOUT_MS : STOP_TIMEOUT_MS;
  opts.onRequested?.(running, timeoutMs);

  const deadline = Date.now() + timeoutMs;
  while (pidAlive(status.pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (pidAlive(status.pid)) {
    const waited = timeoutMs >= 60_000 ? `${timeoutMs / 60_000} min` : `${timeoutMs / 1000} s`;
    throw new UserError(
      `loopd (pid ${status.pid}) is still running ${waited} after the ${opts.drain ? 'drain' : 'stop'} request; ` +
        `see loopctl daemon logs, or stop it with "kill ${status.pid}"`,
    );
  }
  return { stopped: true, drained: opts.drain, pid: status.pid, url: loc.url };
}

export function startedLine(r: StartResult): string {
  return r.started ? `loopd started (pid ${r.pid}) on ${r.url}` : `loopd is already running (pid ${r.pid}) on ${r.url}`;
}

export function stoppedLine(r: StopResult): string {
  return r.stopped ? `loopd stopped (pid ${r.pid})${r.drained ? ' after its running steps finished' : ''}` : `loopd is not running at ${r.url}`;
}

export function drainingLine(d: RunningDaemon, timeoutMs: number): string {
  return `loopd (pid ${d.pid}) is draining: waiting up to ${Math.round(timeoutMs / 60_000)} min for running steps to finish (Ctrl-C stops waiting, not the drain)`;
}
