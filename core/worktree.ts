// Worktree providers: where a run's worktree comes from.
//
// `git` is core/git.ts (loopd picks the path). `worktrunk` delegates to the user's `wt` CLI, so
// worktrunk's own `worktree-path` template decides where the worktree lands; we then read the
// path back from `git worktree list`, which is the one source both providers agree on.
//
// wt is built for an interactive shell, so every call is made non-interactive on purpose:
// - no shell `cd`: wt only changes directory through the WORKTRUNK_DIRECTIVE_* files its shell
//   wrapper sets; we drop those variables, so at most it prints a hint;
// - no hooks: `--no-hooks` skips the project's pre-/post-start hooks (they would need approval
//   nobody is there to give, and post-start hooks start background processes loopd does not
//   track); `--yes` answers any approval prompt that is left;
// - stdin is closed, so any other prompt sees EOF instead of waiting forever.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { execa } from 'execa';
import {
  branchExists,
  clearStaleLocks,
  createWorktree,
  listWorktrees,
  pruneWorktrees,
  reusableWorktree,
  removeWorktree,
  type WorktreeEntry,
} from './git.js';

export type WorktreeProviderChoice = 'auto' | 'git' | 'worktrunk';
export type WorktreeProviderName = 'git' | 'worktrunk';

const WT = 'wt';
const WT_TIMEOUT_MS = 120_000;

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `cmd` as a shell would find it on env.PATH, or null. */
export function findOnPath(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (cmd === '') return null;
  // Like a shell: a name with a slash is a path, not something to search for.
  if (cmd.includes('/')) return isExecutableFile(cmd) ? resolve(cmd) : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    // An empty PATH entry means "current directory", which a daemon has no business trusting.
    if (dir === '') continue;
    const candidate = join(dir, cmd);
    if (isExecutableFile(candidate)) return resolve(candidate);
  }
  return null;
}

export function chooseProvider(
  choice: WorktreeProviderChoice,
  env: NodeJS.ProcessEnv = process.env,
): { provider: WorktreeProviderName; reason: string } {
  switch (choice) {
    case 'git':
      return { provider: 'git', reason: 'worktree_provider=git' };
    case 'worktrunk': {
      const wt = findOnPath(WT, env);
      if (wt === null) {
        throw new Error(
          `worktree_provider=worktrunk but "${WT}" is not on PATH: install worktrunk or use worktree_provider=git (or auto)`,
        );
      }
      return { provider: 'worktrunk', reason: `worktree_provider=worktrunk (${wt})` };
    }
    case 'auto': {
      const wt = findOnPath(WT, env);
      return wt !== null
        ? { provider: 'worktrunk', reason: `worktree_provider=auto: found worktrunk at ${wt}` }
        : { provider: 'git', reason: `worktree_provider=auto: "${WT}" is not on PATH, using plain git worktrees` };
    }
  }
}

/**
 * The environment wt runs with: the caller's, minus anything that would make it act on behalf
 * of an interactive shell (directive files, shell type), redirect its git calls to another
 * repository (GIT_* from a hook, as core/git.ts drops too), or color its error messages.
 */
function wtEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    const key = k.toUpperCase();
    if (key.startsWith('GIT_') || key.startsWith('WORKTRUNK_DIRECTIVE') || key === 'WORKTRUNK_SHELL') continue;
    if (key === 'CLICOLOR_FORCE') continue;
    out[k] = v;
  }
  out.GIT_TERMINAL_PROMPT = '0';
  out.NO_COLOR = '1';
  return out;
}

function tail(text: string, maxLines = 20): string {
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  return lines.slice(-maxLines).join('\n');
}

async function runWt(args: string[], repoRoot: string, env: NodeJS.ProcessEnv): Promise<void> {
  const wt = findOnPath(WT, env);
  if (wt === null) {
    throw new Error(`"${WT}" is not on PATH: install worktrunk or use worktree_provider=git (or auto)`);
  }
  // Resolved up front so the PATH searched is the one we were given, not the daemon's.
  const r = await execa(wt, args, {
    cwd: repoRoot,
    env: wtEnv(env),
    extendEnv: false,
    stdin: 'ignore',
    timeout: WT_TIMEOUT_MS,
    killDescendants: true,
    reject: false,
  });
  if (r.exitCode === 0 && !r.timedOut) return;
  const what = r.timedOut
    ? `timed out after ${WT_TIMEOUT_MS / 1000}s`
    : r.exitCode === undefined
      ? `could not run: ${r.shortMessage ?? r.message ?? 'spawn failed'}`
      : `exited with code ${r.exitCode}`;
  const detail = tail(r.stderr) || tail(r.stdout);
  // clap's wording for a flag this wt build does not know: an older worktrunk.
  const tooOld = /unexpected argument '--/.test(r.stderr)
    ? '\nthis worktrunk looks too old for these flags: upgrade it, or use worktree_provider=git'
    : '';
  throw new Error(`wt ${args.join(' ')} ${what} in ${repoRoot}${detail ? `:\n${detail}` : ''}${tooOld}`);
}

/** The live worktree on `branch`, after pruning entries whose directories are gone. */
async function worktreeOnBranch(repoRoot: string, branch: string): Promise<{ entry: WorktreeEntry | null; main: WorktreeEntry | null }> {
  let worktrees = await listWorktrees(repoRoot);
  if (worktrees.some((w) => w.prunable && w.branch === branch)) {
    await pruneWorktrees(repoRoot);
    worktrees = await listWorktrees(repoRoot);
  }
  const entry = worktrees.find((w) => w.branch === branch && !w.prunable) ?? null;
  return { entry, main: worktrees[0] ?? null };
}

function refuseMainCheckout(branch: string, entry: WorktreeEntry, main: WorktreeEntry | null): void {
  // git lists the main worktree first: that is the user's own checkout, never a run's.
  if (main !== null && entry.path === main.path) {
    throw new Error(
      `branch ${branch} is checked out in your main checkout ${entry.path}; loopd never runs there: check out another branch there or use another run branch`,
    );
  }
}

export async function ensureRunWorktree(opts: {
  provider: WorktreeProviderName;
  repoRoot: string;
  branch: string;
  /** Planned path: where git puts it; for worktrunk only a hint, wt's template decides. */
  path: string;
  base: string;
  env?: NodeJS.ProcessEnv;
}): Promise<{ path: string; reused: boolean; head?: string; repaired: string[] }> {
  const { repoRoot, branch, base } = opts;
  // Every iteration after the first finds the worktree where it left it: one rev-parse confirms
  // that and reads HEAD, instead of listing all worktrees (and then reading HEAD separately).
  const live = await reusableWorktree(repoRoot, branch, opts.path);
  // A lock file left by a git killed with an earlier attempt (an agent's commit) would fail this one.
  if (live) return { path: live.path, reused: true, head: live.head, repaired: clearStaleLocks(repoRoot, branch, live.path) };
  if (opts.provider === 'git') return createWorktree({ repoRoot, branch, path: opts.path, base });

  const env = opts.env ?? process.env;
  const existing = await worktreeOnBranch(repoRoot, branch);
  if (existing.entry !== null) {
    refuseMainCheckout(branch, existing.entry, existing.main);
    return { path: existing.entry.path, reused: true, repaired: clearStaleLocks(repoRoot, branch, existing.entry.path) };
  }

  // A stale lock on the branch's ref (an earlier `wt switch --create` killed half-way) would fail this one.
  const repaired = clearStaleLocks(repoRoot, branch, opts.path);
  // --create fails on a branch that already exists (a run resumed after its worktree was
  // removed but its branch kept); plain `switch` then just adds a worktree for it.
  const create = !(await branchExists(repoRoot, branch));
  if (create && !(await branchExists(repoRoot, base))) {
    throw new Error(`base branch "${base}" does not exist in ${repoRoot}: create it or set base_branch to an existing branch`);
  }
  const args = ['switch', ...(create ? ['--create', branch, '--base', base] : [branch]), '--no-hooks', '--yes'];
  await runWt(args, repoRoot, env);

  const made = await worktreeOnBranch(repoRoot, branch);
  if (made.entry === null) {
    throw new Error(`wt ${args.join(' ')} succeeded but git lists no worktree on ${branch} in ${repoRoot}: check worktrunk's worktree-path setting`);
  }
  refuseMainCheckout(branch, made.entry, made.main);
  return { path: made.entry.path, reused: false, repaired };
}

/** Removes the run's worktree, keeping its branch; a worktree that is already gone is fine. */
export async function removeRunWorktree(opts: {
  provider: WorktreeProviderName;
  repoRoot: string;
  branch: string;
  path: string;
  env?: NodeJS.ProcessEnv;
}): Promise<void> {
  const { repoRoot, branch } = opts;
  if (opts.provider === 'git') return removeWorktree(repoRoot, opts.path);

  const { entry, main } = await worktreeOnBranch(repoRoot, branch);
  if (entry === null) return;
  refuseMainCheckout(branch, entry, main);
  // --foreground: the default removal finishes in the background, after we would return.
  // --force: agents leave untracked files behind (the git provider forces too).
  // --no-delete-branch: the run branch is the result and the merge source; loopd owns it.
  const args = ['remove', '--foreground', '--force', '--no-delete-branch', '--no-hooks', '--yes', branch];
  await runWt(args, repoRoot, opts.env ?? process.env);

  const after = await worktreeOnBranch(repoRoot, branch);
  if (after.entry !== null) {
    throw new Error(`wt ${args.join(' ')} succeeded but ${after.entry.path} is still a worktree on ${branch}: remove it with git worktree remove --force ${after.entry.path}`);
  }
}
