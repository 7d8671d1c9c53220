// Where the daemon is and which token to send, without loading the tRPC client: used by the fast
// path of loopctl (cli/fast.ts) as well as by client.ts, which re-exports all of it.
import { DEFAULT_HOST, DEFAULT_PORT, homePaths, loopdHome, parseAddr, type DaemonInfo } from '../core/home.js';

// Not `import ... from 'node:fs'`: that builds the module's whole ES namespace, loading fs/promises
// and its streams, ~3 ms on every loopctl start; this file is on loopctl's fast path.
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');

export interface LoopClientOptions {
  /** Base URL (`http://127.0.0.1:7700`) or `HOST:PORT`. */
  url?: string | undefined;
  token?: string | undefined;
  /** The daemon's data dir, where daemon.json and auth-token live. */
  home?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export type UrlSource = 'option' | 'LOOPD_ADDR' | 'daemon.json' | 'default';
export type TokenSource = 'option' | 'LOOPD_AUTH_TOKEN' | 'file' | 'none';

export interface DaemonLocation {
  /** Base URL without a trailing slash; tRPC is at `${url}/trpc`. */
  url: string;
  token: string | null;
  /** daemon.json as written by a listening daemon, if present (its pid may be stale). */
  info: DaemonInfo | null;
  home: string;
  urlSource: UrlSource;
  tokenSource: TokenSource;
  /** Where the token is (or would be) read from when it comes from the data dir. */
  tokenPath: string;
}

export function baseUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Accepts `http://host:port[/trpc]` or anything parseAddr accepts. */
export function normalizeUrl(url: string): string {
  const trimmed = url.trim();
  if (/^https?:\/\//i.test(trimmed)) return trimmed.replace(/\/+$/, '').replace(/\/trpc$/, '');
  const { host, port } = parseAddr(trimmed);
  return baseUrl(host, port);
}

/** Reads `<home>/daemon.json`; null when missing or not the expected shape. */
export function readDaemonInfo(home: string): DaemonInfo | null {
  let raw: string;
  try {
    raw = readFileSync(homePaths(home).daemonInfo, 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(raw) as Partial<DaemonInfo> | null;
    if (!v || typeof v.pid !== 'number' || typeof v.port !== 'number' || typeof v.host !== 'string') return null;
    return {
      pid: v.pid,
      host: v.host,
      port: v.port,
      startedAt: typeof v.startedAt === 'number' ? v.startedAt : 0,
      version: typeof v.version === 'string' ? v.version : '',
      ...(v.starting === true ? { starting: true } : {}),
    };
  } catch {
    // A half-written file while the daemon starts; callers retry.
    return null;
  }
}

/**
 * Where the daemon is and which token to send.
 * URL: opts.url, else LOOPD_ADDR (unless its port is 0, which only the daemon can resolve), else
 * `<home>/daemon.json`, else 127.0.0.1:7700.
 * Token: opts.token, else LOOPD_AUTH_TOKEN, else `<home>/auth-token`.
 */
export function discoverDaemon(opts: LoopClientOptions = {}): DaemonLocation {
  const env = opts.env ?? process.env;
  const home = opts.home ?? loopdHome(env);
  const paths = homePaths(home);
  const info = readDaemonInfo(home);

  let url: string | null = null;
  let urlSource: UrlSource = 'default';
  if (opts.url) {
    url = normalizeUrl(opts.url);
    urlSource = 'option';
  } else if (env.LOOPD_ADDR && env.LOOPD_ADDR.trim() !== '') {
    const addr = parseAddr(env.LOOPD_ADDR);
    if (addr.port !== 0) {
      url = baseUrl(addr.host, addr.port);
      urlSource = 'LOOPD_ADDR';
    }
  }
  if (url === null && info) {
    url = baseUrl(info.host, info.port);
    urlSource = 'daemon.json';
  }
  if (url === null) url = baseUrl(DEFAULT_HOST, DEFAULT_PORT);

  let token: string | null = null;
  let tokenSource: TokenSource = 'none';
  if (opts.token) {
    token = opts.token;
    tokenSource = 'option';
  } else if (env.LOOPD_AUTH_TOKEN && env.LOOPD_AUTH_TOKEN.trim() !== '') {
    token = env.LOOPD_AUTH_TOKEN.trim();
    tokenSource = 'LOOPD_AUTH_TOKEN';
  } else {
    try {
      const text = readFileSync(paths.token, 'utf8').trim();
      if (text !== '') {
        token = text;
        tokenSource = 'file';
      }
    } catch {
      // No token yet: the daemon creates it at first start.
    }
  }
  return { url, token, info, home, urlSource, tokenSource, tokenPath: paths.token };
}

/** True when `GET <url>/health` answers `{"ok":true}` within timeoutMs. */
export async function probeHealth(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${normalizeUrl(url)}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return false;
    }
    const body = (await res.json()) as { ok?: unknown } | null;
    return body?.ok === true;
  } catch {
    return false;
  }
}

/** Probes with exponential backoff from 200 ms until the daemon answers or totalMs has passed. */
export async function waitForDaemon(url: string, totalMs = 5000): Promise<boolean> {
  const deadline = Date.now() + totalMs;
  let delay = 200;
  for (;;) {
    const left = deadline - Date.now();
    if (await probeHealth(url, Math.max(100, Math.min(1000, left)))) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    await new Promise((r) => setTimeout(r, Math.min(delay, remaining)));
    delay = Math.min(delay * 2, 2000);
  }
}

/**
 * True when a process with this pid exists and has not exited (EPERM: it exists but belongs to
 * someone else). An exited daemon stays a zombie until its parent reaps it; a daemon started by
 * `daemon start` is reparented to PID 1, and some containers' init reaps only now and then (over a
 * second, measured), so a zombie counts as gone: `daemon stop` returns when the daemon has exited.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // Gone between the two looks; without /proc at all, kill(0) answered, so trust it.
    return existsSync('/proc/self/stat');
  }
  // The state follows the command name, which is in parentheses and may itself hold spaces or ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}
