// Git queries and repairs behind "history is append-only": what branch a worktree is on, whether
// a head descends from the one loopd recorded, and putting a rewritten branch back. Kept apart
// from git.ts (worktrees and merges); same rule: plumbing through gitExec, no ambient GIT_* vars.
import { gitExec } from './git-exec.js';
import { gitDirsOf, isLooseCommit, readHead, readRef, writeLoopdRef } from './git-files.js';

/** git's answer, or exit code -1 (with the reason as stderr) when git could not run. */
async function run(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return gitExec(dir, args).catch((e: unknown) => ({ code: -1, stdout: '', stderr: e instanceof Error ? e.message : String(e) }));
}

async function must(dir: string, args: string[]): Promise<string> {
  const r = await run(dir, args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${dir}: ${r.stderr.trim().split('\n')[0] || `exit code ${r.code}`}`);
  return r.stdout;
}

/** The branch checked out in dir, or null when HEAD is detached. */
export async function currentBranch(dir: string): Promise<string | null> {
  const dirs = gitDirsOf(dir);
  const facts = dirs ? readHead(dirs) : undefined;
  if (facts) return facts.branch;
  const r = await run(dir, ['symbolic-ref', '-q', '--short', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() : null;
}

/**
 * HEAD, the branch's head and the checked-out branch in one git process (hot path: after every
 * implementation step). branch is null on a detached HEAD; branchHead null if the branch is gone.
 */
export async function headState(dir: string, branch: string): Promise<{ head: string | null; branchHead: string | null; branch: string | null }> {
  const dirs = gitDirsOf(dir);
  const facts = dirs ? readHead(dirs) : undefined;
  const tip = dirs ? readRef(dirs, `refs/heads/${branch}`) : undefined;
  if (dirs && facts?.head && tip && isLooseCommit(dirs, facts.head) === true && isLooseCommit(dirs, tip) === true) {
    return { head: facts.head, branchHead: tip, branch: facts.branch };
  }
  const r = await run(dir, ['rev-parse', 'HEAD', `refs/heads/${branch}`, '--symbolic-full-name', 'HEAD']);
  const [head, branchHead, sym] = r.stdout.trim().split('\n');
  if (r.code === 0 && head && branchHead && sym) {
    return { head, branchHead, branch: sym.startsWith('refs/heads/') ? sym.slice('refs/heads/'.length) : null };
  }
  // The branch (or HEAD) does not resolve: ask one at a time.
  return { head: await resolveRev(dir, 'HEAD'), branchHead: await resolveRev(dir, `refs/heads/${branch}`), branch: await currentBranch(dir) };
}

export async function resolveRev(dir: string, rev: string): Promise<string | null> {
  const known = commitFromFiles(dir, rev);
  if (known !== undefined) return known;
  const r = await run(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** HEAD or a full ref name as a commit, from the git directory's files; undefined when only git can tell. */
function commitFromFiles(dir: string, rev: string): string | undefined {
  if (rev !== 'HEAD' && !rev.startsWith('refs/heads/')) return undefined;
  const dirs = gitDirsOf(dir);
  if (!dirs) return undefined;
  const sha = rev === 'HEAD' ? readHead(dirs)?.head : readRef(dirs, rev);
  return sha && isLooseCommit(dirs, sha) === true ? sha : undefined;
}

/** The first parent of a commit, or null for a root commit. */
export async function parentOf(dir: string, sha: string): Promise<string | null> {
  return resolveRev(dir, `${sha}^1`);
}

export async function descends(dir: string, ancestor: string, head: string): Promise<boolean> {
  if (ancestor === head) return true;
  const r = await run(dir, ['merge-base', '--is-ancestor', ancestor, head]);
  return r.code === 0;
}

/** Paths whose content differs between two commits (both sides of a rename). */
export async function changedPaths(dir: string, from: string, to: string): Promise<string[]> {
  const out = await must(dir, ['diff', '--name-only', '--no-renames', '-z', from, to, '--']);
  return out.split('\0').filter((p) => p !== '');
}

/**
 * A ref under refs/loopd/ keeps commits reachable, so git gc never collects them. Written as a
 * loose ref under git's lock protocol (no process); `git update-ref` when that is not possible.
 */
export async function setRef(dir: string, ref: string, sha: string): Promise<void> {
  if (writeLoopdRef(dir, ref, sha)) return;
  await must(dir, ['update-ref', ref, sha]);
}

/** Puts `branch` back at `sha`, checked out in dir, with the agent's stray files gone. */
export async function restoreBranch(dir: string, branch: string, sha: string): Promise<void> {
  await must(dir, ['checkout', '--quiet', '--force', '-B', branch, sha]);
  // Untracked files from the discarded state; ignored files (build output) stay.
  await must(dir, ['clean', '--quiet', '--force', '-d']);
}

export function runRef(runId: string): string {
  return `refs/loopd/runs/${runId}`;
}

export function discardedRef(runId: string, stepId: number, what: string): string {
  return `refs/loopd/runs/${runId}-discarded/${stepId}-${what}`;
}
