// Running git for loopd: one process with its real exit code and output, none of the ambient GIT_*
// variables, and the user's identity or loopd's fallback for commits; plus the basic revision
// queries the other git modules build on. core/git.ts re-exports what callers use.
//
// Most calls are plumbing (merge-tree, commit-tree, update-ref) with no high-level API, and need
// real exit codes (`merge-base --is-ancestor` answers through its exit code alone), so they go
// through gitExec() rather than simple-git.
import { realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gitDirsOf, isLooseCommit, readRef } from './git-files.js';
import { runFile } from './spawner.js';

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

// Hot-path calls go straight to git rather than through simple-git: simple-git waits a fixed 50 ms
// after every command that prints nothing (add, diff --quiet, update-ref...), which measured as two
// thirds of loopd's per-iteration overhead, and it hides exit codes; execa's set-up per call cost
// ~1-2 ms of the daemon's CPU on every git process. The process is started by the spawner
// (core/spawner.ts), not by forking the daemon. Like simple-git, ambient GIT_* variables are
// dropped so a daemon started from inside a git hook cannot be pointed at another repository.
function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  // LOOPD_* too: git runs hooks, and an agent can write hooks into the repository it works in.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.toUpperCase().startsWith('GIT_') && !k.toUpperCase().startsWith('LOOPD_')) env[k] = v;
  env.GIT_TERMINAL_PROMPT = '0';
  // loopd's reads (status above all) must not rewrite the index as a side effect: it is the
  // user's and the agent's, and the refresh write cost ~0.3 ms per status.
  env.GIT_OPTIONAL_LOCKS = '0';
  return env;
}

/** Output kept per stream; a diff of a whole run can be large (execFile keeps 1 MiB by default; execa kept 100 MB). */
const MAX_OUTPUT = 100 * 1024 * 1024;

/** Runs git with the real exit code and output; throws only when git cannot be started or is killed. */
export async function gitExec(dir: string, args: string[], config: string[] = []): Promise<ExecResult> {
  // stdin is empty and closed: git never waits for input.
  const { error, stdout, stderr } = await runFile('git', [...config.flatMap((c) => ['-c', c]), ...args], { cwd: dir, env: gitEnv(), maxBuffer: MAX_OUTPUT });
  // A non-zero exit is an answer (error.code is the exit code); anything else is not.
  const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
  if (code === null) {
    const why = error?.signal ? `killed by ${error.signal}` : (error?.message ?? 'spawn failed');
    throw new GitError(`cannot run git in ${dir}: ${why}`);
  }
  return { code, stdout, stderr };
}

/** Runs git and throws a one-line GitError on any non-zero exit. */
export async function git(dir: string, args: string[], config: string[] = []): Promise<string> {
  const r = await gitExec(dir, args, config);
  if (r.code !== 0) {
    throw new GitError(`git ${args.join(' ')} failed in ${dir}: ${errorLine(r)}`);
  }
  return r.stdout;
}

/**
 * The line of a failed git's output that says what went wrong: its `fatal:` or `error:` line.
 * git often prints progress first (`worktree add` starts with "Preparing worktree (new branch
 * ...)"), and that first line alone told the user nothing.
 */
export function errorLine(r: { code: number; stdout: string; stderr: string }): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim());
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? (firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.code}`);
}

export function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

/**
 * For loopd's own commits: git otherwise starts a second process after every commit (`git
 * maintenance run --auto`, ~2-4 ms) to see whether the repository needs packing. The agent's
 * own commits, many more than loopd's, still run it, so the repository is maintained all the same.
 */
export const NO_AUTO_MAINTENANCE = 'maintenance.auto=false';

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
export async function gitWithIdentity(dir: string, args: string[]): Promise<string> {
  const first = await gitExec(dir, args, ['user.useConfigOnly=true', NO_AUTO_MAINTENANCE]);
  if (first.code === 0) return first.stdout;
  const fallback = await identityConfig(dir);
  if (fallback.length === 0) {
    throw new GitError(`git ${args.join(' ')} failed in ${dir}: ${errorLine(first)}`);
  }
  return git(dir, args, [...fallback, NO_AUTO_MAINTENANCE]);
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Canonical form for comparing paths git reports with paths callers pass (symlinked tmp dirs). */
export function canonical(p: string): string {
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

export async function branchExists(repoRoot: string, branch: string): Promise<boolean> {
  if (branch.trim() === '') return false;
  // From the git directory's files when they tell for sure (a loose commit, or no such ref at all).
  const dirs = gitDirsOf(repoRoot);
  const sha = dirs ? readRef(dirs, `refs/heads/${branch}`) : undefined;
  if (sha === null) return false;
  if (dirs && sha !== undefined && isLooseCommit(dirs, sha) === true) return true;
  const r = await gitExec(repoRoot, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`]);
  return r.code === 0;
}

export async function isAncestor(repoRoot: string, a: string, b: string): Promise<boolean> {
  const r = await gitExec(repoRoot, ['merge-base', '--is-ancestor', a, b]);
  if (r.code === 0) return true;
  if (r.code === 1) return false;
  throw new GitError(`cannot compare ${a} and ${b} in ${repoRoot}: ${errorLine(r)}`);
}

/** The commit a revision names, or null when it names none. */
export async function resolveCommit(repoRoot: string, rev: string): Promise<string | null> {
  const r = await gitExec(repoRoot, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}
