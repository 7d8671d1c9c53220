// Git for reviewing a run's work: diffs (the aggregate against the point where the run branched
// off, and one per iteration, split per file with line counts), deleting the run branch, pushing
// it. Nothing here checks anything out or touches a working tree.
import { branchExists, git, gitExec } from './git.js';

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

/** Where `branch` forked from `base`: the diff a reviewer wants ignores what base did since. */
export async function forkPoint(repoRoot: string, base: string, branch: string): Promise<string | null> {
  const r = await gitExec(repoRoot, ['merge-base', base, branch]);
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
  const stats = parseRawNumstat(await git(repoRoot, ['diff', '--raw', '--numstat', '-z', ...common]));
  const patches = opts.patches === false ? [] : splitPatch(await git(repoRoot, ['diff', '--patch', ...common]));
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

/** Deletes a local branch; one that is already gone is fine. */
export async function deleteBranch(repoRoot: string, branch: string): Promise<boolean> {
  if (!(await branchExists(repoRoot, branch))) return false;
  await git(repoRoot, ['branch', '-D', branch]);
  return true;
}

/** Pushes a local branch to the same name on a remote; says which remote is missing when none is. */
export async function pushBranch(repoRoot: string, remote: string, branch: string): Promise<void> {
  const remotes = (await git(repoRoot, ['remote'])).split('\n').map((l) => l.trim()).filter(Boolean);
  if (!remotes.includes(remote)) {
    throw new Error(
      remotes.length === 0
        ? `the repository ${repoRoot} has no git remote: add one (git remote add origin URL) to open a pull request`
        : `the repository ${repoRoot} has no remote "${remote}" (it has ${remotes.join(', ')}): pass --remote`,
    );
  }
  const r = await gitExec(repoRoot, ['push', '--porcelain', remote, `refs/heads/${branch}:refs/heads/${branch}`]);
  if (r.code !== 0) {
    const line = r.stderr.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('To ')) ?? `exit code ${r.code}`;
    throw new Error(`git push ${remote} ${branch} failed: ${line}`);
  }
}
