import { Flags } from '@oclif/core';
import { RUN_STATUSES, type RunStatus } from '../../core/types.js';
import { BaseCommand, formatAge, renderTable, UserError } from '../base.js';
import { escapeControls, paletteFor } from '../text.js';

export default class List extends BaseCommand {
  static override summary = 'List runs, newest first.';
  static override examples = [
    '<%= config.bin %> list',
    '<%= config.bin %> list --status running,pending',
    '<%= config.bin %> list --status failed --workspace ~/src/app --json',
  ];
  static override flags = {
    status: Flags.string({
      description: `Only runs with this status (${RUN_STATUSES.join('|')}); repeat or comma-separate for several.`,
      multiple: true,
      delimiter: ',',
    }),
    workspace: Flags.string({ description: 'Only runs of the workspace (git root) containing this directory.' }),
    limit: Flags.integer({ description: 'At most this many runs.', min: 1 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    const status = flags.status?.map((s) => parseStatus(s));
    const { resolve } = await import('node:path');
    const workspace = flags.workspace === undefined ? undefined : resolve(flags.workspace);

    const client = await this.client();
    const runs = await client.runs.list.query({ status, workspace, limit: flags.limit });
    if (this.json) {
      this.printJson(runs);
      return;
    }
    if (runs.length === 0) {
      this.log('no runs');
      return;
    }
    const now = Date.now();
    // The daemon's prefix is unique among all runs, not only the listed ones (--status, --limit).
    const idLen = shortIdLength(runs.map((r) => r.id));
    const colors = paletteFor(process.stdout);
    const rows = runs.map((r) => [
      r.shortId ?? r.id.slice(0, idLen),
      escapeControls(r.name),
      colors.status(r.status),
      r.phase ?? '-',
      r.iteration,
      r.tasksTotal === null ? '-' : `${r.tasksDone ?? 0}/${r.tasksTotal}`,
      formatAge(now - r.createdAt),
      escapeControls(exitText(r.exitReason, r.status === 'FAILED' ? r.lastError : null)),
    ]);
    this.log(await renderTable(['ID', 'NAME', 'STATUS', 'PHASE', 'ITER', 'TASKS', 'AGE', 'EXIT REASON'], rows));
  }
}

/** The exit reason, with the agent's own words for a failed run, cut to fit a table cell. */
export function exitText(reason: string | null, error: string | null, max = 70): string {
  const r = reason ?? '';
  if (!error) return r;
  const flat = error.replace(/\s+/g, ' ').trim();
  const text = r ? `${r}: ${flat}` : flat;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * 8 characters, or more when that would be ambiguous: UUIDv7 ids begin with the creation time, so
 * runs made within the same minute or so share their first 8 characters.
 */
export function shortIdLength(ids: string[], min = 8): number {
  const longest = Math.max(min, ...ids.map((id) => id.length));
  for (let len = min; len < longest; len++) {
    const seen = new Set(ids.map((id) => id.slice(0, len)));
    if (seen.size === new Set(ids).size) return len;
  }
  return longest;
}

function parseStatus(text: string): RunStatus {
  const s = text.trim().toUpperCase();
  const found = RUN_STATUSES.find((v) => v === s);
  if (!found) throw new UserError(`unknown status "${text}": expected one of ${RUN_STATUSES.join(', ')}`);
  return found;
}
