// Diffs of a run's work for review: the aggregate against the point where the run branched off,
// and one per iteration, each split per file with line counts. Read-only git; nothing is checked out.
import { execa } from 'execa';

export interface FileDiff {
  /** Path after the change (the old path for a deletion). */
  path: string;
  /** Path before a rename or copy; null otherwise. */
  oldPath: string | null;
  status: 'added' | 'modified' | 'deleted' | 'renamed' | 'copied' | 'type_changed';
  additions: number;
  deletions: number;
  binary: boolean;
  /** The file's unified diff, from its `diff --git` line; cut to MAX_FILE_PATCH_CHARS. */
  patch: string;
  truncated: boolean;
}

export interface DiffStats {
  files: number;
  additions: number;
  deletions: number;
}

export interface DiffView {
  from: string;
  to: string;
  files: FileDiff[];
  stats: DiffStats;
}

/** A patch bigger than this is cut: a generated file must not make the page unusable. */
export const MAX_FILE_PATCH_CHARS = 200_000;

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toUpperCase().startsWith('GIT_')) env[k] = v;
  env.GIT_TERMINAL_PROMPT = '0';
  return env;
}

export async function gitRun(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa('git', args, { cwd: dir, env: gitEnv(), extendEnv: false, reject: false, stripFinalNewline: false, stdin: 'ignore', maxBuffer: 256 * 1024 * 1024 });
  if (r.exitCode === undefined) throw new Error(`cannot run git in ${dir}: ${r.shortMessage ?? 'spawn failed'}`);
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

async function gitOk(dir: string, args: string[]): Promise<string> {
  const r = await gitRun(dir, args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${dir}: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
  return r.stdout;
}

/** The commit a ref points at, or null when it does not exist. */
export async function resolveRef(repoRoot: string, ref: string): Promise<string | null> {
  const r = await gitRun(repoRoot, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Where `branch` forked from `base`: the diff a reviewer wants ignores what base did since. */
export async function forkPoint(repoRoot: string, base: string, branch: string): Promise<string | null> {
  const r = await gitRun(repoRoot, ['merge-base', base, branch]);
  return r.code === 0 ? r.stdout.trim() : null;
}

interface StatEntry {
  status: FileDiff['status'];
  path: string;
  oldPath: string | null;
  additions: number;
  deletions: number;
  binary: boolean;
}

const STATUS: Record<string, FileDiff['status']> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', C: 'copied', T: 'type_changed' };

/**
 * Parses `git diff --raw --numstat -z` output. The raw part comes first (`:mode mode sha sha S\0path\0`
 * or with two paths for renames and copies), then the numstat part (`add\tdel\tpath\0` or
 * `add\tdel\t\0old\0new\0`), both in the same file order.
 */
export function parseRawNumstat(out: string): StatEntry[] {
  const tokens = out.split('\0');
  const raw: { status: FileDiff['status']; path: string; oldPath: string | null }[] = [];
  let i = 0;
  while (i < tokens.length && tokens[i]!.startsWith(':')) {
    const letter = tokens[i]!.trim().split(/\s+/)[4]?.charAt(0) ?? 'M';
    const status = STATUS[letter] ?? 'modified';
    if (letter === 'R' || letter === 'C') {
      raw.push({ status, oldPath: tokens[i + 1] ?? '', path: tokens[i + 2] ?? '' });
      i += 3;
    } else {
      raw.push({ status, oldPath: null, path: tokens[i + 1] ?? '' });
      i += 2;
    }
  }
  const entries: StatEntry[] = [];
  for (const r of raw) {
    // Numstat lines may start with the newline left over from the raw block.
    const head = (tokens[i] ?? '').replace(/^\n/, '');
    const [add = '0', del = '0', inlinePath = ''] = head.split('\t');
    i += inlinePath === '' ? 3 : 1; // a rename's paths follow as two extra tokens
    const binary = add === '-' && del === '-';
    entries.push({ ...r, additions: binary ? 0 : Number(add) || 0, deletions: binary ? 0 : Number(del) || 0, binary });
  }
  return entries;
}

/** Splits a multi-file unified diff at its `diff --git` lines, in order. */
export function splitPatch(patch: string): string[] {
  if (patch === '') return [];
  const parts = patch.split(/^(?=diff --git )/m);
  return parts.filter((p) => p.startsWith('diff --git '));
}

/** The diff between two commits, per file, with rename detection; `patches: false` for stats only. */
export async function diffCommits(repoRoot: string, from: string, to: string, opts: { patches?: boolean } = {}): Promise<DiffView> {
  const common = ['--no-color', '--no-ext-diff', '-M', from, to, '--'];
  const stats = parseRawNumstat(await gitOk(repoRoot, ['diff', '--raw', '--numstat', '-z', ...common]));
  const patches = opts.patches === false ? [] : splitPatch(await gitOk(repoRoot, ['diff', '--patch', ...common]));
  const files: FileDiff[] = stats.map((s, idx) => {
    const full = patches[idx] ?? '';
    const truncated = full.length > MAX_FILE_PATCH_CHARS;
    return { ...s, patch: truncated ? full.slice(0, MAX_FILE_PATCH_CHARS) : full, truncated };
  });
  return {
    from,
    to,
    files,
    stats: {
      files: files.length,
      additions: files.reduce((n, f) => n + f.additions, 0),
      deletions: files.reduce((n, f) => n + f.deletions, 0),
    },
  };
}

export async function branchExists(repoRoot: string, branch: string): Promise<boolean> {
  return (await resolveRef(repoRoot, `refs/heads/${branch}`)) !== null;
}

/** Deletes a local branch; one that is already gone is fine. */
export async function deleteBranch(repoRoot: string, branch: string): Promise<boolean> {
  if (!(await branchExists(repoRoot, branch))) return false;
  await gitOk(repoRoot, ['branch', '-D', branch]);
  return true;
}

/** Pushes a local branch to the same name on a remote; says which remote is missing when none is. */
export async function pushBranch(repoRoot: string, remote: string, branch: string): Promise<void> {
  const remotes = (await gitOk(repoRoot, ['remote'])).split('\n').map((l) => l.trim()).filter(Boolean);
  if (!remotes.includes(remote)) {
    throw new Error(
      remotes.length === 0
        ? `the repository ${repoRoot} has no git remote: add one (git remote add origin URL) to open a pull request`
        : `the repository ${repoRoot} has no remote "${remote}" (it has ${remotes.join(', ')}): pass --remote`,
    );
  }
  const r = await gitRun(repoRoot, ['push', '--porcelain', remote, `refs/heads/${branch}:refs/heads/${branch}`]);
  if (r.code !== 0) {
    throw new Error(`git push ${remote} ${branch} failed: ${firstLine(r.stderr.replace(/^To .*$/m, '')) || `exit code ${r.code}`}`);
  }
}
