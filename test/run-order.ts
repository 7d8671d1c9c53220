// The order vitest hands test files to its workers (vitest.config.ts, sequence.sequencer).
//
// Vitest's own order runs the projects one after another (by name) and sorts by duration only
// inside each, so the longest file of the last project to start may begin when the others are
// nearly done. Here the long files of every project go first, longest first by the duration the
// last run recorded (node_modules/.vite/vitest), so they start early and the short ones fill the
// end on every worker. A file with no recorded duration (a new file, a fresh clone) is ranked by
// its size instead, ahead of the recorded ones, as in vitest's own order.
//
// The projects' files share worker processes (`isolate: false`), and vitest keeps a worker for the
// next file only when that file, the next in this order, belongs to the same project; otherwise it
// ends the worker and starts a fresh one (~0.5 s of CPU: the process, vitest's runtime, the
// sources' modules). So the short files (the bulk of them) go in blocks, one per project, each
// longest first, the blocks in the order of their longest file: a worker runs block after block
// rather than switching project at nearly every file.
//
// Files that must never run side by side (`exclusive`: each is heavy enough to starve the other,
// see test/exclusive-files.ts, which enforces it with a lock) are spread apart: the first keeps its
// place, each other one moves to where the files before it should keep the workers busy for as
// long as the previous one runs (with no recorded durations: before the last block), so the lock
// normally never has to wait.
import { relative } from 'node:path';
import type { TestSpecification } from 'vitest/node';

/** What the order needs to know about one test file. */
export interface RankedFile {
  spec: TestSpecification;
  groupOrder: number;
  /** Its project runs with isolate: false (worker processes run its files one after another). */
  shared: boolean;
  exclusive: boolean;
  /** A duration of it is recorded. */
  known: boolean;
  failed: boolean;
  /** The last recorded duration (ms), or the file size when none is recorded. */
  weight: number;
}

/**
 * A file at least this share of the longest file's weight (of those with a recorded duration, or of
 * those without) goes ahead of the project blocks. A fresh worker each costs ~0.5 s of CPU; these
 * are few and run long, so an early start is worth more than the worker they may cost. Replaying
 * the recorded durations of a whole run (108 files, 4 at a time) through this order: 0.25 -> 25
 * fresh workers, 0.4 -> 19, 0.6 -> 19, the last file ending at about the same time.
 */
export const LONG_SHARE = 0.4;

/** How a sequencer ranks one file: `cached` is vitest's record of its last run, if any. */
export function rank(
  spec: TestSpecification,
  root: string,
  exclusive: readonly string[],
  cached: { duration?: number; failed?: boolean } | undefined,
  size: number,
): RankedFile {
  return {
    spec,
    groupOrder: spec.project.config.sequence.groupOrder,
    shared: spec.project.config.isolate === false,
    exclusive: exclusive.includes(relative(root, spec.moduleId)),
    known: cached?.duration !== undefined,
    failed: cached?.failed ?? false,
    weight: cached?.duration ?? size,
  };
}

/** Never run first, then last run's failures (quick feedback), then the longest. */
function byRank(a: RankedFile, b: RankedFile): number {
  return Number(a.known) - Number(b.known) || Number(b.failed) - Number(a.failed) || b.weight - a.weight;
}

/** The order the workers take the files in; `workers` is how many files run at a time. */
export function runOrder(files: readonly RankedFile[], workers: number): TestSpecification[] {
  const groups = [...new Set(files.map((f) => f.groupOrder))].sort((a, b) => a - b);
  return groups.flatMap((g) => orderGroup(files.filter((f) => f.groupOrder === g), workers)).map((r) => r.spec);
}

/**
 * One sequence group: the long files longest first, then the rest in one block per project; then
 * the exclusive files but the first spread apart.
 */
function orderGroup(files: RankedFile[], workers: number): RankedFile[] {
  const ranked = [...files].sort(byRank);
  const first = ranked.find((f) => f.exclusive);
  const held = ranked.filter((f) => f.exclusive && f !== first);
  const rest = ranked.filter((f) => !held.includes(f));
  const longest = (known: boolean) => Math.max(0, ...rest.filter((f) => f.known === known).map((f) => f.weight));
  const maxKnown = longest(true);
  const maxUnknown = longest(false);
  // A file of an isolated project gets a fresh worker whatever comes next: nothing to group.
  const ahead = (f: RankedFile) => !f.shared || f.failed || f.weight >= LONG_SHARE * (f.known ? maxKnown : maxUnknown);
  const blocks = new Map<string, RankedFile[]>();
  for (const f of rest.filter((r) => !ahead(r))) {
    const name = f.spec.project.name;
    blocks.set(name, [...(blocks.get(name) ?? []), f]);
  }
  // Map order is insertion order: the blocks come in the order of their longest file, so the last
  // one holds the shortest files.
  const tail = [...blocks.values()];
  const order = [...rest.filter(ahead), ...tail.flat()];
  return spreadExclusive(order, held, workers, order.length - (tail.at(-1)?.length ?? 0));
}

/**
 * Puts each of the `held` exclusive files at the first place in `order` where the files before it,
 * `workers` at a time, should last until the previous exclusive file ended (by the recorded
 * durations), or at the end. Where that cannot be told (a duration not recorded, as on a fresh
 * clone, where the weights are file sizes) it goes before the last project block (`lastBlock`:
 * its index), whose short files then keep the other workers busy while it runs.
 */
function spreadExclusive(order: RankedFile[], held: RankedFile[], workers: number, lastBlock: number): RankedFile[] {
  const out = [...order];
  let prev = out.find((r) => r.exclusive);
  let fallback = lastBlock;
  for (const r of held) {
    let at: number;
    if (!prev || !r.known || out.some((x) => !x.known)) {
      at = fallback++;
    } else {
      const startOf = (index: number) => out.slice(0, index).reduce((t, x) => t + x.weight, 0) / Math.max(1, workers);
      const free = startOf(out.indexOf(prev)) + prev.weight;
      at = out.findIndex((_, i) => startOf(i) >= free);
      if (at === -1) at = out.length;
    }
    out.splice(at, 0, r);
    prev = r;
  }
  return out;
}
