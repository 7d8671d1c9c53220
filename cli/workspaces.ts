// Output of `watch`, `unwatch` and `workspaces`.
import type { SpecFileView, WorkspaceView } from '../router/index.js';
import { escapeControls } from './text.js';

/** Spec statuses in the order a person cares about them; others follow alphabetically. */
const STATUS_ORDER = ['triggered', 'waiting_plan', 'error', 'skipped', 'recorded', 'draft', 'complete'];

/** "2 triggered, 1 draft", or "-" without specs. */
export function specCounts(specs: Pick<SpecFileView, 'status'>[]): string {
  const counts = new Map<string, number>();
  for (const s of specs) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const rank = (s: string) => {
    const i = STATUS_ORDER.indexOf(s);
    return i < 0 ? STATUS_ORDER.length : i;
  };
  const keys = [...counts.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return keys.length === 0 ? '-' : keys.map((k) => `${counts.get(k)} ${k}`).join(', ');
}

/**
 * The specs directory the watcher looks at: what the daemon says, else specs_dir of the workspace's
 * .loop/config (read here: the workspace is on this machine), else the default "specs".
 */
export async function specsDirOf(ws: WorkspaceView): Promise<string> {
  const { isAbsolute, join } = await import('node:path');
  const given = (ws as WorkspaceView & { specsDir?: unknown }).specsDir;
  let dir = typeof given === 'string' && given !== '' ? given : null;
  if (dir === null) {
    try {
      // The same function the daemon's watcher uses, so both name the same folder.
      const { workspaceConfig } = await import('../core/workspace-config.js');
      dir = workspaceConfig(ws.root).specs_dir;
    } catch {
      dir = 'specs';
    }
  }
  const abs = isAbsolute(dir) ? dir : join(ws.root, dir);
  return abs.endsWith('/') ? abs : `${abs}/`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The line `watch` prints. */
export async function watchedLine(ws: WorkspaceView & { recorded: number; alreadyWatched: boolean }): Promise<string> {
  const dir = escapeControls(await specsDirOf(ws));
  const root = escapeControls(ws.root);
  if (ws.alreadyWatched) return `${root} is already watched: new specs in ${dir} start runs`;
  return `watching ${root}: ${plural(ws.recorded, 'existing spec')} recorded, new specs in ${dir} start runs`;
}
