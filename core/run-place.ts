// Failures that are not the agent's: the workspace or the run's worktree is gone, or the worktree
// is no longer on the run's branch. Each gets its own exit reason, so a user is not told the agent
// failed when someone deleted a directory.
import { existsSync } from 'node:fs';
import { currentBranch } from './history.js';

export type PlaceProblem = { reason: 'workspace_missing' | 'worktree_missing' | 'branch_switched'; message: string };

/**
 * `opts.branch`: the worktree's branch when the caller already read it (worktreeStatus, with the
 * leftover check), so it is not asked again; null means a detached HEAD. `checkBranch: false`
 * skips the branch check.
 */
export async function checkRunPlace(
  run: { workspaceRoot: string; worktreePath: string; runBranch: string },
  opts: { worktree: boolean; branch?: string | null; checkBranch?: boolean },
): Promise<PlaceProblem | null> {
  if (!existsSync(run.workspaceRoot)) {
    return { reason: 'workspace_missing', message: `the workspace ${run.workspaceRoot} no longer exists (deleted or moved): the run cannot go on` };
  }
  if (!opts.worktree) return null;
  if (!existsSync(run.worktreePath)) {
    return {
      reason: 'worktree_missing',
      message: `the run's worktree ${run.worktreePath} no longer exists (deleted or moved); its work is kept on branch ${run.runBranch}`,
    };
  }
  // After an implementation agent a switched branch is repaired, not fatal (docs/truth.md).
  if (opts.checkBranch === false) return null;
  // Read from the worktree's HEAD file when it tells; `git symbolic-ref` otherwise.
  const branch = opts.branch !== undefined ? opts.branch : await currentBranch(run.worktreePath);
  if (branch !== run.runBranch) {
    return {
      reason: 'branch_switched',
      message: `the worktree ${run.worktreePath} is on ${branch === null ? 'a detached HEAD' : `branch ${branch}`}, not the run's branch ${run.runBranch}: something (the agent?) switched it; switch it back and start a new run`,
    };
  }
  return null;
}

/** After a step threw: was it because its place vanished? */
export function placeGone(run: { workspaceRoot: string; worktreePath: string; runBranch: string }): PlaceProblem | null {
  if (!existsSync(run.workspaceRoot)) return { reason: 'workspace_missing', message: `the workspace ${run.workspaceRoot} no longer exists (deleted or moved)` };
  if (!existsSync(run.worktreePath)) {
    return { reason: 'worktree_missing', message: `the run's worktree ${run.worktreePath} no longer exists; its work is kept on branch ${run.runBranch}` };
  }
  return null;
}
