// The daemon's entry point: the `loopd` binary's arguments, the data dir's token and ownership,
// logging and signals. The parts are wired together in host/compose.ts (the composition root).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/artifacts.js';
import { DEFAULT_HOST, DEFAULT_PORT, homePaths, loopdHome, parseAddr, type DaemonInfo } from '../core/home.js';
import type { PublishedEvent } from './bus.js';
import { composeDaemon, type DaemonHandle, type DaemonOptions } from './compose.js';
import { isLoopdProcess, liveDaemonInfo, removeOwnDaemonInfo } from './daemon-file.js';
import { secureHome } from './home-perms.js';
import { createDaemonLogger, parseLogLevel, type LogFn } from './logger.js';
import { checkDatabaseUrl } from './pg/url.js';
import { installedPath } from '../core/package-root.js';
import { DEFAULT_LEASE_TTL_SEC, parseLeaseTtlSec } from '../core/config.js';

export type { DaemonHandle, DaemonOptions } from './compose.js';

export function packageVersion(): string {
  return (JSON.parse(readFileSync(installedPath('package.json'), 'utf8')) as { version: string }).version;
}

/** Shorter tokens can be guessed by anything that can reach the loopback port. */
export const MIN_TOKEN_LENGTH = 16;

function checkTokenLength(token: string, source: string): string {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(
      `${source} is ${token.length} characters long, too short to guard the API: use at least ${MIN_TOKEN_LENGTH} ` +
        `(e.g. the output of "openssl rand -hex 32"), or unset it and loopd generates one`,
    );
  }
  return token;
}

/** The bearer token: LOOPD_AUTH_TOKEN, else the one stored 0600 in the data dir (made once). */
export function ensureToken(home: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOOPD_AUTH_TOKEN && env.LOOPD_AUTH_TOKEN.trim() !== '') return checkTokenLength(env.LOOPD_AUTH_TOKEN.trim(), 'LOOPD_AUTH_TOKEN');
  const path = homePaths(home).token;
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim();
    if (t !== '') return checkTokenLength(t, `the token in ${path}`);
  }
  const token = randomBytes(32).toString('hex');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(path, token + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<DaemonHandle> {
  const home = opts.home ?? loopdHome();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const paths = homePaths(home);
  const log: LogFn = opts.log ?? ((m: string) => process.stderr.write(`[loopd] ${m}\n`));
  for (const change of secureHome(home)) log(`tightened ${change}`, { level: 'warn' });
  const token = opts.token ?? ensureToken(home);
  const maxConcurrency = opts.maxConcurrency ?? 3;
  // Two daemons on one data dir would both dispatch the same steps and pay for every agent twice.
  const other = liveDaemonInfo(paths.daemonInfo);
  if (other && other.pid !== process.pid && isLoopdProcess(other.pid)) {
    throw new Error(
      `another loopd (pid ${other.pid}, http://${other.host}:${other.port}) already uses the data dir ${home}: stop it first (loopctl daemon stop), or start this one with another --home / LOOPD_HOME`,
    );
  }
  const announceEarly = opts.writeInfo !== false && (opts.port ?? DEFAULT_PORT) !== 0 && !liveDaemonInfo(paths.daemonInfo);
  if (announceEarly) {
    // Written before the slow part of start-up, so a loopctl started right after `loopd &` sees a
    // live pid and waits for the daemon instead of reporting it not running.
    const early: DaemonInfo = { pid: process.pid, host: opts.host ?? DEFAULT_HOST, port: opts.port ?? DEFAULT_PORT, startedAt: Date.now(), version: packageVersion(), starting: true };
    writeFileAtomic(paths.daemonInfo, JSON.stringify(early) + '\n');
  }
  try {
    const host = opts.host ?? DEFAULT_HOST;
    return await composeDaemon({ opts, home, paths, log, token, maxConcurrency, host, port: opts.port ?? DEFAULT_PORT, version: packageVersion() });
  } catch (e) {
    if (announceEarly) removeOwnDaemonInfo(paths.daemonInfo);
    throw e;
  }
}

const USAGE = `usage: loopd [--addr HOST:PORT] [--home DIR] [--max-concurrency N] [--watch PATH]... [--log FILE|-] [--log-level LEVEL] [--database-url URL [--lease-ttl-sec N]]
  --addr             listen address, loopback only (default $LOOPD_ADDR or ${DEFAULT_HOST}:${DEFAULT_PORT}; port 0 = any free port)
  --home             data directory (default $LOOPD_HOME, $XDG_DATA_HOME/loopd or ~/.local/share/loopd)
  --max-concurrency  how many runs may be active at once (default 3); with --database-url, how many steps this host runs at once
  --watch            register a workspace with the spec watcher (repeatable); registrations persist
  --log              where the JSON log lines go: a file, rotated at 10 MB with 5 kept (default <home>/loopd.log),
                     or - for stdout (a service manager's journal)
  --log-level        debug, info, warn or error (default $LOOPD_LOG_LEVEL or info)
  --database-url     a shared PostgreSQL for several hosts instead of the data dir's SQLite (default $LOOPD_DATABASE_URL; docs/scaling.md)
  --lease-ttl-sec    with --database-url: seconds a claimed step's lease lasts without a heartbeat (default $LOOPD_LEASE_TTL_SEC or 30)`;

/** One log line per recorded event: the log then tells a run's whole story with its ids. */
export function eventLogFields(ev: PublishedEvent): Parameters<LogFn>[1] {
  let data: unknown;
  try {
    data = JSON.parse(ev.payload_json);
  } catch {
    data = ev.payload_json;
  }
  const failed = /FAILED|ERROR|CONFLICT/.test(ev.type);
  // Every host's bus carries the whole cluster's events; the host that wrote one logs it, the
  // others only at debug, marked with the writer, so N hosts do not log each decision N times.
  if (ev.relayed_from !== undefined) return { level: 'debug', runId: ev.run_id, stepId: ev.step_id, workspace: ev.workspace_root, seq: ev.seq, relayedFrom: ev.relayed_from, data };
  return { level: failed ? 'warn' : 'info', runId: ev.run_id, stepId: ev.step_id, workspace: ev.workspace_root, seq: ev.seq, data };
}

interface DaemonArgs {
  host: string;
  port: number;
  home: string;
  maxConcurrency: number;
  watch: string[];
  log: string | undefined;
  level: ReturnType<typeof parseLogLevel>;
  databaseUrl: string | undefined;
  leaseTtlSec: number;
}

/** The binary's arguments (and their environment defaults); null after --help or --version. */
function parseDaemonArgs(argv: string[]): DaemonArgs | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        addr: { type: 'string' },
        home: { type: 'string' },
        'max-concurrency': { type: 'string' },
        watch: { type: 'string', multiple: true },
        log: { type: 'string' },
        'log-level': { type: 'string' },
        'database-url': { type: 'string' },
        'lease-ttl-sec': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  }
  if (values.help || values.version) {
    process.stdout.write((values.help ? USAGE : packageVersion()) + '\n');
    return null;
  }
  const databaseUrl = values['database-url'] ?? process.env.LOOPD_DATABASE_URL;
  if (databaseUrl) checkDatabaseUrl(databaseUrl);
  const ttl = values['lease-ttl-sec'] ?? process.env.LOOPD_LEASE_TTL_SEC;
  const leaseTtlSec = ttl !== undefined ? parseLeaseTtlSec(ttl, values['lease-ttl-sec'] !== undefined ? '--lease-ttl-sec' : 'LOOPD_LEASE_TTL_SEC') : DEFAULT_LEASE_TTL_SEC;
  const { host, port } = parseAddr(values.addr ?? process.env.LOOPD_ADDR ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`);
  let maxConcurrency = 3;
  if (values['max-concurrency'] !== undefined) {
    maxConcurrency = Number(values['max-concurrency']);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new Error(`invalid --max-concurrency "${values['max-concurrency']}": expected an integer >= 1`);
    }
  }
  const level =
    values['log-level'] !== undefined
      ? parseLogLevel(values['log-level'], '--log-level')
      : process.env.LOOPD_LOG_LEVEL
        ? parseLogLevel(process.env.LOOPD_LOG_LEVEL, 'LOOPD_LOG_LEVEL')
        : 'info';
  return { host, port, home: values.home ?? loopdHome(), maxConcurrency, watch: values.watch ?? [], log: values.log, level, databaseUrl: databaseUrl || undefined, leaseTtlSec };
}

/** Start-up failures in words a person can act on (a port in use says which, and what to do). */
function startupFailure(e: unknown, host: string, port: number): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') {
    return new Error(`address ${host}:${port} is already in use: is another loopd running? (loopctl daemon status) Use --addr or LOOPD_ADDR to pick another port`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Entry point of the `loopd` binary. */
export async function main(argv: string[]): Promise<void> {
  const args = parseDaemonArgs(argv);
  if (args === null) return;
  const { host, port, home, maxConcurrency } = args;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const logger = createDaemonLogger({ dest: args.log ?? homePaths(home).daemonLog, level: args.level });
  const log = logger.log;
  let daemon: DaemonHandle;
  try {
    daemon = await startDaemon({ home, host, port, maxConcurrency, watch: args.watch, log, ...(args.databaseUrl ? { databaseUrl: args.databaseUrl, leaseTtlSec: args.leaseTtlSec } : {}) });
  } catch (e) {
    const failure = startupFailure(e, host, port);
    log(`start-up failed: ${failure.message}`, { level: 'error', stack: failure === e ? (e as Error).stack : undefined });
    await logger.close();
    throw failure;
  }
  daemon.bus.on('event', (ev: PublishedEvent) => log(ev.type, eventLogFields(ev)));
  // Handlers before the announcement: whoever waits for "listening on" may signal at once.
  const shutdown = (sig: string) => {
    // A second signal (say a relaunching launcher forwarding Ctrl-C) changes nothing.
    log(`${sig} received`);
    void daemon.stop();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  log(`listening on ${daemon.url}`, { pid: process.pid, home, version: packageVersion(), maxConcurrency });
  process.on('uncaughtExceptionMonitor', (err) => log(`crashed: ${err.message}`, { level: 'error', stack: err.stack }));
  await daemon.stopped;
  log('stopped');
  await logger.close();
  // Handlers still following agents hold timers; the agents themselves live on (detached) and the
  // next daemon re-adopts them, so this process can simply go.
  process.exit(0);
}
