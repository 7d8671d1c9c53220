// Facts read from the git directory's files must be what git itself says, or "ask git"
// (undefined) when the files cannot tell: never a different answer.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { g, initRepo, tempDirs } from './tmp.js';
import { changesBeyond, gitDirsOf, headCommitFromFiles, isLooseCommit, linearAhead, readHead, readRef, writeLoopdRef } from '../../core/git-files.js';

const tmp = tempDirs('loopd-gitfiles-');

function repoWithWorktree(): { root: string; wt: string } {
  const root = initRepo(path.join(tmp(), 'repo'));
  fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
  g(root, 'add', '-A');
  g(root, 'commit', '-q', '-m', 'one');
  const wt = path.join(path.dirname(root), 'wt');
  g(root, 'worktree', 'add', '-q', '-b', 'run/x', wt, 'main');
  return { root, wt };
}

const rev = (dir: string, r: string): string => g(dir, 'rev-parse', r).trim();
// Every object into one pack and the loose copies removed: the state a `git gc` leaves objects in,
// for 2-3 git processes instead of gc's ~20 (reflog, worktree and rerere housekeeping included).
const packObjects = (dir: string): void => void g(dir, 'repack', '-a', '-d', '-q');

describe('git-files', () => {
  it('reads HEAD, its branch and refs of a linked worktree as git does', () => {
    const { root, wt } = repoWithWorktree();
    fs.writeFileSync(path.join(wt, 'b.txt'), 'b\n');
    g(wt, 'add', '-A');
    g(wt, 'commit', '-q', '-m', 'two');
    const dirs = gitDirsOf(wt)!;
    expect(fs.realpathSync(dirs.commonDir)).toBe(fs.realpathSync(path.join(root, '.git')));
    expect(readHead(dirs)).toEqual({ branch: 'run/x', head: rev(wt, 'HEAD') });
    expect(readRef(dirs, 'refs/heads/main')).toBe(rev(root, 'main'));
    expect(readRef(dirs, 'refs/heads/nope')).toBeNull();
    expect(headCommitFromFiles(wt)).toBe(rev(wt, 'HEAD'));
    expect(headCommitFromFiles(root)).toBe(rev(root, 'HEAD'));
  });

  it('finds packed refs and a detached HEAD, and leaves packed objects to git', () => {
    const { root, wt } = repoWithWorktree();
    const head = rev(wt, 'HEAD');
    g(root, 'pack-refs', '--all');
    const dirs = gitDirsOf(wt)!;
    expect(fs.existsSync(path.join(dirs.commonDir, 'refs/heads/main'))).toBe(false);
    expect(readRef(dirs, 'refs/heads/main')).toBe(head);
    expect(readHead(dirs)).toEqual({ branch: 'run/x', head });
    g(wt, 'checkout', '-q', '--detach');
    expect(readHead(dirs)).toEqual({ branch: null, head });
    expect(isLooseCommit(dirs, head)).toBe(true);
    // A tree is no commit, whatever HEAD^{commit} a caller expects.
    expect(isLooseCommit(dirs, rev(wt, 'HEAD^{tree}'))).toBe(false);
    packObjects(root);
    expect(isLooseCommit(dirs, head)).toBeUndefined();
    expect(headCommitFromFiles(wt)).toBeUndefined();
  });

  it('asks git for what it cannot read: a symbolic ref, a reftable, a non-worktree', () => {
    const { root, wt } = repoWithWorktree();
    const dirs = gitDirsOf(wt)!;
    g(root, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main');
    expect(readRef(dirs, 'refs/heads/alias')).toBeUndefined();
    fs.writeFileSync(path.join(dirs.gitDir, 'HEAD'), 'ref: refs/tags/odd\n');
    expect(readHead(dirs)).toBeUndefined();
    expect(gitDirsOf(tmp())).toBeUndefined();
    fs.mkdirSync(path.join(root, '.git', 'reftable'));
    expect(gitDirsOf(wt)).toBeUndefined();
  });

  it('writes refs/loopd refs that git reads, and gives way to a held lock', () => {
    const { wt } = repoWithWorktree();
    const head = rev(wt, 'HEAD');
    expect(writeLoopdRef(wt, 'refs/loopd/runs/r1', head)).toBe(true);
    expect(rev(wt, 'refs/loopd/runs/r1')).toBe(head);
    g(wt, 'pack-refs', '--all');
    fs.writeFileSync(path.join(wt, 'c.txt'), 'c\n');
    g(wt, 'add', '-A');
    g(wt, 'commit', '-q', '-m', 'three');
    const next = rev(wt, 'HEAD');
    // Over a packed copy of the same ref: the loose one wins, as in git.
    expect(writeLoopdRef(wt, 'refs/loopd/runs/r1', next)).toBe(true);
    expect(rev(wt, 'refs/loopd/runs/r1')).toBe(next);
    const lock = path.join(gitDirsOf(wt)!.commonDir, 'refs/loopd/runs/r1.lock');
    // A lock left by a loopd killed between create and rename (or planted by the agent) is stale:
    // loopd writes a run's refs one step at a time, so it takes the lock over and the record lands.
    fs.writeFileSync(lock, '');
    expect(writeLoopdRef(wt, 'refs/loopd/runs/r1', head)).toBe(true);
    expect(rev(wt, 'refs/loopd/runs/r1')).toBe(head);
    expect(fs.existsSync(lock)).toBe(false);
    expect(writeLoopdRef(wt, 'refs/heads/run/x', head)).toBe(false);
  });

  it('counts a straight line of commits as rev-list does, and leaves merges and packs to git', () => {
    const { root, wt } = repoWithWorktree();
    const start = rev(wt, 'HEAD');
    const commit = (dir: string, file: string): void => {
      fs.writeFileSync(path.join(dir, file), file);
      g(dir, 'add', '-A');
      g(dir, 'commit', '-q', '-m', file);
    };
    commit(wt, 'b.txt');
    commit(wt, 'c.txt');
    commit(wt, 'd.txt');
    const tip = rev(wt, 'HEAD');
    expect(linearAhead(wt, start, tip)).toBe(Number(g(wt, 'rev-list', '--count', `${start}..${tip}`).trim()));
    expect(linearAhead(wt, tip, tip)).toBe(0);
    expect(linearAhead(wt, start, tip, 2)).toBeUndefined();
    // Not an ancestor: the walk reaches the root commit.
    commit(root, 'other.txt');
    expect(linearAhead(wt, rev(root, 'HEAD'), tip)).toBeUndefined();
    g(wt, 'merge', '-q', '--no-edit', 'main');
    expect(linearAhead(wt, start, rev(wt, 'HEAD'))).toBeUndefined();
    packObjects(root);
    expect(linearAhead(wt, start, tip)).toBeUndefined();
  });

  it('tells whether commits changed more than the allowed files, as git diff --name-only does', () => {
    const { root, wt } = repoWithWorktree();
    const allowed = ['specs/plan.md', 'specs/spec.md'];
    const commitFiles = (files: Record<string, string | null>): string => {
      for (const [f, content] of Object.entries(files)) {
        const p = path.join(wt, f);
        if (content === null) fs.rmSync(p, { recursive: true, force: true });
        else {
          fs.mkdirSync(path.dirname(p), { recursive: true });
          fs.writeFileSync(p, content);
        }
      }
      g(wt, 'add', '-A');
      g(wt, 'commit', '-q', '--allow-empty', '-m', 'x');
      return rev(wt, 'HEAD');
    };
    const byGit = (a: string, b: string): boolean =>
      g(wt, 'diff', '--name-only', '--no-renames', a, b).split('\n').some((p) => p !== '' && !allowed.includes(p));
    const base = commitFiles({ 'specs/plan.md': '- [ ] one\n', 'specs/spec.md': 'spec\n', 'specs/notes.md': 'n\n', 'src/a.ts': 'a\n' });
    const cases: [string, Record<string, string | null>][] = [
      ['nothing', {}],
      ['the plan alone', { 'specs/plan.md': '- [x] one\n' }],
      ['the plan and the spec', { 'specs/plan.md': '- [x] one\n- [ ] two\n', 'specs/spec.md': 'spec 2\n' }],
      ['a file beside the plan', { 'specs/notes.md': 'n2\n' }],
      ['code elsewhere', { 'src/a.ts': 'a2\n' }],
      ['a new file', { 'src/b.ts': 'b\n' }],
      ['a deleted directory', { src: null }],
    ];
    let from = base;
    for (const [what, files] of cases) {
      const to = commitFiles(files);
      expect({ what, answer: changesBeyond(wt, from, to, allowed) }).toEqual({ what, answer: byGit(from, to) });
      expect({ what, overall: changesBeyond(wt, base, to, allowed) }).toEqual({ what, overall: byGit(base, to) });
      from = to;
    }
    // The plan's place taken by a directory: files under it are not the plan.
    const dir = commitFiles({ 'specs/plan.md': null, 'specs/plan.md/x': 'x\n' });
    expect(changesBeyond(wt, from, dir, allowed)).toBe(true);
    expect(byGit(from, dir)).toBe(true);
    packObjects(root);
    expect(changesBeyond(wt, base, dir, allowed)).toBeUndefined();
  });
});
