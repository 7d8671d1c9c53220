import { Flags } from '@oclif/core';
import { RUN_STATUSES, type RunStatus } from '../../core/types.js';
import { BaseCommand, UserError } from '../base.js';
import { DEFAULT_LIST_LIMIT, nextPageHint, renderRunList } from '../list-view.js';

export { exitText, shortIdLength } from '../list-view.js';

export default class List extends BaseCommand {
  static override summary = 'List runs, newest first, a page at a time.';
  static override description =
    `At most --limit runs (default ${DEFAULT_LIST_LIMIT}). When the page is full, a line on stderr gives the command for the next ` +
    'page (--cursor with the id of the last run shown); --json prints the page as an array.';
  static override examples = [
    '<%= config.bin %> list',
    '<%= config.bin %> list --status running,pending',
    '<%= config.bin %> list --status failed --workspace ~/src/app --json',
    '<%= config.bin %> list --limit 20 --cursor 019a7c3e-5b1f-7d2a-9c41-2f0e8b6a1d33',
  ];
  static override flags = {
    status: Flags.string({
      description: `Only runs with this status (${RUN_STATUSES.join('|')}); repeat or comma-separate for several.`,
      multiple: true,
      delimiter: ',',
    }),
    workspace: Flags.string({ description: 'Only runs of the workspace (git root) containing this directory.' }),
    limit: Flags.integer({ description: `At most this many runs (default ${DEFAULT_LIST_LIMIT}, at most 10000).`, min: 1, max: 10000 }),
    cursor: Flags.string({ description: 'Start after this run (the id of the last run of the previous page).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    const status = flags.status?.map((s) => parseStatus(s));
    const { resolve } = await import('node:path');
    const workspace = flags.workspace === undefined ? undefined : resolve(flags.workspace);
    const limit = flags.limit ?? DEFAULT_LIST_LIMIT;

    const client = await this.client();
    const runs = await client.runs.list.query({ status, workspace, limit, cursor: flags.cursor });
    if (this.json) {
      this.printJson(runs);
      return;
    }
    if (runs.length === 0) {
      this.log(flags.cursor === undefined ? 'no runs' : 'no more runs');
      return;
    }
    this.log(await renderRunList(runs));
    const hint = nextPageHint(runs, limit);
    if (hint) process.stderr.write(`${hint}\n`);
  }
}

function parseStatus(text: string): RunStatus {
  const s = text.trim().toUpperCase();
  const found = RUN_STATUSES.find((v) => v === s);
  if (!found) throw new UserError(`unknown status "${text}": expected one of ${RUN_STATUSES.join(', ')}`);
  return found;
}
