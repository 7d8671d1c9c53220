// Git operations for runs: the repository's base branch, a worktree's status, commits and diffs.
// Running git lives in git-exec.ts, worktrees in git-worktrees.ts, merges in git-merge.ts, facts
// read straight from the git directory in git-files.ts; this module re-exports what callers use.
import { headCommitFromFiles } from './git-files.js';
import { branchExists, errorLine, git, gitExec, GitError, gitWithIdentity, isDirectory, NO_AUTO_MAINTENANCE } from './git-exec.js';

export { branchExists, git, gitExec, GitError, isAncestor, resolveCommit } from './git-exec.js';
export { clearStaleLocks, createWorktree, listWorktrees, pruneWorktrees, removeWorktree, reusableWorktree, type WorktreeEntry } from './git-worktrees.js';
export { commitSubjects, mergeIntoTarget, type MergeResult, type MergeStatus } from './git-merge.js';

export async function findRepoRoot(dir: string): Promise<string> {
  const notRepo = new GitError(
    `${dir} is not inside a git repository: run git init there first, or pass a path inside a repo`,
  );
  if (!isDirectory(dir)) throw notRepo;
  const r = await gitExec(dir, ['rev-parse', '--show-toplevel']);
  const top = r.stdout.trim();
  if (r.code !== 0 || top === '') throw notRepo;
  return top;
}

/**
 * The local branch names. Asked at every run's creation, so through the spawner like the other
 * hot-path calls: simple-git forked the daemon itself for it (10-40 ms of a big daemon's CPU, its
 * event loop blocked meanwhile). Full ref names, stripped here: `refname:short` prints
 * `heads/x` when a tag is also called x.
 */
export async function listBranches(repoRoot: string): Promise<string[]> {
  const r = await gitExec(repoRoot, ['for-each-ref', '--format=%(refname)', 'refs/heads/']);
  if (r.code !== 0) throw new GitError(`cannot list branches in ${repoRoot}: ${errorLine(r)}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('refs/heads/'))
    .map((l) => l.slice('refs/heads/'.length));
}

async function hasAnyCommit(repoRoot: string): Promise<boolean> {
  // Branches only: `rev-list --all` also walks every worktree's HEAD and fails while another run
  // is still creating its worktree, which read as "no commits".
  const r = await gitExec(repoRoot, ['for-each-ref', '--count=1', '--format=%(objectname)', 'refs/heads/']);
  if (r.code !== 0) throw new GitError(`cannot read the branches of ${repoRoot}: ${errorLine(r)}`);
  return r.stdout.trim() !== '';
}

export async function detectBaseBranch(repoRoot: string, configured?: string): Promise<string> {
  if (!(await hasAnyCommit(repoRoot))) {
    throw new GitError(`${repoRoot} has no commits yet: commit something first`);
  }
  const wanted = configured?.trim() ?? '';
  if (wanted !== '') {
    if (await branchExists(repoRoot, wanted)) return wanted;
    const have = await listBranches(repoRoot);
    throw new GitError(
      `base branch "${wanted}" does not exist in ${repoRoot}: create it (git branch ${wanted}) or set base_branch to one of: ${have.join(', ')}`,
    );
  }
  const head = await gitExec(repoRoot, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  const current = head.stdout.trim();
  // An unborn current branch (fresh orphan) is not a usable base even if other branches exist.
  if (head.code === 0 && current !== '' && (await branchExists(repoRoot, current))) return current;
  for (const fallback of ['main', 'master']) {
    if (await branchExists(repoRoot, fallback)) return fallback;
  }
  throw new GitError(
    `cannot tell the base branch of ${repoRoot} (HEAD is detached and there is no main or master): set base_branch in the config or check out a branch`,
  );
}

/** HEAD's commit: from the git directory's files when they tell for sure, else from git. */
export async function headCommit(dir: string): Promise<string> {
  return headCommitFromFiles(dir) ?? (await git(dir, ['rev-parse', '--verify', 'HEAD^{commit}'])).trim();
}

export async function hasUncommittedChanges(dir: string): Promise<boolean> {
  const out = await git(dir, ['status', '--porcelain', '--untracked-files=all']);
  return out.trim() !== '';
}

/**
 * `opts.changed`: the caller knows the tree differs from HEAD (it rewrote a file of a tree it had
 * just seen clean), so the "anything staged?" check is skipped: one git process fewer.
 */
export async function commitAll(dir: string, message: string, opts: { changed?: boolean } = {}): Promise<string | null> {
  return (await commitEverything(dir, message, opts)) ? headCommit(dir) : null;
}

/**
 * Commits the tracked files `paths`, which the caller rewrote on a tree it had just seen clean:
 * one `git commit --only` instead of add, diff and commit. Falls back to commitAll when git
 * refuses (a path it does not track). Returns the new commit.
 */
export async function commitFiles(dir: string, message: string, paths: string[]): Promise<string | null> {
  const first = await gitExec(dir, ['commit', '--quiet', '--only', '-m', message, '--', ...paths], ['user.useConfigOnly=true', NO_AUTO_MAINTENANCE]);
  if (first.code === 0) return headCommit(dir);
  return commitAll(dir, message);
}

/** commitAll for callers that do not need the new commit's id: one git process fewer. True when it committed. */
export async function commitEverything(dir: string, message: string, opts: { changed?: boolean } = {}): Promise<boolean> {
  await git(dir, ['add', '-A']);
  if (opts.changed !== true) {
    const staged = await gitExec(dir, ['diff', '--cached', '--quiet']);
    if (staged.code === 0) return false;
    if (staged.code !== 1) throw new GitError(`git diff --cached failed in ${dir}: ${errorLine(staged)}`);
  }
  await gitWithIdentity(dir, ['commit', '--quiet', '-m', message]);
  return true;
}

export interface WorktreeStatus {
  /** HEAD's commit; null on an unborn branch. */
  head: string | null;
  /** The checked-out branch (short name); null on a detached HEAD. */
  branch: string | null;
  /** Anything to commit: changed, staged or untracked (not ignored) files. */
  dirty: boolean;
}

/** HEAD, its branch and whether anything is uncommitted, from one `git status`. */
export async function worktreeStatus(dir: string): Promise<WorktreeStatus> {
  const out = await git(dir, ['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=normal']);
  let head: string | null = null;
  let branch: string | null = null;
  let dirty = false;
  for (const entry of out.split('\0')) {
    if (entry.startsWith('# branch.oid ')) head = entry.slice('# branch.oid '.length).trim();
    else if (entry.startsWith('# branch.head ')) branch = entry.slice('# branch.head '.length).trim();
    else if (entry !== '' && !entry.startsWith('# ')) dirty = true;
  }
  // "(initial)" on an unborn branch, "(detached)" without one.
  if (head !== null && !/^[0-9a-f]{40,64}$/.test(head)) head = null;
  if (branch === '(detached)') branch = null;
  return { head, branch, dirty };
}

/**
 * commitAll for the end of an agent call, with HEAD read in the same process as the check: one
 * `git status` when the agent committed its work (the usual case), add and commit only when it
 * left something. `committed` is the new commit or null; `head` is HEAD afterwards. `known`: a
 * status the caller already took (and nothing it did since may be missing from it).
 */
export async function commitLeftovers(dir: string, message: string, known?: WorktreeStatus): Promise<{ committed: string | null; head: string }> {
  const status = known ?? (await worktreeStatus(dir));
  if (status.dirty) {
    const committed = await commitAll(dir, message);
    if (committed) return { committed, head: committed };
  }
  // No commit to name on an unborn branch, which a run's worktree never is; read it to be sure.
  return { committed: null, head: status.head ?? (await headCommit(dir)) };
}

// Untracked files beyond this are summarized, not diffed: a build dir that escaped .gitignore
// would otherwise produce a diff nobody (human or reviewer agent) can read.
const MAX_UNTRACKED_DIFFS = 200;

/**
 * Net diff from fromCommit to the current state of dir: commits, uncommitted edits and new files.
 * `clean`: a `git status` (worktreeStatus) found nothing uncommitted, so there are no untracked
 * files to list and one git process is saved. It may be a status still being taken: the tracked
 * diff runs meanwhile (both only read). `head`: the worktree is known to be exactly this commit
 * (clean, nothing staged), so the diff is taken between the two commits' trees, the same text
 * without git reading the index and every tracked file's stat data.
 */
export async function diffSince(dir: string, fromCommit: string, opts: { clean?: boolean | Promise<boolean>; head?: string } = {}): Promise<string> {
  const listOthers = async (): Promise<string> =>
    opts.head !== undefined || (await opts.clean) === true ? '' : git(dir, ['ls-files', '--others', '--exclude-standard', '-z']);
  const to = opts.head !== undefined ? [opts.head] : [];
  const [tracked, others] = await Promise.all([git(dir, ['diff', '--no-color', '--no-ext-diff', fromCommit, ...to, '--']), listOthers()]);
  const untracked = others.split('\0').filter((f) => f !== '');
  const parts = [tracked];
  for (const file of untracked.slice(0, MAX_UNTRACKED_DIFFS)) {
    // --no-index exits 1 when the files differ, which is always the case against /dev/null.
    const r = await gitExec(dir, ['diff', '--no-color', '--no-ext-diff', '--no-index', '--', '/dev/null', file]);
    if (r.code > 1) throw new GitError(`git diff of untracked ${file} failed in ${dir}: ${errorLine(r)}`);
    parts.push(r.stdout);
  }
  if (untracked.length > MAX_UNTRACKED_DIFFS) {
    parts.push(`# ... and ${untracked.length - MAX_UNTRACKED_DIFFS} more untracked files not shown\n`);
  }
  return parts
    .filter((p) => p !== '')
    .map((p) => (p.endsWith('\n') ? p : `${p}\n`))
    .join('');
}

/**
 * Commits on each side of `from...HEAD` in one process: `ahead` are HEAD's commits that `from`
 * lacks (the agent's commits), `behind` the reverse; behind 0 means `from` is an ancestor of HEAD
 * (what `merge-base --is-ancestor` answers), so one call gives both facts.
 */
export async function aheadBehind(dir: string, from: string, to = 'HEAD'): Promise<{ ahead: number; behind: number }> {
  const out = await git(dir, ['rev-list', '--left-right', '--count', `${from}...${to}`]);
  const [behind, ahead] = out.trim().split(/\s+/).map((n) => Number.parseInt(n, 10));
  if (!Number.isInteger(behind) || !Number.isInteger(ahead)) throw new GitError(`git rev-list --left-right --count ${from}...${to} in ${dir}: unexpected output ${JSON.stringify(out)}`);
  return { ahead: ahead as number, behind: behind as number };
}

/** Commits reachable from HEAD but not from fromCommit; `head` known already saves a process when nothing moved. */
export async function commitsSince(dir: string, fromCommit: string, head?: string): Promise<number> {
  if (head !== undefined && head === fromCommit) return 0;
  const out = await git(dir, ['rev-list', '--count', `${fromCommit}..HEAD`]);
  return Number.parseInt(out.trim(), 10) || 0;
}
