// Git operations for runs: worktrees, commits, and merges that never touch the user's checkout.
//
// Most calls are plumbing (merge-tree, commit-tree, update-ref) with no high-level API, and need
// real exit codes (`merge-base --is-ancestor` answers through its exit code alone), so they go
// through gitExec(); simple-git serves the porcelain-shaped queries.
import { existsSync, mkdirSync, realpathSync, statSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { simpleGit } from 'simple-git';
import { gitDirsOf, headCommitFromFiles, isLooseCommit, readHead } from './git-files.js';

export class GitError extends Error {
  override name = 'GitError';
}

// Used only when the repo has no identity of its own: simple-git v4 strips GIT_AUTHOR_* from the
// environment, and daemons often run where no global identity exists.
const FALLBACK_NAME = 'loopd';
const FALLBACK_EMAIL = 'loopd@localhost';

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Hot-path calls go straight to git through execa: simple-git waits a fixed 50 ms after every
// command that prints nothing (add, diff --quiet, update-ref...), which measured as two thirds of
// loopd's per-iteration overhead, and it hides exit codes. Like simple-git, ambient GIT_* variables
// are dropped so a daemon started from inside a git hook cannot be pointed at another repository.
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // LOOPD_* too: git runs hooks, and an agent can write hooks into the repository it works in.
  for (const [k, v] of Object.entries(process.env)) if (!k.toUpperCase().startsWith('GIT_') && !k.toUpperCase().startsWith('LOOPD_')) env[k] = v;
  env.GIT_TERMINAL_PROMPT = '0';
  return env;
}

/** Runs git with the real exit code and output; throws only when git cannot be started. */
export async function gitExec(dir: string, args: string[], config: string[] = []): Promise<ExecResult> {
  const r = await execa('git', [...config.flatMap((c) => ['-c', c]), ...args], {
    cwd: dir,
    env: gitEnv(),
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    stdin: 'ignore',
  });
  if (r.exitCode === undefined) {
    throw new GitError(`cannot run git in ${dir}: ${r.shortMessage ?? r.message ?? 'spawn failed'}`);
  }
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** Runs git and throws a one-line GitError on any non-zero exit. */
export async function git(dir: string, args: string[], config: string[] = []): Promise<string> {
  const r = await gitExec(dir, args, config);
  if (r.code !== 0) {
    const detail = firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.code}`;
    throw new GitError(`git ${args.join(' ')} failed in ${dir}: ${detail}`);
  }
  return r.stdout;
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

async function identityConfig(dir: string): Promise<string[]> {
  const name = (await gitExec(dir, ['config', '--get', 'user.name'])).stdout.trim();
  const email = (await gitExec(dir, ['config', '--get', 'user.email'])).stdout.trim();
  const cfg: string[] = [];
  if (name === '') cfg.push(`user.name=${FALLBACK_NAME}`);
  if (email === '') cfg.push(`user.email=${FALLBACK_EMAIL}`);
  return cfg;
}

/**
 * Runs a commit-making git command with the user's identity, or loopd's for the parts that are not
 * configured. One process when an identity is configured (the usual case): user.useConfigOnly makes
 * git fail instead of guessing one from the host, exactly where the fallback applies; only then is
 * the config read, and the command run again with the fallback.
 */
async function gitWithIdentity(dir: string, args: string[]): Promise<string> {
  const first = await gitExec(dir, args, ['user.useConfigOnly=true']);
  if (first.code === 0) return first.stdout;
  const fallback = await identityConfig(dir);
  if (fallback.length === 0) {
    const detail = firstLine(first.stderr) || firstLine(first.stdout) || `exit code ${first.code}`;
    throw new GitError(`git ${args.join(' ')} failed in ${dir}: ${detail}`);
  }
  return git(dir, args, fallback);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Canonical form for comparing paths git reports with paths callers pass (symlinked tmp dirs). */
function canonical(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    // The path may be gone (pruned worktree); canonicalize the nearest existing parent instead.
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return resolve(canonical(parent), abs.slice(parent.length + 1));
  }
}

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

export async function branchExists(repoRoot: string, branch: string): Promise<boolean> {
  if (branch.trim() === '') return false;
  const r = await gitExec(repoRoot, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`]);
  return r.code === 0;
}

export async function listBranches(repoRoot: string): Promise<string[]> {
  try {
    return (await simpleGit({ baseDir: repoRoot }).branchLocal()).all;
  } catch (e) {
    throw new GitError(`cannot list branches in ${repoRoot}: ${firstLine((e as Error).message)}`);
  }
}

async function hasAnyCommit(repoRoot: string): Promise<boolean> {
  // Branches only: `rev-list --all` also walks every worktree's HEAD and fails while another run
  // is still creating its worktree, which read as "no commits".
  const r = await gitExec(repoRoot, ['for-each-ref', '--count=1', '--format=%(objectname)', 'refs/heads/']);
  if (r.code !== 0) throw new GitError(`cannot read the branches of ${repoRoot}: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
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

export interface WorktreeEntry {
  path: string;
  /** Short branch name, or null when detached/bare. */
  branch: string | null;
  prunable: boolean;
}

/** `git worktree list --porcelain`, parsed; the first entry is the main worktree. */
export async function listWorktrees(repoRoot: string): Promise<WorktreeEntry[]> {
  const out = await git(repoRoot, ['worktree', 'list', '--porcelain']);
  const entries: WorktreeEntry[] = [];
  for (const block of out.split(/\n\s*\n/)) {
    let path: string | null = null;
    let branch: string | null = null;
    let prunable = false;
    for (const line of block.split('\n')) {
      if (line.startsWith('worktree ')) path = line.slice('worktree '.length);
      else if (line.startsWith('branch ')) branch = line.slice('branch '.length).replace(/^refs\/heads\//, '');
      else if (line === 'prunable' || line.startsWith('prunable ')) prunable = true;
    }
    if (path !== null) entries.push({ path, branch, prunable });
  }
  return entries;
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

  const atPath = worktrees.find((w) => canonical(w.path) === want);
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

/** HEAD's commit: from the git directory's files when they tell for sure, else from git. */
export async function headCommit(dir: string): Promise<string> {
  return headCommitFromFiles(dir) ?? (await git(dir, ['rev-parse', '--verify', 'HEAD^{commit}'])).trim();
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

/** commitAll for callers that do not need the new commit's id: one git process fewer. True when it committed. */
export async function commitEverything(dir: string, message: string, opts: { changed?: boolean } = {}): Promise<boolean> {
  await git(dir, ['add', '-A']);
  if (opts.changed !== true) {
    const staged = await gitExec(dir, ['diff', '--cached', '--quiet']);
    if (staged.code === 0) return false;
    if (staged.code !== 1) throw new GitError(`git diff --cached failed in ${dir}: ${firstLine(staged.stderr)}`);
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
 * `clean`: a `git status` just taken (worktreeStatus) found nothing uncommitted, so there are no
 * untracked files to list and one git process is saved.
 */
export async function diffSince(dir: string, fromCommit: string, opts: { clean?: boolean } = {}): Promise<string> {
  // Both at once: neither writes anything.
  const [tracked, others] = await Promise.all([
    git(dir, ['diff', '--no-color', '--no-ext-diff', fromCommit, '--']),
    opts.clean === true ? Promise.resolve('') : git(dir, ['ls-files', '--others', '--exclude-standard', '-z']),
  ]);
  const untracked = others.split('\0').filter((f) => f !== '');
  const parts = [tracked];
  for (const file of untracked.slice(0, MAX_UNTRACKED_DIFFS)) {
    // --no-index exits 1 when the files differ, which is always the case against /dev/null.
    const r = await gitExec(dir, ['diff', '--no-color', '--no-ext-diff', '--no-index', '--', '/dev/null', file]);
    if (r.code > 1) throw new GitError(`git diff of untracked ${file} failed in ${dir}: ${firstLine(r.stderr)}`);
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
export async function aheadBehind(dir: string, from: string): Promise<{ ahead: number; behind: number }> {
  const out = await git(dir, ['rev-list', '--left-right', '--count', `${from}...HEAD`]);
  const [behind, ahead] = out.trim().split(/\s+/).map((n) => Number.parseInt(n, 10));
  if (!Number.isInteger(behind) || !Number.isInteger(ahead)) throw new GitError(`git rev-list --left-right --count ${from}...HEAD in ${dir}: unexpected output ${JSON.stringify(out)}`);
  return { ahead: ahead as number, behind: behind as number };
}

/** Commits reachable from HEAD but not from fromCommit; `head` known already saves a process when nothing moved. */
export async function commitsSince(dir: string, fromCommit: string, head?: string): Promise<number> {
  if (head !== undefined && head === fromCommit) return 0;
  const out = await git(dir, ['rev-list', '--count', `${fromCommit}..HEAD`]);
  return Number.parseInt(out.trim(), 10) || 0;
}

export async function isAncestor(repoRoot: string, a: string, b: string): Promise<boolean> {
  const r = await gitExec(repoRoot, ['merge-base', '--is-ancestor', a, b]);
  if (r.code === 0) return true;
  if (r.code === 1) return false;
  throw new GitError(`cannot compare ${a} and ${b} in ${repoRoot}: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
}

/** The commit a revision names, or null when it names none. */
export async function resolveCommit(repoRoot: string, rev: string): Promise<string | null> {
  const r = await gitExec(repoRoot, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

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

/**
 * Merges runBranch into target using only plumbing, so no working tree, index or HEAD changes:
 * the tree comes from merge-tree, the commit from commit-tree, and the branch moves with a
 * compare-and-swap update-ref.
 */
export async function mergeIntoTarget(opts: {
  repoRoot: string;
  runBranch: string;
  target: string;
  base: string;
  strategy: 'merge' | 'squash';
  runId: string;
  message: string;
}): Promise<MergeResult> {
  const { repoRoot, runBranch, target, base, strategy, runId } = opts;
  let createdTarget = false;

  const refuseIfCheckedOut = async (): Promise<void> => {
    const at = await checkedOutAt(repoRoot, target);
    if (at !== null) {
      throw new GitError(
        `merge target "${target}" is checked out at ${at}; loopd never changes a checkout: pick another merge_target_branch or check out a different branch there`,
      );
    }
  };

  // A concurrent writer (another tool, or the user via `git branch -f`) can move the target
  // between our read and update-ref; the CAS fails and we recompute from the new tip.
  for (let attempt = 0; attempt < 5; attempt++) {
    const runCommit = await resolveCommit(repoRoot, `refs/heads/${runBranch}`);
    if (runCommit === null) {
      throw new GitError(`run branch "${runBranch}" does not exist in ${repoRoot}: the run's worktree branch was deleted; nothing to merge`);
    }
    let targetCommit = await resolveCommit(repoRoot, `refs/heads/${target}`);

    if (targetCommit !== null) {
      if (await targetHoldsRun(repoRoot, targetCommit, runId)) return { status: 'already_merged', createdTarget };
      // A run without commits of its own is "nothing", not "already merged", though base is in target.
      const baseCommit = await resolveCommit(repoRoot, `refs/heads/${base}`);
      if (baseCommit !== null && (await isAncestor(repoRoot, runCommit, baseCommit))) {
        return { status: 'nothing_to_merge', createdTarget };
      }
      if (strategy === 'merge' && (await isAncestor(repoRoot, runCommit, targetCommit))) {
        return { status: 'already_merged', createdTarget };
      }
    } else {
      const baseCommit = await resolveCommit(repoRoot, `refs/heads/${base}`);
      if (baseCommit === null) {
        throw new GitError(`cannot create merge target "${target}": base branch "${base}" does not exist in ${repoRoot}; set base_branch to an existing branch`);
      }
      // Creating the target for a run that changed nothing would only leave clutter behind.
      if (await isAncestor(repoRoot, runCommit, baseCommit)) return { status: 'nothing_to_merge', createdTarget };
      await refuseIfCheckedOut(); // an unborn branch can be "checked out" in a fresh repo
      const created = await gitExec(repoRoot, ['update-ref', '-m', `loopd: create ${target} from ${base}`, `refs/heads/${target}`, baseCommit, '']);
      if (created.code !== 0) continue; // someone else created it meanwhile
      createdTarget = true;
      targetCommit = baseCommit;
    }

    await refuseIfCheckedOut();

    const mt = await gitExec(repoRoot, ['merge-tree', '--write-tree', '--name-only', '--no-messages', targetCommit, runCommit]);
    if (mt.code !== 0 && mt.code !== 1) {
      throw new GitError(`git merge-tree failed in ${repoRoot}: ${firstLine(mt.stderr) || `exit code ${mt.code}`} (needs git >= 2.38)`);
    }
    const lines = mt.stdout.split('\n');
    const tree = (lines[0] ?? '').trim();
    if (mt.code === 1) {
      const conflicts: string[] = [];
      for (const l of lines.slice(1)) {
        if (l === '') break; // the file list ends at the first blank line
        if (!conflicts.includes(l)) conflicts.push(l);
      }
      return { status: 'conflict', conflicts, createdTarget };
    }
    const targetTree = (await git(repoRoot, ['rev-parse', `${targetCommit}^{tree}`])).trim();
    if (tree === targetTree) return { status: 'nothing_to_merge', createdTarget };

    const parents = strategy === 'merge' ? ['-p', targetCommit, '-p', runCommit] : ['-p', targetCommit];
    const trailerLine = `${TRAILER}: ${runId}`;
    const body = opts.message.split('\n').some((l) => l.trim() === trailerLine)
      ? opts.message
      : `${opts.message.replace(/\s+$/, '')}\n\n${trailerLine}\n`;
    const commit = (
      await gitWithIdentity(repoRoot, ['commit-tree', tree, ...parents, '-m', body])
    ).trim();
    const moved = await gitExec(repoRoot, [
      'update-ref',
      '-m',
      `loopd: ${strategy} ${runBranch} (run ${runId})`,
      `refs/heads/${target}`,
      commit,
      targetCommit,
    ]);
    if (moved.code === 0) return { status: 'merged', commit, createdTarget };
  }
  throw new GitError(`merge target "${target}" kept moving while loopd merged ${runBranch} into it: retry the merge once other writers are done`);
}

/** Subjects of the commits on `branch` that are not on `base`, oldest first (for squash messages). */
export async function commitSubjects(repoRoot: string, base: string, branch: string, max = 50): Promise<string[]> {
  const out = await git(repoRoot, ['log', '--reverse', '--format=%s', `${base}..${branch}`]);
  const all = out.split('\n').filter((l) => l.trim() !== '');
  return all.length > max ? [...all.slice(0, max), `... and ${all.length - max} more`] : all;
}
