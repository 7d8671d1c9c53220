// loopctl's fast path for the hot read commands: `list`, `inspect`, `tail` (-f, -n, --raw), `events`
// (RUN or --workspace [DIR]; -f, -n/--last, --since) and `daemon status`. Loading oclif, its parser, the tRPC
// client, superjson and undici costs ~200 ms before a command does anything, several times Node's
// own start-up; this path loads none of them and answers with one raw HTTP request (fast-http.ts).
//
// It never decides anything the full CLI would decide differently: it handles only argument lists
// it understands completely and a daemon that answers 200; for anything else (--help, a flag it
// does not know, a bad value, no daemon, an API error) it returns false before printing, and
// bin/loopctl.js runs the oclif command, which gives the canonical output and error.
// The text it prints comes from the same modules the oclif commands use (*-view.ts, format.ts).
// Each command imports its own view module when it runs: loading all of them costs every command.
import type { DaemonStatus, EventView, OutputChunk, RunDetail, RunView, TailView } from '../router/index.js';
import { trpcQuery } from './fast-http.js';
import { discoverDaemon, type DaemonLocation } from './locate.js';

type FlagKind = 'string' | 'multi' | 'int' | 'optional' | 'bool';
interface Spec {
  flags: Record<string, { kind: FlagKind; min?: number; max?: number }>;
  short?: Record<string, string>;
  /** Names of positional arguments, all required unless optionalArgs. */
  args: string[];
  optionalArgs?: boolean;
}

export interface Parsed {
  command: 'list' | 'inspect' | 'tail' | 'events' | 'daemon status';
  args: string[];
  flags: Record<string, string | number | string[] | boolean>;
  json: boolean;
}

const SPECS: Record<Parsed['command'], Spec> = {
  list: {
    flags: { status: { kind: 'multi' }, workspace: { kind: 'string' }, limit: { kind: 'int', min: 1, max: 10000 }, cursor: { kind: 'string' } },
    args: [],
  },
  inspect: { flags: {}, args: ['run'] },
  tail: { flags: { lines: { kind: 'int', min: 1 }, raw: { kind: 'bool' }, follow: { kind: 'bool' } }, short: { n: 'lines', f: 'follow' }, args: ['run'] },
  // RUN, or --workspace [DIR] (DIR optional: the current directory), never both nor neither.
  events: {
    flags: { workspace: { kind: 'optional' }, follow: { kind: 'bool' }, last: { kind: 'string' }, since: { kind: 'string' } },
    short: { f: 'follow', n: 'last' },
    args: ['run'],
    optionalArgs: true,
  },
  'daemon status': { flags: {}, args: [] },
};

/**
 * The command and its arguments when this path can answer them exactly as oclif would, else null.
 * Deliberately narrow: `--flag value` and `--flag=value`, `-n value`, `--json`, positionals.
 */
export function parseFast(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed | null {
  let command: Parsed['command'];
  let rest: string[];
  if (argv[0] === 'daemon' && argv[1] === 'status') {
    command = 'daemon status';
    rest = argv.slice(2);
  } else if (argv[0] === 'list' || argv[0] === 'inspect' || argv[0] === 'tail' || argv[0] === 'events') {
    command = argv[0];
    rest = argv.slice(1);
  } else {
    return null;
  }
  const spec = SPECS[command];
  const out: Parsed = { command, args: [], flags: {}, json: env.LOOPCTL_CONTENT_TYPE?.toLowerCase() === 'json' };
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i] as string;
    if (tok === '--json') {
      out.json = true;
      continue;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
      value = eq < 0 ? undefined : tok.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(tok)) {
      name = spec.short?.[tok.slice(1)];
      if (name === undefined) return null;
    } else if (tok.startsWith('-')) {
      return null;
    } else {
      if (out.args.length >= spec.args.length) return null;
      out.args.push(tok);
      continue;
    }
    const flag = spec.flags[name];
    if (!flag) return null;
    if (flag.kind === 'bool') {
      if (value !== undefined || name in out.flags) return null;
      out.flags[name] = true;
      continue;
    }
    if (value === undefined && flag.kind === 'optional') {
      // Like `events --workspace -f`: the flag alone, or followed by another flag, means '.'.
      const next = rest[i + 1];
      if (next === undefined || next.startsWith('-')) value = '.';
    }
    if (value === undefined) {
      const next = rest[i + 1];
      if (next === undefined || next.startsWith('-')) return null;
      value = next;
      i++;
    }
    if (flag.kind === 'int') {
      if (!/^\d+$/.test(value) || name in out.flags) return null;
      const n = Number(value);
      if ((flag.min !== undefined && n < flag.min) || (flag.max !== undefined && n > flag.max)) return null;
      out.flags[name] = n;
    } else if (flag.kind === 'multi') {
      const prev = (out.flags[name] as string[] | undefined) ?? [];
      out.flags[name] = [...prev, ...value.split(',')];
    } else {
      if (name in out.flags) return null;
      out.flags[name] = value;
    }
    if (flag.kind === 'optional' && value === '') return null;
  }
  if (out.args.some((a) => a === '')) return null;
  if (spec.optionalArgs) {
    // events: exactly one of RUN and --workspace; the other combinations are oclif's to explain.
    if ((out.args.length === 1) === ('workspace' in out.flags)) return null;
  } else if (out.args.length !== spec.args.length) {
    return null;
  }
  return out;
}

/** Runs the command if it can; true when it did (output written), false to hand over to oclif. */
export async function runFast(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const p = parseFast(argv, env);
  if (!p) return false;
  const loc = discoverDaemon({ env });
  switch (p.command) {
    case 'list':
      return list(p, loc);
    case 'inspect':
      return inspect(p, loc);
    case 'tail':
      return tail(p, loc, env);
    case 'events':
      return events(p, loc, env);
    case 'daemon status':
      return status(p, loc);
  }
}

const write = (text: string) => process.stdout.write(text);
const printJson = (value: unknown) => write(`${JSON.stringify(value, null, 2)}\n`);
const printJsonLine = (value: unknown) => write(`${JSON.stringify(value)}\n`);

/**
 * Follows a subscription (fast-sse.ts); false when the daemon did not accept it (nothing printed
 * yet, so oclif can take over). Ends as the oclif command does: `end` once the server finished the
 * stream; on Ctrl-C `end` too, then exit 130 as the interrupted oclif command would.
 */
async function followStream(
  p: Parsed,
  path: string,
  input: Record<string, unknown>,
  printed: boolean,
  onData: (data: unknown) => void,
  end: () => void,
  env: NodeJS.ProcessEnv,
): Promise<boolean> {
  const { follow } = await import('./fast-sse.js');
  const outcome = await follow({ path, input, locate: () => discoverDaemon({ env }), onData, printed });
  switch (outcome.kind) {
    case 'refused':
      return false;
    case 'done':
      end();
      return true;
    case 'interrupted':
      end();
      process.exit(130);
    case 'error': {
      if (p.json) printJsonLine({ error: outcome.message });
      else {
        const { escapeControls, paletteFor } = await import('./text.js');
        process.stderr.write(`${paletteFor(process.stderr).error('Error:')} ${escapeControls(outcome.message)}\n`);
      }
      process.exitCode = 1;
      return true;
    }
  }
}

async function query<T>(loc: DaemonLocation, path: string, input?: unknown): Promise<{ ok: true; data: T } | { ok: false }> {
  const r = await trpcQuery(loc.url, loc.token, path, input);
  return r.ok ? { ok: true, data: r.data as T } : { ok: false };
}

async function list(p: Parsed, loc: DaemonLocation): Promise<boolean> {
  const [{ RUN_STATUSES }, { DEFAULT_LIST_LIMIT, nextPageHint, renderRunList }] = await Promise.all([
    import('../core/run-status.js'),
    import('./list-view.js'),
  ]);
  const statuses: (typeof RUN_STATUSES)[number][] = [];
  for (const s of (p.flags.status as string[] | undefined) ?? []) {
    const found = RUN_STATUSES.find((v) => v === s.trim().toUpperCase());
    if (!found) return false;
    statuses.push(found);
  }
  const limit = (p.flags.limit as number | undefined) ?? DEFAULT_LIST_LIMIT;
  const cursor = p.flags.cursor as string | undefined;
  const input: Record<string, unknown> = { limit };
  if (p.flags.status !== undefined) input.status = statuses;
  if (p.flags.workspace !== undefined) {
    const { resolve } = await import('node:path');
    input.workspace = resolve(p.flags.workspace as string);
  }
  if (cursor !== undefined) input.cursor = cursor;
  const r = await query<RunView[]>(loc, 'runs.list', input);
  if (!r.ok) return false;
  if (p.json) {
    printJson(r.data);
    return true;
  }
  if (r.data.length === 0) {
    write(cursor === undefined ? 'no runs\n' : 'no more runs\n');
    return true;
  }
  write(`${await renderRunList(r.data)}\n`);
  const hint = nextPageHint(r.data, limit);
  if (hint) process.stderr.write(`${hint}\n`);
  return true;
}

async function inspect(p: Parsed, loc: DaemonLocation): Promise<boolean> {
  const r = await query<RunDetail>(loc, 'runs.get', { run: p.args[0] });
  if (!r.ok) return false;
  if (p.json) printJson(r.data);
  else write((await (await import('./inspect-view.js')).renderDetail(r.data)).map((l) => `${l}\n`).join(''));
  return true;
}

async function tail(p: Parsed, loc: DaemonLocation, env: NodeJS.ProcessEnv): Promise<boolean> {
  const run = p.args[0] as string;
  const r = await query<TailView | null>(loc, 'runs.tail', { run, lines: (p.flags.lines as number | undefined) ?? 200 });
  if (!r.ok) return false;
  const t = r.data;
  if (p.flags.follow === true) return tailFollow(p, run, t, env);
  if (p.json) printJson(t);
  else if (!t || t.text === '') process.stderr.write(`no output yet for run ${run}${t ? ` (iteration ${t.iteration}, ${t.phase})` : ''}\n`);
  else {
    const { TailWriter } = await import('./tail-view.js');
    const view = new TailWriter(p.flags.raw === true, write);
    view.write(t, t.text);
    view.end();
  }
  return true;
}

/** `tail -f`: the last lines, then the run's output from exactly where they ended, as Tail does. */
async function tailFollow(p: Parsed, run: string, t: TailView | null, env: NodeJS.ProcessEnv): Promise<boolean> {
  const { TailWriter } = await import('./tail-view.js');
  const view = new TailWriter(p.flags.raw === true || p.json, write);
  // The last lines first, at once: runs.tail answered, so the daemon and the run are there, and
  // the stream resumes exactly where they end (a stream that fails now is retried, not handed over).
  if (t) {
    if (p.json) printJsonLine({ stepId: t.stepId, iteration: t.iteration, phase: t.phase, offset: t.offset, chunk: t.text });
    else if (t.text.length > 0) view.write(t, t.text);
  }
  return followStream(
    p,
    'runs.output',
    { run, follow: true, lastEventId: t ? `${t.stepId}:${t.offset}` : null },
    t !== null,
    (data) => {
      const c = data as OutputChunk;
      if (p.json) printJsonLine(c);
      else if (c.chunk.length > 0) view.write(c, c.chunk);
    },
    () => {
      if (!p.json) view.end();
    },
    env,
  );
}

async function events(p: Parsed, loc: DaemonLocation, env: NodeJS.ProcessEnv): Promise<boolean> {
  const { eventWindow, parseLast, parseSince } = await import('./event-window.js');
  let window: { last?: number; since?: number };
  try {
    const last = p.flags.last === undefined ? undefined : parseLast(p.flags.last as string);
    const since = p.flags.since === undefined ? undefined : parseSince(p.flags.since as string);
    window = eventWindow({ follow: p.flags.follow === true, last, since });
  } catch {
    return false; // oclif words the bad value
  }
  let procedure = 'runs.eventsList';
  let target: Record<string, unknown> = { run: p.args[0] };
  if (p.flags.workspace !== undefined) {
    const { resolve } = await import('node:path');
    // Absolute here: the daemon resolves paths against its own working directory.
    procedure = 'workspaces.eventsList';
    target = { path: resolve(p.flags.workspace as string) };
  }
  if (p.flags.follow === true) {
    const [{ EventColumns }, { paletteFor }] = await Promise.all([import('./event-format.js'), import('./text.js')]);
    const columns = new EventColumns(p.json ? null : paletteFor(process.stdout));
    const line = p.flags.workspace !== undefined ? (ev: EventView) => columns.workspaceLine(ev) : (ev: EventView) => columns.runLine(ev);
    const path = p.flags.workspace !== undefined ? 'workspaces.events' : 'runs.events';
    const print = (data: unknown) => (p.json ? printJsonLine(data) : write(`${line(data as EventView)}\n`));
    return followStream(p, path, { ...target, follow: true, ...window }, false, print, () => {}, env);
  }
  // Every page is fetched before anything is printed, so a failure can still hand over to oclif.
  const page = 1000;
  const all: EventView[] = [];
  for (let after = 0; ; ) {
    const r = await query<EventView[]>(loc, procedure, { ...target, afterSeq: after, limit: page, ...window });
    if (!r.ok) return false;
    all.push(...r.data);
    const last = r.data.at(-1);
    if (!last || r.data.length < page) break;
    after = last.seq;
  }
  let line = (ev: EventView): string => JSON.stringify(ev);
  if (!p.json) {
    // Columns sized for the whole listing, as the oclif command does.
    const [{ EventColumns }, { paletteFor }] = await Promise.all([import('./event-format.js'), import('./text.js')]);
    const columns = new EventColumns(paletteFor(process.stdout)).fit(all);
    line = p.flags.workspace !== undefined ? (ev) => columns.workspaceLine(ev) : (ev) => columns.runLine(ev);
  }
  write(all.map((ev) => `${line(ev)}\n`).join(''));
  return true;
}

async function status(p: Parsed, loc: DaemonLocation): Promise<boolean> {
  const r = await query<DaemonStatus>(loc, 'daemon.status');
  if (!r.ok) return false;
  if (p.json) printJson({ running: true, url: loc.url, ...r.data });
  else write((await import('./status-view.js')).statusLines(loc.url, r.data).map((l) => `${l}\n`).join(''));
  return true;
}
