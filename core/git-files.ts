// Read-only git facts straight from the git directory, without starting a git process: where a
// worktree's git directories are, what HEAD and a branch point at, whether a commit exists as a
// loose object; and writing loopd's own refs/loopd/* refs with git's lock-file protocol.
//
// Every function answers only what it can be sure of and returns undefined otherwise (a reftable
// repository, a symbolic ref that is not HEAD, a packed object, anything unexpected): the caller
// then asks git. git reads these same files, so an agent that tampers with them misleads git the
// same way; what no file read can check (packed objects, exotic layouts) always goes to git.
// Hand-written rather than isomorphic-git: a few dozen lines on the hot path against a large
// dependency whose ref writes skip git's lock files.
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

export interface GitDirs {
  /** The worktree's own git directory (HEAD, index); the main worktree's is the common one. */
  gitDir: string;
  /** Where refs and objects live: shared by all worktrees of the repository. */
  commonDir: string;
}

/** A file's text, or null when it cannot be read (missing, a directory, no permission). */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The git directories of the worktree whose top level is `worktree`; undefined when `.git` is neither a directory nor a `gitdir:` file. */
export function gitDirsOf(worktree: string): GitDirs | undefined {
  const dotGit = join(worktree, '.git');
  let st;
  try {
    st = lstatSync(dotGit);
  } catch {
    return undefined;
  }
  if (st.isDirectory()) return usable({ gitDir: dotGit, commonDir: dotGit });
  if (!st.isFile()) return undefined;
  const m = /^gitdir: (.+)$/m.exec(readText(dotGit) ?? '');
  if (!m) return undefined;
  const gitDir = resolve(worktree, m[1]!.trim());
  if (!isDir(gitDir)) return undefined;
  const common = readText(join(gitDir, 'commondir'));
  return usable({ gitDir, commonDir: common === null ? gitDir : resolve(gitDir, common.trim()) });
}

function usable(dirs: GitDirs): GitDirs | undefined {
  // A reftable repository keeps refs in binary tables: only git reads those.
  if (!isDir(dirs.commonDir) || isDir(join(dirs.commonDir, 'reftable'))) return undefined;
  return dirs;
}

/**
 * The commit a full ref name (`refs/heads/x`, `refs/loopd/...`) points at: the loose ref first,
 * then packed-refs, the order git reads them in. null: the ref does not exist; undefined: unsure.
 */
export function readRef(dirs: GitDirs, ref: string): string | null | undefined {
  if (!ref.startsWith('refs/') || ref.includes('..') || ref.endsWith('/')) return undefined;
  const loose = readText(join(dirs.commonDir, ref));
  if (loose !== null) {
    const sha = loose.trim();
    return SHA.test(sha) ? sha : undefined;
  }
  if (isDir(join(dirs.commonDir, ref))) return undefined;
  const packed = readText(join(dirs.commonDir, 'packed-refs'));
  if (packed === null) return null;
  for (const line of packed.split('\n')) {
    // `<sha> <ref>`; `#` header and `^<sha>` peeled-tag lines are not refs.
    const space = line.indexOf(' ');
    if (space > 0 && line.slice(space + 1) === ref) {
      const sha = line.slice(0, space);
      return SHA.test(sha) ? sha : undefined;
    }
  }
  return null;
}

export interface HeadFacts {
  /** The checked-out branch (short name); null on a detached HEAD. */
  branch: string | null;
  /** HEAD's commit; null on an unborn branch. */
  head: string | null;
}

/** HEAD of the worktree: its branch and commit. undefined when git must be asked. */
export function readHead(dirs: GitDirs): HeadFacts | undefined {
  const text = readText(join(dirs.gitDir, 'HEAD'));
  if (text === null) return undefined;
  const line = text.trim();
  if (SHA.test(line)) return { branch: null, head: line };
  const m = /^ref: (refs\/heads\/\S+)$/.exec(line);
  if (!m) return undefined;
  const head = readRef(dirs, m[1]!);
  if (head === undefined) return undefined;
  return { branch: m[1]!.slice('refs/heads/'.length), head };
}

/**
 * True when `sha` is a commit stored as a loose object (what `rev-parse --verify sha^{commit}`
 * checks); undefined when it is not loose (packed, or missing): only git can tell then.
 */
export function isLooseCommit(dirs: GitDirs, sha: string): boolean | undefined {
  if (!SHA.test(sha)) return undefined;
  let raw: Buffer;
  try {
    raw = readFileSync(join(dirs.commonDir, 'objects', sha.slice(0, 2), sha.slice(2)));
  } catch {
    return undefined;
  }
  try {
    // Only the header is needed; commits are small, so inflating the whole object is cheap.
    return inflateSync(raw).subarray(0, 7).toString('latin1') === 'commit ';
  } catch {
    return undefined;
  }
}

/** A loose object's type and content; undefined when it is not loose (or unreadable). */
function looseObject(dirs: GitDirs, sha: string): { type: string; body: Buffer } | undefined {
  if (!SHA.test(sha)) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(readFileSync(join(dirs.commonDir, 'objects', sha.slice(0, 2), sha.slice(2))));
  } catch {
    return undefined;
  }
  const nul = raw.indexOf(0);
  const space = raw.indexOf(0x20);
  if (nul < 0 || space < 0 || space > nul) return undefined;
  return { type: raw.subarray(0, space).toString('latin1'), body: raw.subarray(nul + 1) };
}

/** A loose commit's header: its tree and parents. */
function looseCommit(dirs: GitDirs, sha: string): { tree: string; parents: string[] } | undefined {
  const obj = looseObject(dirs, sha);
  if (obj?.type !== 'commit') return undefined;
  let tree = '';
  const parents: string[] = [];
  // Header lines up to the first blank line: `tree`, then one `parent` line per parent.
  for (const line of obj.body.toString('latin1').split('\n')) {
    if (line === '') break;
    if (line.startsWith('tree ')) tree = line.slice('tree '.length);
    else if (line.startsWith('parent ')) parents.push(line.slice('parent '.length));
  }
  return SHA.test(tree) ? { tree, parents } : undefined;
}

function looseParents(dirs: GitDirs, sha: string): string[] | undefined {
  return looseCommit(dirs, sha)?.parents;
}

/** A loose tree's entries by name: mode and object id. */
function looseTree(dirs: GitDirs, sha: string): Map<string, { mode: string; id: string }> | undefined {
  const obj = looseObject(dirs, sha);
  if (obj?.type !== 'tree') return undefined;
  // Entries are `<mode> <name>\0<raw id>`; the id is as long as the repository's object names.
  const idBytes = sha.length / 2;
  const entries = new Map<string, { mode: string; id: string }>();
  const b = obj.body;
  let at = 0;
  while (at < b.length) {
    const space = b.indexOf(0x20, at);
    const nul = b.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 1 + idBytes > b.length) return undefined;
    entries.set(b.subarray(space + 1, nul).toString('utf8'), { mode: b.subarray(at, space).toString('latin1'), id: b.subarray(nul + 1, nul + 1 + idBytes).toString('hex') });
    at = nul + 1 + idBytes;
  }
  return entries;
}

/**
 * Whether the trees of two commits differ anywhere but the files `allowed` (paths relative to the
 * top, as `git diff --name-only` names them): walked from the loose tree objects, descending only
 * into directories that hold an allowed file. undefined when an object it needs is not loose.
 */
export function changesBeyond(worktree: string, from: string, to: string, allowed: readonly string[]): boolean | undefined {
  const dirs = gitDirsOf(worktree);
  const a = dirs ? looseCommit(dirs, from) : undefined;
  const b = dirs ? looseCommit(dirs, to) : undefined;
  if (!dirs || !a || !b) return undefined;
  const walk = (ta: string, tb: string, prefix: string): boolean | undefined => {
    if (ta === tb) return false;
    const ea = looseTree(dirs, ta);
    const eb = looseTree(dirs, tb);
    if (!ea || !eb) return undefined;
    for (const name of new Set([...ea.keys(), ...eb.keys()])) {
      const x = ea.get(name);
      const y = eb.get(name);
      if (x && y && x.id === y.id && x.mode === y.mode) continue;
      const path = `${prefix}${name}`;
      const isTree = (e?: { mode: string }) => e?.mode === '40000';
      // A changed file that may change: fine, unless a directory took its place (or the reverse).
      if (allowed.includes(path) && !isTree(x) && !isTree(y)) continue;
      if (x && y && isTree(x) && isTree(y) && allowed.some((p) => p.startsWith(`${path}/`))) {
        const inner = walk(x.id, y.id, `${path}/`);
        if (inner !== false) return inner;
        continue;
      }
      return true;
    }
    return false;
  };
  return walk(a.tree, b.tree, '');
}

/**
 * How many commits `to` is ahead of `from` when `to` descends from it by a straight line of at
 * most `max` loose single-parent commits (the usual agent iteration): what `rev-list --count
 * from..to` says, with `from` an ancestor. undefined for anything else (a merge, a packed commit,
 * a longer or unrelated history): git answers those.
 */
export function linearAhead(worktree: string, from: string, to: string, max = 64): number | undefined {
  const dirs = gitDirsOf(worktree);
  if (!dirs || !SHA.test(from) || !SHA.test(to)) return undefined;
  let at = to;
  for (let n = 0; n <= max; n++) {
    if (at === from) return n;
    const parents = looseParents(dirs, at);
    if (parents?.length !== 1) return undefined;
    at = parents[0]!;
  }
  return undefined;
}

/** The commit HEAD names, read from files when it is a loose commit; undefined: ask git. */
export function headCommitFromFiles(worktree: string): string | undefined {
  const dirs = gitDirsOf(worktree);
  const head = dirs ? readHead(dirs) : undefined;
  if (!dirs || !head?.head) return undefined;
  return isLooseCommit(dirs, head.head) === true ? head.head : undefined;
}

/**
 * Creates `<ref>.lock` exclusively. A lock already there on a loopd-owned ref is stale: loopd writes
 * a run's refs from one step at a time, so it was left by a loopd killed between create and rename
 * (or planted by the agent to block the record); it is removed and the lock taken once more.
 */
function takeRefLock(path: string, lock: string): number | null {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      return openSync(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) return null;
      try {
        rmSync(lock);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * Points a loopd-owned ref (`refs/loopd/...`) at `sha` the way git does: `<ref>.lock` created
 * exclusively, written, renamed over the ref. A loose ref wins over a packed one, so a ref git
 * packed earlier is simply overridden. False when it could not (a lock held, a directory in the
 * way, a reftable repository): the caller runs `git update-ref`, which reports what is wrong.
 */
export function writeLoopdRef(worktree: string, ref: string, sha: string): boolean {
  if (!ref.startsWith('refs/loopd/') || ref.includes('..') || !SHA.test(sha)) return false;
  const dirs = gitDirsOf(worktree);
  if (!dirs) return false;
  const path = join(dirs.commonDir, ref);
  const lock = `${path}.lock`;
  const fd = takeRefLock(path, lock);
  if (fd === null) return false;
  let written = false;
  try {
    writeSync(fd, `${sha}\n`);
    written = true;
  } catch {
    // reported below by falling back to git
  } finally {
    closeSync(fd);
  }
  try {
    if (written) {
      renameSync(lock, path);
      return true;
    }
  } catch {
    // a directory at `path` (refs/loopd/x while refs/loopd/x/y exists): git explains it
  }
  rmSync(lock, { force: true });
  return false;
}
