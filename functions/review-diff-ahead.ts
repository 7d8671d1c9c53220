// The reviewer's diff taken ahead: when a review is to follow an implementation directly (reviewer
// on, no verification commands), the implementation starts the diff the review's prompt needs as
// soon as its agent's processes are gone, beside its own `git status`, so it costs the review no
// git process. It is a diff between two commits, so it is right whatever happens later; the review
// uses it only for the same two commits (its base and the head the implementation recorded clean)
// and only with the same content hash, and takes its own otherwise.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { iterName } from '../core/artifact-names.js';
import { writeFileAtomic } from '../core/artifacts.js';
import { diffSince } from '../core/git.js';
import { headCommitFromFiles } from '../core/git-files.js';
import type { RunInput } from './types.js';

/** What the implementation records about the diff it took ahead (its result's `diffAhead`). */
export interface DiffAhead {
  from: string;
  to: string;
  sha256: string;
}

/** Hidden beside the run's files; the review reads it by the name its iteration gives. */
export function diffAheadPath(runDir: string, iteration: number): string {
  return join(runDir, `.review-${iterName(iteration)}.diff-ahead`);
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export interface StartedDiff {
  from: string;
  to: string;
  text: Promise<string | null>;
}

/**
 * Starts the diff a review right after this implementation would take: from `base` (reviewBase of
 * the history before this step: the last approved review's head, else the run's first start; this
 * step's commitBefore when it is the first) to HEAD as the agent left it. null when no such review
 * can follow or HEAD cannot be read from the files.
 */
export function startDiffAhead(run: RunInput, base: string | null, commitBefore: string): StartedDiff | null {
  if (!run.config.reviewer || run.config.verify_cmds.length > 0 || commitBefore === '') return null;
  const to = headCommitFromFiles(run.worktreePath);
  const from = base ?? commitBefore;
  if (to === undefined || to === from) return null;
  const text = diffSince(run.worktreePath, from, { clean: true, head: to }).catch(() => null);
  return { from, to, text };
}

/** Keeps the diff for the review when the implementation ended clean at the commit it was taken for. */
export async function keepDiffAhead(started: StartedDiff | null, cleanAt: string | null, file: string): Promise<DiffAhead | null> {
  if (started === null) return null;
  // Settled either way, so no git process outlives the step.
  const text = await started.text;
  if (text === null || cleanAt !== started.to) return null;
  writeFileAtomic(file, text);
  return { from: started.from, to: started.to, sha256: sha256(text) };
}

/** The diff taken ahead for exactly these commits, when its file still holds what was recorded. */
export function takeDiffAhead(recorded: unknown, from: string, to: string, file: string): string | null {
  const r = recorded as Partial<DiffAhead> | null | undefined;
  if (!r || r.from !== from || r.to !== to || typeof r.sha256 !== 'string') return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return sha256(text) === r.sha256 ? text : null;
}
