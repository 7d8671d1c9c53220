// The `loopctl list` table, shared by the oclif command and the fast path.
import type { RunView } from '../router/index.js';
import { formatAge, renderTable } from './format.js';
import { escapeControls, paletteFor } from './text.js';

export const LIST_HEAD = ['ID', 'NAME', 'STATUS', 'PHASE', 'ITER', 'TASKS', 'AGE', 'EXIT REASON'];

export async function renderRunList(runs: RunView[], now = Date.now()): Promise<string> {
  // The daemon's prefix is unique among all runs, not only this page (--status, --limit).
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
  return renderTable(LIST_HEAD, rows);
}

/** The exit reason, with the agent's own words for a failed run, cut to fit a table cell. */
export function exitText(reason: string | null, error: string | null, max = 70): string {
  const r = reason ?? '';
  if (!error) return r;
  const flat = error.replace(/\s+/g, ' ').trim();
  const text = r ? `${r}: ${flat}` : flat;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The hint printed under a full page: how to ask for the next one. */
export function nextPageHint(runs: RunView[], limit: number): string | null {
  const last = runs.at(-1);
  if (!last || runs.length < limit) return null;
  return `more runs may follow: loopctl list --cursor ${last.id}${limit === DEFAULT_LIST_LIMIT ? '' : ` --limit ${limit}`}`;
}

/** A page of runs unless --limit says otherwise: 10,000 runs in the store must not cost a user anything. */
export const DEFAULT_LIST_LIMIT = 50;

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
