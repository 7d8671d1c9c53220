// Merging a run branch into its target with plumbing only (merge-tree, commit-tree, a
// compare-and-swap update-ref): no working tree, index or HEAD changes, so the user's checkout is
// never touched. A Loopd-Run trailer makes a second merge of the same run a no-op.
import { errorLine, git, gitExec, GitError, gitWithIdentity, isAncestor, resolveCommit } from './git-exec.js';
import { listWorktrees } from './git-worktrees.js';

const TRAILER = 'Loopd-Run';

async function targetHoldsRun(repoRoot: string, targetCommit: string, runId: string): Promise<boolean> {
  const line = `${TRAILER}: ${runId}`;
  // --grep narrows the walk cheaply; the exact-line check rejects a run id quoted in prose.
  const out = await git(repoRoot, ['log', '--fixed-strings', `--grep=${line}`, '--format=%B%x00', targetCommit]);
  return out.split('\0').some((msg) => msg.split('\n').some((l) => l.trim() === line));
}

async function checkedOutAt(repoRoot: string, branch: string): Promise<string | null> {
  const w = (await listWorktrees(repoRoot)).find((e) => e.branch === branch);
  return w ? w.path : null;
}

export type MergeStatus = 'merged' | 'already_merged' | 'conflict' | 'nothing_to_merge';

export interface MergeResult {
  status: MergeStatus;
  commit?: string;
  conflicts?: string[];
  createdTarget: boolean;
}

export interface MergeOptions {
  repoRoot: string;
  runBranch: string;
  target: string;
  base: string;
  strategy: 'merge' | 'squash';
  runId: string;
  message: string;
}

async function refuseIfCheckedOut(o: MergeOptions): Promise<void> {
  const at = await checkedOutAt(o.repoRoot, o.target);
  if (at !== null) {
    throw new GitError(
      `merge target "${o.target}" is checked out at ${at}; loopd never changes a checkout: pick another merge_target_branch or check out a different branch there`,
    );
  }
}

/** What to merge onto: the target's tip (created from base if missing), or the answer already. */
type Tips = { done: MergeStatus } | { retry: true } | { targetCommit: string; created: boolean };

async function mergeTips(o: MergeOptions, runCommit: string): Promise<Tips> {
  const { repoRoot, target, base } = o;
  const targetCommit = await resolveCommit(repoRoot, `refs/heads/${target}`);
  if (targetCommit !== null && (await targetHoldsRun(repoRoot, targetCommit, o.runId))) return { done: 'already_merged' };
  const baseCommit = await resolveCommit(repoRoot, `refs/heads/${base}`);
  if (targetCommit !== null) {
    // A run without commits of its own is "nothing", not "already merged", though base is in target.
    if (baseCommit !== null && (await isAncestor(repoRoot, runCommit, baseCommit))) return { done: 'nothing_to_merge' };
    if (o.strategy === 'merge' && (await isAncestor(repoRoot, runCommit, targetCommit))) return { done: 'already_merged' };
    return { targetCommit, created: false };
  }
  if (baseCommit === null) {
    throw new GitError(`cannot create merge target "${target}": base branch "${base}" does not exist in ${repoRoot}; set base_branch to an existing branch`);
  }
  // Creating the target for a run that changed nothing would only leave clutter behind.
  if (await isAncestor(repoRoot, runCommit, baseCommit)) return { done: 'nothing_to_merge' };
  await refuseIfCheckedOut(o); // an unborn branch can be "checked out" in a fresh repo
  const created = await gitExec(repoRoot, ['update-ref', '-m', `loopd: create ${target} from ${base}`, `refs/heads/${target}`, baseCommit, '']);
  // Someone else created it meanwhile: start over from its tip.
  return created.code === 0 ? { targetCommit: baseCommit, created: true } : { retry: true };
}

/**
 * The merge commit on top of targetCommit and the compare-and-swap that moves the target to it.
 * null: the target moved meanwhile (the caller starts over); otherwise the outcome.
 */
async function writeMerge(o: MergeOptions, targetCommit: string, runCommit: string): Promise<{ status: MergeStatus; commit?: string; conflicts?: string[] } | null> {
  const { repoRoot, strategy, runId } = o;
  const mt = await gitExec(repoRoot, ['merge-tree', '--write-tree', '--name-only', '--no-messages', targetCommit, runCommit]);
  if (mt.code !== 0 && mt.code !== 1) {
    throw new GitError(`git merge-tree failed in ${repoRoot}: ${errorLine(mt)} (needs git >= 2.38)`);
  }
  const lines = mt.stdout.split('\n');
  const tree = (lines[0] ?? '').trim();
  if (mt.code === 1) {
    const conflicts: string[] = [];
    for (const l of lines.slice(1)) {
      if (l === '') break; // the file list ends at the first blank line
      if (!conflicts.includes(l)) conflicts.push(l);
    }
    return { status: 'conflict', conflicts };
  }
  const targetTree = (await git(repoRoot, ['rev-parse', `${targetCommit}^{tree}`])).trim();
  if (tree === targetTree) return { status: 'nothing_to_merge' };
  const parents = strategy === 'merge' ? ['-p', targetCommit, '-p', runCommit] : ['-p', targetCommit];
  const trailerLine = `${TRAILER}: ${runId}`;
  const body = o.message.split('\n').some((l) => l.trim() === trailerLine) ? o.message : `${o.message.replace(/\s+$/, '')}\n\n${trailerLine}\n`;
  const commit = (await gitWithIdentity(repoRoot, ['commit-tree', tree, ...parents, '-m', body])).trim();
  const reason = `loopd: ${strategy} ${o.runBranch} (run ${runId})`;
  const moved = await gitExec(repoRoot, ['update-ref', '-m', reason, `refs/heads/${o.target}`, commit, targetCommit]);
  return moved.code === 0 ? { status: 'merged', commit } : null;
}

/**
 * Merges runBranch into target using only plumbing, so no working tree, index or HEAD changes:
 * the tree comes from merge-tree, the commit from commit-tree, and the branch moves with a
 * compare-and-swap update-ref.
 */
export async function mergeIntoTarget(opts: MergeOptions): Promise<MergeResult> {
  const { repoRoot, runBranch, target } = opts;
  let createdTarget = false;
  // A concurrent writer (another tool, or the user via `git branch -f`) can move the target
  // between our read and update-ref; the CAS fails and we recompute from the new tip.
  for (let attempt = 0; attempt < 5; attempt++) {
    const runCommit = await resolveCommit(repoRoot, `refs/heads/${runBranch}`);
    if (runCommit === null) {
      throw new GitError(`run branch "${runBranch}" does not exist in ${repoRoot}: the run's worktree branch was deleted; nothing to merge`);
    }
    const tips = await mergeTips(opts, runCommit);
    if ('done' in tips) return { status: tips.done, createdTarget };
    if ('retry' in tips) continue;
    createdTarget ||= tips.created;
    await refuseIfCheckedOut(opts);
    const res = await writeMerge(opts, tips.targetCommit, runCommit);
    if (res) return { ...res, createdTarget };
  }
  throw new GitError(`merge target "${target}" kept moving while loopd merged ${runBranch} into it: retry the merge once other writers are done`);
}

/** Subjects of the commits on `branch` that are not on `base`, oldest first (for squash messages). */
export async function commitSubjects(repoRoot: string, base: string, branch: string, max = 50): Promise<string[]> {
  const out = await git(repoRoot, ['log', '--reverse', '--format=%s', `${base}..${branch}`]);
  const all = out.split('\n').filter((l) => l.trim() !== '');
  return all.length > max ? [...all.slice(0, max), `... and ${all.length - max} more`] : all;
}
