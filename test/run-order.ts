// The order vitest hands test files to its workers (vitest.config.ts, sequence.sequencer).
//
// Vitest's own order runs the projects one after another (by name) and sorts by duration only
// inside each, so the longest file of the last project to start may begin when the others are
// nearly done. Here every file of a group is sorted together, longest first by the duration the
// last run recorded (node_modules/.vite/vitest), so the long ones start early and the short ones
// fill the end on both workers. A file with no recorded duration (a new file, a fresh clone) goes
// first, by size, as in vitest's own order.
//
// Files that must never run side by side (`exclusive`: each is heavy enough to starve the other,
// see test/exclusive-files.ts, which enforces it with a lock) are spread apart: the longest keeps its
// place near the front, the others go last among the files that get a fresh worker, so the lock
// normally never has to wait. Files of projects with `isolate: false` (unit) stay last and
// together, so one worker process runs them one after another.
import { relative } from 'node:path';
import type { TestSpecification } from 'vitest/node';

/** What the order needs to know about one test file. */
export interface RankedFile {
  spec: TestSpecification;
  groupOrder: number;
  /** Its project runs with isolate: false (one worker process runs its files one after another). */
  shared: boolean;
  exclusive: boolean;
  /** A duration of it is recorded. */
  known: boolean;
  failed: boolean;
  /** The last recorded duration (ms), or the file size when none is recorded. */
  weight: number;
}

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

/** The order the workers take the files in. */
export function runOrder(files: readonly RankedFile[]): TestSpecification[] {
  const ranked = [...files].sort(
    (a, b) =>
      a.groupOrder - b.groupOrder ||
      Number(a.shared) - Number(b.shared) ||
      // Unknown first, then last run's failures (quick feedback), then the longest.
      Number(a.known) - Number(b.known) ||
      Number(b.failed) - Number(a.failed) ||
      b.weight - a.weight,
  );
  return spreadExclusive(ranked).map((r) => r.spec);
}

/** Moves every exclusive file but the first of its group to the end of the group's isolated files. */
function spreadExclusive(ranked: RankedFile[]): RankedFile[] {
  const out: RankedFile[] = [];
  const held: RankedFile[] = [];
  let seen = false;
  const flush = (): void => {
    out.push(...held.splice(0));
    seen = false;
  };
  for (const [i, r] of ranked.entries()) {
    const prev = ranked[i - 1];
    // A new group, or the shared (isolate: false) files of this group: the held files go before them.
    if (prev && (prev.groupOrder !== r.groupOrder || prev.shared !== r.shared)) flush();
    if (r.exclusive && !r.shared && seen) held.push(r);
    else {
      if (r.exclusive && !r.shared) seen = true;
      out.push(r);
    }
  }
  flush();
  return out;
}
