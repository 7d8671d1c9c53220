// Pure rules of the spec-drop trigger: which files are specs, and what a spec's status line says.
// Kept apart from the watcher so they can be reasoned about (and tested) without a file system.
import { basename, dirname } from 'node:path';

/** Names that live in specs/ but are about the folder, not something to build. */
const NOT_SPECS = new Set(['readme.md', 'learnings.md']);

/**
 * True for a file that could be a spec: a `*.md` directly in specsDir, not README/LEARNINGS,
 * not a dotfile and not an editor's temp/lock file. Subfolders (including a plans_dir nested in
 * specs_dir) are excluded by the "directly in" rule; when plans_dir *is* specs_dir, plan files
 * (`*-plan.md`) are excluded by name so a plan never starts a run of its own.
 */
export function isSpecCandidate(absPath: string, specsAbs: string, plansAbs: string): boolean {
  if (dirname(absPath) !== specsAbs) return false;
  const name = basename(absPath);
  if (!/\.md$/i.test(name)) return false;
  // `.#x.md` (emacs lock), `.x.md` (hidden temp of some editors), `~$x.md`, `#x.md#`.
  if (/^[.#~]/.test(name)) return false;
  if (NOT_SPECS.has(name.toLowerCase())) return false;
  if (plansAbs === specsAbs && /-plan\.md$/i.test(name)) return false;
  return true;
}

/**
 * Whether the watcher needs to hear about a file at all (chokidar's `ignored` gets the inverse).
 * Plans count too: their arrival ends a plan wait.
 */
export function isInterestingFile(absPath: string): boolean {
  const name = basename(absPath);
  return /\.md$/i.test(name) && !/^[.#~]/.test(name);
}

export type SpecStatus = 'draft' | 'complete' | 'other';

// `**Status:** Draft`, `**Status**: Draft`, `Status: Draft`, `- **Status:** Draft`, `__Status:__ x`.
// Anchored at a line start so prose mentioning "status: draft" mid-sentence does not count.
const STATUS_LINE = /^[ \t]*(?:[-*+][ \t]+)?(?:\*\*|__)?[ \t]*status[ \t]*(?::[ \t]*(?:\*\*|__)|(?:\*\*|__)[ \t]*:|:)[ \t]*(?:\*\*|__|\*|_)?[ \t]*([A-Za-z][A-Za-z -]*)/im;

/** The spec's declared status; only the first status line counts, as a reader would take it. */
export function specStatus(content: string): SpecStatus {
  const m = STATUS_LINE.exec(content);
  if (!m) return 'other';
  const word = (m[1] ?? '').trim().toLowerCase().split(/[\s*_]/)[0] ?? '';
  if (word === 'draft') return 'draft';
  if (word === 'complete' || word === 'completed') return 'complete';
  return 'other';
}
