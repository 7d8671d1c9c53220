// The run worktrees git manages: listing, creating (or finding again) and removing them. The
// check each iteration repeats (is the worktree still there, on its branch, and at which HEAD)
// reads the git directory's files and starts no git process when they tell for sure.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { branchExists, canonical, git, gitExec, GitError, isDirectory } from './git-exec.js';
import { gitDirsOf, isLooseCommit, readHead } from './git-files.js';

export interface WorktreeEntry {
  path: string;
  /** Short branch name, or null when detached/bare. */
  branch: string | null;
  prunable: boolean;
  /** `git worktree lock`ed, or left locked by a `git worktree add` that never finished. */
  locked: boolean;
}

/** `git worktree list --porcelain`, parsed; the first entry is the main worktree. */
export async function listWorktrees(repoRoot: string): Promise<WorktreeEntry[]> {
  const first = await gitExec(repoRoot, ['worktree', 'list', '--porcelain']);
  let out = first.stdout;
  if (first.code !== 0) {
    completeInterruptedAdds(repoRoot, first.stderr);
    // Once more: listed now, or git's own error.
    out = await git(repoRoot, ['worktree', 'list', '--porcelain']);
  }
  const entries: WorktreeEntry[] = [];
  for (const block of out.split(/\n\s*\n/)) {
    let path: string | null = null;
    let branch: string | null = null;
    let prunable = false;
    let locked = false;
    for (const line of block.split('\n')) {
      if (line.startsWith('worktree ')) path = line.slice('worktree '.length);
      else if (line.startsWith('branch ')) branch = line.slice('branch '.length).replace(/^refs\/heads\//, '');
      else if (line === 'prunable' || line.startsWith('prunable ')) prunable = true;
      else if (line === 'locked' || line.startsWith('locked ')) locked = true;
    }
    if (path !== null) entries.push({ path, branch, prunable, locked });
  }
  return entries;
}

/**
 * A `git worktree add` killed as it wrote its admin dir's `commondir` (a crashed daemon or host)
 * leaves that file empty, and every `git worktree list` of the repository fails ("failed to read
 * .git/worktrees/<id>/commondir: Success"). Such a dir is still locked "initializing" by git: write the
 * files git would have written next (the placeholder HEAD, then commondir), so git lists it as the
 * locked, unfinished add it is and createWorktree makes it again.
 */
function completeInterruptedAdds(repoRoot: string, stderr: string): void {
  const m = /failed to read (.+)\/commondir/.exec(stderr);
  if (!m) return;
  const admin = resolve(repoRoot, m[1]!);
  // Only an add in progress or killed: git locks the dir first and unlocks it when done; the
  // kill came between creating commondir and writing it (git then reads "" and fails).
  if (!existsSync(join(admin, 'locked')) || (existsSync(join(admin, 'commondir')) && readFileSync(join(admin, 'commondir'), 'utf8').trim() !== '')) return;
  if (!existsSync(join(admin, 'HEAD'))) writeFileSync(join(admin, 'HEAD'), `${'0'.repeat(40)}\n`);
  writeFileSync(join(admin, 'commondir'), '../..\n');
}

/** Forgets worktrees whose directories were deleted by hand, so their branches are free again. */
export async function pruneWorktrees(repoRoot: string): Promise<void> {
  await git(repoRoot, ['worktree', 'prune']);
}

export async function createWorktree(opts: {
  repoRoot: string;
  branch: string;
  path: string;
  base: string;
}): Promise<{ path: string; reused: boolean }> {
  const { repoRoot, branch, base } = opts;
  const path = resolve(opts.path);
  const want = canonical(path);
  let worktrees = await listWorktrees(repoRoot);

  // A worktree whose directory was deleted by hand still blocks its branch until pruned.
  if (worktrees.some((w) => w.prunable && (canonical(w.path) === want || w.branch === branch))) {
    await git(repoRoot, ['worktree', 'prune']);
    worktrees = await listWorktrees(repoRoot);
  }

  let atPath = worktrees.find((w) => canonical(w.path) === want);
  if (atPath && interruptedAdd(atPath)) {
    // A `worktree add` killed half-way (a crashed daemon or host) left this path locked, on a
    // placeholder HEAD or with nothing checked out: made by us for this run, so made again.
    await git(repoRoot, ['worktree', 'remove', '--force', '--force', atPath.path]);
    await git(repoRoot, ['worktree', 'prune']);
    worktrees = await listWorktrees(repoRoot);
    atPath = undefined;
  }
  if (atPath) {
    if (atPath.branch === branch) return { path, reused: true };
    throw new GitError(
      `${path} is already a worktree on ${atPath.branch ?? 'a detached HEAD'}, not ${branch}: remove it (git worktree remove --force ${path}) or choose another worktree path`,
    );
  }
  const onBranch = worktrees.find((w) => w.branch === branch);
  if (onBranch) {
    throw new GitError(
      `branch ${branch} is already checked out at ${onBranch.path}: remove that worktree (git worktree remove --force ${onBranch.path}) or use another run branch`,
    );
  }
  if (existsSync(path) && !(isDirectory(path) && readdirSync(path).length === 0)) {
    throw new GitError(`${path} already exists and is not a worktree of ${repoRoot}: move it away or choose another worktree path`);
  }

  mkdirSync(dirname(path), { recursive: true });
  if (await branchExists(repoRoot, branch)) {
    await git(repoRoot, ['worktree', 'add', path, branch]);
  } else {
    if (!(await branchExists(repoRoot, base))) {
      throw new GitError(`base branch "${base}" does not exist in ${repoRoot}: create it or set base_branch to an existing branch`);
    }
    await git(repoRoot, ['worktree', 'add', '-b', branch, path, base]);
  }
  return { path, reused: false };
}

/**
 * git locks a worktree while `worktree add` sets it up (HEAD a placeholder, then the branch, then
 * the checkout) and unlocks it at the end: locked on the placeholder HEAD, or locked with no index
 * yet, is an add that never finished. A worktree locked by hand is complete and left alone.
 */
function interruptedAdd(w: WorktreeEntry): boolean {
  if (!w.locked) return false;
  const dirs = gitDirsOf(w.path);
  if (dirs === undefined) return false;
  let head = '';
  try {
    head = readFileSync(join(dirs.gitDir, 'HEAD'), 'utf8').trim();
  } catch {
    return false;
  }
  // The placeholder git writes first (the null object id), or a HEAD set but nothing checked out.
  return /^0+$/.test(head) || !existsSync(join(dirs.gitDir, 'index'));
}

export async function removeWorktree(repoRoot: string, path: string, opts?: { deleteBranch?: string }): Promise<void> {
  const want = canonical(path);
  const worktrees = await listWorktrees(repoRoot);
  const entry = worktrees.find((w) => canonical(w.path) === want);
  if (entry && !entry.prunable) {
    // Twice --force: also removes a worktree locked by an interrupted add.
    await git(repoRoot, ['worktree', 'remove', '--force', '--force', entry.path]);
  }
  await git(repoRoot, ['worktree', 'prune']);
  const branch = opts?.deleteBranch;
  if (branch && (await branchExists(repoRoot, branch))) {
    await git(repoRoot, ['branch', '-D', branch]);
  }
}


/**
 * The worktree at `path` when it is a live worktree of repoRoot's repository on `branch`, with its
 * HEAD commit; null when it is anything else (missing, another repository, another branch, an
 * unborn branch), and the caller then takes the full `worktree list` route. Read from the git
 * directory's files (no process) for the check every iteration repeats after the first created
 * the worktree; one `git rev-parse` when the files cannot tell.
 */
export async function reusableWorktree(repoRoot: string, branch: string, path: string): Promise<{ path: string; head: string } | null> {
  const abs = resolve(path);
  // The main repository's own .git directory is the common dir of all its worktrees; a repository
  // whose .git is a file (itself a linked worktree or a submodule) takes the long route.
  const commonDir = join(repoRoot, '.git');
  if (!isDirectory(abs) || !isDirectory(commonDir)) return null;
  const dirs = gitDirsOf(abs);
  // Locked: perhaps a `worktree add` that never finished; createWorktree decides.
  if (dirs && existsSync(join(dirs.gitDir, 'locked'))) return null;
  if (dirs) {
    // `abs/.git` names the git directory, so abs is that worktree's top level, as git would say.
    if (canonical(dirs.commonDir) !== canonical(commonDir)) return null;
    const facts = readHead(dirs);
    if (facts && facts.branch !== branch) return null;
    if (facts?.head && isLooseCommit(dirs, facts.head) === true) return { path: abs, head: facts.head };
  }
  const r = await gitExec(abs, ['rev-parse', '--git-common-dir', '--show-toplevel', 'HEAD', '--symbolic-full-name', 'HEAD']);
  if (r.code !== 0) return null;
  const [common, top, head, ref] = r.stdout.trim().split('\n');
  if (!common || !top || !head || !ref) return null;
  if (canonical(resolve(abs, common)) !== canonical(commonDir)) return null;
  if (canonical(top) !== canonical(abs)) return null;
  if (ref !== `refs/heads/${branch}` || !/^[0-9a-f]{40,64}$/.test(head)) return null;
  return { path: abs, head };
}
