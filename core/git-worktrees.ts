// The run worktrees git manages: listing, creating (or finding again) and removing them. The
// check each iteration repeats (is the worktree still there, on its branch, and at which HEAD)
// reads the git directory's files and starts no git process when they tell for sure.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { branchExists, canonical, git, gitExec, GitError, isDirectory } from './git-exec.js';
import { gitDirsOf, isLooseCommit, readHead, readText } from './git-files.js';

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
}): Promise<{ path: string; reused: boolean; repaired: string[] }> {
  const { repoRoot, branch, base } = opts;
  const path = resolve(opts.path);
  const want = canonical(path);
  // An add a crashed daemon or host left half-done at this path is put right first, from the
  // files: git itself refuses some of these states (docs/architecture.md).
  const undone = undoInterruptedAdd(repoRoot, path);
  let worktrees = await listWorktrees(repoRoot);

  // A worktree whose directory was deleted by hand still blocks its branch until pruned.
  if (worktrees.some((w) => w.prunable && (canonical(w.path) === want || w.branch === branch))) {
    await git(repoRoot, ['worktree', 'prune']);
    worktrees = await listWorktrees(repoRoot);
  }

  const atPath = worktrees.find((w) => canonical(w.path) === want);
  if (atPath) {
    if (atPath.branch === branch) return { path, reused: true, repaired: [...undone, ...clearStaleLocks(repoRoot, branch, path)] };
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

  // Only now that the branch is checked out nowhere: a lock left on its ref fails `worktree add -b`.
  const repaired = [...undone, ...clearStaleLocks(repoRoot, branch, path)];
  mkdirSync(dirname(path), { recursive: true });
  // A run branch that exists already was made by this run (placement picks a branch no one has):
  // an earlier attempt killed after `worktree add -b` created it. Checked out as it is, never reset.
  if (await branchExists(repoRoot, branch)) {
    await git(repoRoot, ['worktree', 'add', path, branch]);
  } else {
    if (!(await branchExists(repoRoot, base))) {
      throw new GitError(`base branch "${base}" does not exist in ${repoRoot}: create it or set base_branch to an existing branch`);
    }
    await git(repoRoot, ['worktree', 'add', '-b', branch, path, base]);
  }
  return { path, reused: false, repaired };
}

/** The repository's own git directory when it is a plain `.git` directory (what the file-level repairs need), else null. */
function commonDirOf(repoRoot: string): string | null {
  const dir = join(repoRoot, '.git');
  return isDirectory(dir) && !isDirectory(join(dir, 'reftable')) ? dir : null;
}

/** The admin dir (`.git/worktrees/<id>`) whose `gitdir` file names `<path>/.git`, or null. */
function adminDirOf(commonDir: string, path: string): string | null {
  const root = join(commonDir, 'worktrees');
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return null;
  }
  const want = canonical(join(path, '.git'));
  for (const id of ids) {
    const text = readText(join(root, id, 'gitdir'))?.trim();
    if (text && canonical(resolve(root, id, text)) === want) return join(root, id);
  }
  return null;
}

/** The reason git's own lock gives while `worktree add` sets a worktree up (in English; translated, the lock stays, which is harmless). */
const ADD_LOCK_REASON = 'initializing';

/**
 * A `git worktree add` killed before it finished leaves its admin dir locked "initializing" and
 * then, in order: no HEAD, an empty one, the null-id placeholder, the branch but no index (the
 * checkout under way), or everything but the unlock. Up to the checkout, the worktree is undone
 * (its directory and admin dir removed: nothing in it is anyone's work, loopd never handed it
 * out), so the add is made again; git itself refuses to remove some of these states ("is not a
 * .git file"). Whatever the lock's reason: a worktree with nothing checked out holds no one's work.
 * A finished checkout is kept and only unlocked, and only from git's own lock: a complete worktree
 * locked by hand is left as it is. Returns what was done, for the run's events.
 */
function undoInterruptedAdd(repoRoot: string, path: string): string[] {
  const common = commonDirOf(repoRoot);
  const admin = common && adminDirOf(common, path);
  if (!admin) return [];
  const lock = readText(join(admin, 'locked'));
  if (lock === null) return [];
  const head = readText(join(admin, 'HEAD'))?.trim() ?? '';
  if (head !== '' && !/^0+$/.test(head) && existsSync(join(admin, 'index'))) {
    // Checked out: git's own lock is lifted as the add would have; one locked by hand stays.
    if (lock.trim() !== ADD_LOCK_REASON) return [];
    rmSync(join(admin, 'locked'), { force: true });
    return [`unlocked ${path} (a worktree add killed after its checkout)`];
  }
  if (madeByAdd(path, admin)) rmSync(path, { recursive: true, force: true });
  rmSync(admin, { recursive: true, force: true });
  return [`removed the unfinished worktree add at ${path}`];
}

/**
 * The directory at `path` is the one this admin dir's add made: its `.git` names the admin dir, or
 * it holds nothing but an empty `.git` (killed as it wrote it) or nothing at all.
 */
function madeByAdd(path: string, admin: string): boolean {
  if (!isDirectory(path)) return false;
  const dirs = gitDirsOf(path);
  if (dirs !== undefined) return canonical(dirs.gitDir) === canonical(admin);
  const entries = readdirSync(path);
  return entries.length === 0 || (entries.length === 1 && entries[0] === '.git' && readText(join(path, '.git')) === '');
}

/** Lock files git takes in the worktree's own git directory (commit, reset, checkout). */
const WORKTREE_LOCKS = ['index.lock', 'HEAD.lock', 'ORIG_HEAD.lock'];

/**
 * Removes the lock files a git killed half-way left on the run's branch ref and in its worktree's
 * git directory: git never removes them itself, and while one is there every commit and every
 * `worktree add -b` of the branch fails ("cannot lock ref ...: File exists"). Called only as a new
 * implementation attempt prepares the worktree, when no process of the run can be running (the
 * previous attempt's agent ended or was ended, a review or verification is over, and a daemon's
 * orphaned git finishes in milliseconds, far sooner than a step is started again). Returns the
 * files removed.
 */
export function clearStaleLocks(repoRoot: string, branch: string, path: string): string[] {
  const common = commonDirOf(repoRoot);
  if (!common) return [];
  const files: string[] = [];
  if (branch !== '' && !branch.split('/').some((p) => p === '' || p === '.' || p === '..')) files.push(join(common, 'refs', 'heads', `${branch}.lock`));
  const dirs = gitDirsOf(path);
  // Only a linked worktree of this repository: never the main checkout's own index.
  if (dirs && canonical(dirs.commonDir) === canonical(common) && canonical(dirs.gitDir) !== canonical(common)) {
    for (const f of WORKTREE_LOCKS) files.push(join(dirs.gitDir, f));
  }
  const removed: string[] = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    rmSync(f, { force: true });
    removed.push(`removed the stale ${f}`);
  }
  return removed;
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
