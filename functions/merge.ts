// Merge the proven run branch into its target branch. Plumbing only: the user's checkout, its
// branch and its uncommitted work are never touched. Running it twice is harmless: the second call
// finds the run already merged.
import type { EmitEvent } from '../core/events.js';
import { existsSync } from 'node:fs';
import { commitAll, commitSubjects, mergeIntoTarget, type MergeResult } from '../core/git.js';
import type { Handler, RunInput } from './types.js';

/**
 * The merge itself, shared by the merge phase and by a reviewer's `runs.merge`: commits what a
 * crashed step left in the worktree, then merges the run branch into `target` with plumbing only.
 */
export async function mergeRunBranch(
  run: RunInput,
  opts: { target: string; strategy: 'merge' | 'squash' },
  event: EmitEvent,
): Promise<MergeResult> {
  // The merge only sees commits; anything a crashed step left uncommitted in the worktree is
  // part of the proven work.
  if (existsSync(run.worktreePath)) {
    const leftover = await commitAll(run.worktreePath, 'loopd: uncommitted changes before merge');
    if (leftover) event('LEFTOVER_COMMITTED', { phase: 'merge', commit: leftover });
  }
  const subjects = await commitSubjects(run.workspaceRoot, run.baseBranch, run.runBranch);
  const message = `loopd: ${run.name}\n\nSpec: ${run.specPath}\nRun branch: ${run.runBranch}\n${subjects.length ? `\n${subjects.map((s) => `- ${s}`).join('\n')}\n` : ''}`;
  const res = await mergeIntoTarget({
    repoRoot: run.workspaceRoot,
    runBranch: run.runBranch,
    target: opts.target,
    base: run.baseBranch,
    strategy: opts.strategy,
    runId: run.id,
    message,
  });
  if (res.createdTarget) event('MERGE_TARGET_CREATED', { target: opts.target, from: run.baseBranch });
  return res;
}

export const merge: Handler<'merge'> = async ({ run, sink }) => {
  if (run.mergeStrategy === 'none' || !run.mergeTargetBranch) {
    return { status: 'SUCCEEDED', result: { mergeStatus: 'nothing_to_merge' } };
  }
  try {
    const res = await mergeRunBranch(run, { target: run.mergeTargetBranch, strategy: run.mergeStrategy }, (type, payload) => sink.event(type, payload));
    if (res.status === 'conflict') {
      const files = res.conflicts ?? [];
      const error = `merge conflict merging ${run.runBranch} into ${run.mergeTargetBranch}${files.length ? ` (${files.join(', ')})` : ''}; the run branch is kept for you to resolve`;
      sink.event('MERGE_CONFLICT', { target: run.mergeTargetBranch, runBranch: run.runBranch, conflicts: files });
      return { status: 'FAILED', error, result: { mergeStatus: 'conflict', conflicts: files } };
    }
    sink.event('MERGED', { target: run.mergeTargetBranch, strategy: run.mergeStrategy, status: res.status, commit: res.commit ?? null });
    return { status: 'SUCCEEDED', result: { mergeStatus: res.status, commit: res.commit ?? null } };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return { status: 'FAILED', error, result: { mergeStatus: 'error', reason: error } };
  }
};
