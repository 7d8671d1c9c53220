// Where the daemon keeps its state, and how a client finds a running daemon.
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7700;

/** The data dir: LOOPD_HOME, else $XDG_DATA_HOME/loopd, else ~/.local/share/loopd. */
export function loopdHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOOPD_HOME && env.LOOPD_HOME.trim() !== '') return env.LOOPD_HOME;
  if (env.XDG_DATA_HOME && env.XDG_DATA_HOME.trim() !== '') return join(env.XDG_DATA_HOME, 'loopd');
  return join(homedir(), '.local', 'share', 'loopd');
}

export const homePaths = (home: string) => ({
  db: join(home, 'loopd.db'),
  token: join(home, 'auth-token'),
  /** Written by a running daemon: pid, host, port, startedAt. Removed on clean exit. */
  daemonInfo: join(home, 'daemon.json'),
  /** JSON log lines, rotated by size to loopd.log.1 ... */
  daemonLog: join(home, 'loopd.log'),
  /** The daemon's stdout/stderr when `loopctl daemon start` runs it: only what Node prints on a crash. */
  daemonStderr: join(home, 'loopd.stderr.log'),
  runs: join(home, 'runs'),
});

export interface DaemonInfo {
  pid: number;
  host: string;
  port: number;
  startedAt: number;
  version: string;
  /**
   * Set in the daemon.json a daemon writes early, before the slow part of its start-up (its HTTP
   * server may already answer, its --watch registrations are not made yet): loopctl daemon start
   * waits for the file without it, written once start-up is done.
   */
  starting?: boolean;
}

/** Parses "host:port", ":port" or "port". Only loopback hosts are accepted. */
export function parseAddr(addr: string): { host: string; port: number } {
  const trimmed = addr.trim();
  let host = DEFAULT_HOST;
  let portText = trimmed;
  const idx = trimmed.lastIndexOf(':');
  if (idx >= 0) {
    host = trimmed.slice(0, idx) || DEFAULT_HOST;
    portText = trimmed.slice(idx + 1);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) {
    throw new Error(`invalid address "${addr}": expected HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:7700`);
  }
  if (!isLoopbackHost(host)) {
    throw new Error(`invalid address "${addr}": loopd listens on loopback only (127.0.0.1, ::1 or localhost)`);
  }
  return { host, port };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
