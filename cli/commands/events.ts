import { Args, Flags } from '@oclif/core';
import type { EventView } from '../../router/index.js';
import { BaseCommand, UserError } from '../base.js';
import { EventColumns } from '../event-format.js';
import { eventWindow, FOLLOW_DEFAULT_LAST, parseLast, parseSince } from '../event-window.js';

export default class Events extends BaseCommand {
  static override summary = "Print a run's or a workspace's events, one per line; -f follows new ones.";
  static override description =
    'Each line: sequence number, local time (YYYY-MM-DD HH:MM:SS), type, and a summary of the payload. With --workspace ' +
    '[DIR] (default: the current directory): every event of the git repository containing DIR, i.e. the events of all ' +
    "its runs and the spec watcher's decisions (TRIGGER_FIRED, TRIGGER_SKIPPED, TRIGGER_WAITING), with the run's " +
    'shortest unique id prefix after the time. Without -f: the whole history, or the part --last/--since select. ' +
    `-f starts with the last ${FOLLOW_DEFAULT_LAST} events (or what --last/--since select; --last all for everything) ` +
    'and follows a run until it ends, a workspace until interrupted. --all -f follows every event of every run and ' +
    "workspace from now on (the dashboard's live feed). --json prints one JSON event per line.";
  static override examples = [
    '<%= config.bin %> events user-auth',
    '<%= config.bin %> events 01934f2a -f',
    '<%= config.bin %> events user-auth -n 5',
    '<%= config.bin %> events --workspace --since 1h',
    '<%= config.bin %> events --workspace ~/src/app -f --since 09:00',
    '<%= config.bin %> events --all -f',
  ];
  static override args = {
    run: Args.string({ description: 'Run id, unique id prefix, or name (or use --workspace).' }),
  };
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Keep printing new events (until the run ends, for a run).', default: false }),
    last: Flags.string({
      char: 'n',
      description: `Only the last N events (before following, with -f; default ${FOLLOW_DEFAULT_LAST} with -f), or "all".`,
      helpValue: 'N|all',
    }),
    since: Flags.string({
      description: 'Only events since a time: a duration back from now (10m, 1h30m, 2d) or a time (14:05, 2026-11-30 14:05, ISO 8601).',
      helpValue: 'WHEN',
    }),
    workspace: Flags.string({
      description: 'Events of the workspace (git root) containing DIR instead of one run; DIR defaults to the current directory.',
      helpValue: '[DIR]',
    }),
    all: Flags.boolean({ description: 'With -f: every new event of every run and workspace.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Events, withOptionalValue(this.argv, '--workspace', '.'));
    if (flags.workspace !== undefined && args.run !== undefined) {
      throw new UserError(`give either a run (got "${args.run}") or --workspace [DIR], not both (see --help)`, 2);
    }
    if (flags.all) {
      if (!flags.follow || flags.workspace !== undefined || args.run !== undefined) {
        throw new UserError('--all goes with -f alone: it follows every new event (see --help)', 2);
      }
      const client = await this.client();
      const { paletteFor } = await import('../text.js');
      const columns = new EventColumns(this.json ? null : paletteFor(process.stdout));
      await this.follow<Tracked>(
        (h) => client.runs.feed.subscribe({}, h),
        ({ data }) => (this.json ? this.printJsonLine(data) : this.log(columns.workspaceLine(data))),
      );
      return;
    }
    if (flags.workspace === undefined && args.run === undefined) {
      throw new UserError("missing argument RUN: give a run id, id prefix or name, or --workspace [DIR] for a workspace's events (see --help)", 2);
    }
    const window = eventWindow({
      follow: flags.follow,
      last: flags.last === undefined ? undefined : parseLast(flags.last),
      since: flags.since === undefined ? undefined : parseSince(flags.since),
    });

    const client = await this.client();
    const { paletteFor } = await import('../text.js');
    const columns = new EventColumns(this.json ? null : paletteFor(process.stdout));
    const print = (line: (ev: EventView) => string) => (ev: EventView) => {
      if (this.json) this.printJsonLine(ev);
      else this.log(line(ev));
    };

    if (flags.workspace !== undefined) {
      const { resolve } = await import('node:path');
      // Absolute here: the daemon resolves paths against its own working directory.
      const path = resolve(flags.workspace === '' ? '.' : flags.workspace);
      const out = print((ev) => columns.workspaceLine(ev));
      if (flags.follow) {
        await this.follow<Tracked>((h) => client.workspaces.events.subscribe({ path, follow: true, ...window }, h), ({ data }) => out(data));
      } else {
        await pages((afterSeq, limit) => client.workspaces.eventsList.query({ path, afterSeq, limit, ...window }), columns, out);
      }
      return;
    }

    const run = args.run as string;
    const out = print((ev) => columns.runLine(ev));
    if (flags.follow) {
      await this.follow<Tracked>((h) => client.runs.events.subscribe({ run, follow: true, ...window }, h), ({ data }) => out(data));
    } else {
      await pages((afterSeq, limit) => client.runs.eventsList.query({ run, afterSeq, limit, ...window }), columns, out);
    }
  }
}

type Tracked = { id: string; data: EventView };

/** Every stored event (of the window), a page at a time, each page aligned before it is printed. */
async function pages(
  list: (afterSeq: number, limit: number) => Promise<EventView[]>,
  columns: EventColumns,
  print: (ev: EventView) => void,
): Promise<void> {
  const page = 1000;
  let after = 0;
  for (;;) {
    const batch = await list(after, page);
    columns.fit(batch);
    for (const ev of batch) print(ev);
    const last = batch.at(-1);
    if (!last || batch.length < page) break;
    after = last.seq;
  }
}

/**
 * oclif has no flags with an optional value; this gives `flag` the value `value` when it is last or
 * followed by another flag (`events --workspace -f`), so `--workspace` alone means the current
 * directory. `--workspace DIR` and `--workspace=DIR` are left as they are.
 */
export function withOptionalValue(argv: string[], flag: string, value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    out.push(a);
    if (a === flag) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) out.push(value);
    }
  }
  return out;
}
