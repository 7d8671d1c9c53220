// The base of every loopctl command: --json, one-line errors, and a connected client.
// The tRPC client (trpc, superjson, eventsource) is imported lazily so that commands that never
// talk to the daemon, and --help, start fast.
import { Command, Errors } from '@oclif/core';
import type { DaemonLocation, LoopClient } from './client.js';
import { firstLine } from './format.js';
import { escapeControls, paletteFor } from './text.js';
import { UserError } from './user-error.js';

export const START_HINT = 'start it with "loopctl daemon start" (or "npx loopctl daemon start" from the loopd repo)';

export { UserError } from './user-error.js';

export function notRunningMessage(url: string): string {
  return `loopd is not running at ${url}: ${START_HINT}`;
}

export function unauthorizedMessage(loc: DaemonLocation): string {
  switch (loc.tokenSource) {
    case 'LOOPD_AUTH_TOKEN':
      return (
        `the daemon rejected the token: it was read from LOOPD_AUTH_TOKEN and does not match the daemon at ${loc.url}; ` +
        `unset LOOPD_AUTH_TOKEN to use ${loc.tokenPath}, or set it to the token the daemon was started with`
      );
    case 'file':
      return (
        `the daemon rejected the token: it was read from ${loc.tokenPath} and does not match the daemon at ${loc.url} ` +
        `(started with another LOOPD_HOME or LOOPD_AUTH_TOKEN?); set LOOPD_HOME to the daemon's data dir or LOOPD_AUTH_TOKEN to its token, ` +
        `or restart it with "loopctl daemon stop" and "loopctl daemon start"`
      );
    case 'option':
      return `the daemon rejected the token passed to the client: it does not match the daemon at ${loc.url}`;
    case 'none':
      return (
        `the daemon rejected the request: no token found (LOOPD_AUTH_TOKEN is not set and ${loc.tokenPath} does not exist); ` +
        `set LOOPD_HOME to the daemon's data dir or LOOPD_AUTH_TOKEN to its token`
      );
  }
}

/** The parts of a TRPCClientError we look at, by shape, so this file need not import @trpc/client. */
interface ClientErrorLike {
  name: string;
  message: string;
  data?: { code?: string; httpStatus?: number } | null;
  cause?: unknown;
}

function isClientError(err: unknown): err is ClientErrorLike {
  return err instanceof Error && err.name === 'TRPCClientError';
}

/** fetch() failing to connect surfaces as a TypeError "fetch failed" whose cause has the errno. */
function isConnectionFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EHOSTUNREACH') return true;
    if (e instanceof TypeError && e.message === 'fetch failed') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** tRPC passes zod's message through, which is the issues as pretty JSON; make it one line. */
export function validationMessage(message: string): string | null {
  if (!message.trimStart().startsWith('[')) return null;
  try {
    const issues = JSON.parse(message) as unknown;
    if (!Array.isArray(issues) || issues.length === 0) return null;
    const parts = issues.map((i: { message?: unknown; path?: unknown }) => {
      const path = Array.isArray(i.path) && i.path.length > 0 ? `${i.path.join('.')}: ` : '';
      return `${path}${typeof i.message === 'string' ? i.message : 'invalid'}`;
    });
    return `invalid request: ${parts.join('; ')}`;
  } catch {
    return null;
  }
}

/**
 * oclif's flag and argument errors span lines ("Parsing --iterations\n\tExpected an integer...\n
 * See more help with --help"); one line reads the same and keeps stderr to one line.
 */
export function parseErrorMessage(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    // The note about flags that take several values does not apply: --set is not greedy.
    .filter((l) => l !== '' && !/^(See more help with --help$|Note: |Alternatively, you can use "--")/i.test(l));
  let out = '';
  for (const l of lines) out = out === '' ? l : `${out}${/[:;,]$/.test(out) ? ' ' : ': '}${l}`;
  return `${out} (see --help)`;
}

export interface FollowHandlers<T> {
  onData: (value: T) => void;
  onError: (err: unknown) => void;
  onComplete: () => void;
  onConnectionStateChange: (state: { state: 'idle' | 'connecting' | 'pending'; error: unknown }) => void;
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  /** Set once a client was requested, so errors can say where the URL and token came from. */
  protected location: DaemonLocation | null = null;

  protected get json(): boolean {
    return this.jsonEnabled();
  }

  /** Pretty JSON on stdout (oclif's own result printing is not used, so output is uniform). */
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One compact JSON document per line, for streams. */
  protected printJsonLine(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Where the daemon should be, without contacting it. */
  protected async locate(): Promise<DaemonLocation> {
    const { discoverDaemon } = await import('./client.js');
    this.location = discoverDaemon();
    return this.location;
  }

  /**
   * A client for a daemon that answers /health. The wait covers a daemon that is starting or
   * restarting (daemon.json names a live process); with no sign of a daemon it fails after a short
   * retry instead of making every command sit out the full 5 s.
   */
  protected async client(): Promise<LoopClient> {
    const loc = await this.locate();
    const { createClientFor, pidAlive, waitForDaemon } = await import('./client.js');
    const expectDaemon = loc.info !== null && pidAlive(loc.info.pid);
    const up = await waitForDaemon(loc.url, expectDaemon ? 5000 : 600);
    if (!up) throw new UserError(notRunningMessage(loc.url));
    if (loc.token === null) {
      // A daemon that just started may have written its token after we first looked.
      this.location = null;
      const again = await this.locate();
      return createClientFor(again.url, again.token);
    }
    return createClientFor(loc.url, loc.token);
  }

  /**
   * Runs a subscription until the server ends it. eventsource unref()s its reconnect timer, so
   * without a ref'd handle Node would exit in the middle of a reconnect.
   */
  protected follow<T>(
    start: (handlers: FollowHandlers<T>) => { unsubscribe(): void },
    onData: (value: T) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const keepAlive = setInterval(() => {}, 60_000);
      let finished = false;
      let reconnecting = false;
      let sub: { unsubscribe(): void } | null = null;
      const finish = (err?: unknown) => {
        if (finished) return;
        finished = true;
        clearInterval(keepAlive);
        sub?.unsubscribe();
        if (err === undefined) resolve();
        else reject(err);
      };
      sub = start({
        onData: (value) => {
          if (finished) return;
          try {
            onData(value);
          } catch (err) {
            finish(err);
          }
        },
        onError: (err) => finish(err),
        onComplete: () => finish(),
        onConnectionStateChange: (s) => {
          if (s.state === 'connecting' && s.error && !reconnecting) {
            reconnecting = true;
            process.stderr.write(`connection to loopd lost; reconnecting (resumes where it stopped)...\n`);
          } else if (s.state === 'pending' && reconnecting) {
            reconnecting = false;
            process.stderr.write(`reconnected to loopd\n`);
          }
        },
      });
      if (finished) sub.unsubscribe();
    });
  }

  /** The one line the user reads for an error. */
  protected describeError(err: unknown): string {
    if (err instanceof UserError) return err.message;
    if (isClientError(err)) {
      if (err.data?.code === 'UNAUTHORIZED' || err.data?.httpStatus === 401) {
        return this.location ? unauthorizedMessage(this.location) : `the daemon rejected the token: ${firstLine(err.message)}`;
      }
      if (!err.data && isConnectionFailure(err)) {
        return notRunningMessage(this.location?.url ?? 'http://127.0.0.1:7700');
      }
      return validationMessage(err.message) ?? firstLine(err.message);
    }
    if (isConnectionFailure(err)) return notRunningMessage(this.location?.url ?? 'http://127.0.0.1:7700');
    // Flag and argument errors from oclif's parser, which also rewraps errors of a flag's own parse.
    if (err instanceof Error && ((err instanceof Errors.CLIError && 'parse' in err) || /\nSee more help with --help$/.test(err.message))) {
      const missing = (err as { args?: unknown }).args;
      if (err.message.startsWith('Missing ') && Array.isArray(missing) && missing.length > 0) {
        const names = missing.map((a: { name?: unknown }) => String(a.name ?? '?').toUpperCase());
        return `missing argument${names.length === 1 ? '' : 's'} ${names.join(', ')} (see --help)`;
      }
      return parseErrorMessage(err.message);
    }
    if (err instanceof Error) return err.message;
    return String(err);
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<never> {
    // this.exit() throws ExitError; oclif exits with its code without printing.
    if (err instanceof Errors.ExitError) throw err;
    const message = this.describeError(err);
    if (this.json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    else process.stderr.write(`${paletteFor(process.stderr).error('Error:')} ${escapeControls(message)}\n`);
    const code = err instanceof UserError ? err.exitCode : (err.oclif?.exit ?? 1);
    throw new Errors.ExitError(code === 0 ? 1 : code);
  }
}

// Formatting helpers live in format.ts (no oclif there, so the fast path can use them too).
export { firstLine, formatAge, formatClock, formatDuration, formatTime, renderTable, summarizePayload } from './format.js';
