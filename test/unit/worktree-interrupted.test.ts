// A `git worktree add` killed half-way (its daemon or host died) must not stop the run that
// owns the path from placing its worktree again, nor hand it a worktree with nothing checked out.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorktree, listWorktrees, reusableWorktree } from '../../core/git-worktrees.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@localhost', ...args], { cwd, encoding: 'utf8' }).trim();

function repoWithWorktree(): { repo: string; wt: string; admin: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-wt-int-'));
  dirs.push(base);
  const repo = path.join(base, 'app');
  fs.mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hello\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'first');
  const wt = path.join(base, 'app.run-x');
  git(repo, 'worktree', 'add', '-q', '-b', 'run/x', wt, 'main');
  const admin = path.resolve(wt, fs.readFileSync(path.join(wt, '.git'), 'utf8').replace('gitdir:', '').trim());
  return { repo, wt, admin };
}

async function placedAgain(repo: string, wt: string): Promise<void> {
  const r = await createWorktree({ repoRoot: repo, branch: 'run/x', path: wt, base: 'main' });
  expect(r.reused).toBe(false);
  expect(git(wt, 'symbolic-ref', '--short', 'HEAD')).toBe('run/x');
  expect(fs.readFileSync(path.join(wt, 'README.md'), 'utf8')).toBe('hello\n');
  expect(git(wt, 'status', '--porcelain')).toBe('');
  expect((await listWorktrees(repo)).find((w) => w.path === wt)?.locked).toBe(false);
}

describe('a worktree add that never finished', () => {
  it('killed after the placeholder HEAD: removed and made again', async () => {
    const { repo, wt, admin } = repoWithWorktree();
    fs.writeFileSync(path.join(admin, 'locked'), 'initializing');
    fs.writeFileSync(path.join(admin, 'HEAD'), `${'0'.repeat(40)}\n`);
    await placedAgain(repo, wt);
  });

  it('killed after HEAD named the branch, before the checkout: not handed out, made again', async () => {
    const { repo, wt, admin } = repoWithWorktree();
    fs.writeFileSync(path.join(admin, 'locked'), 'initializing');
    fs.rmSync(path.join(admin, 'index'));
    fs.rmSync(path.join(wt, 'README.md'));
    // The fast per-iteration check leaves a locked worktree to createWorktree.
    expect(await reusableWorktree(repo, 'run/x', wt)).toBeNull();
    await placedAgain(repo, wt);
  });

  it('a complete worktree locked by hand is reused as it is, lock and all', async () => {
    const { repo, wt } = repoWithWorktree();
    git(repo, 'worktree', 'lock', '--reason', 'mine', wt);
    fs.writeFileSync(path.join(wt, 'work.txt'), 'uncommitted\n');
    const r = await createWorktree({ repoRoot: repo, branch: 'run/x', path: wt, base: 'main' });
    expect(r.reused).toBe(true);
    expect(fs.readFileSync(path.join(wt, 'work.txt'), 'utf8')).toBe('uncommitted\n');
    expect((await listWorktrees(repo)).find((w) => w.path === wt)?.locked).toBe(true);
  });
});

describe('a worktree add killed as it wrote commondir', () => {
  it('no longer breaks every worktree list of the repository: completed, then made again', async () => {
    const { repo, wt, admin } = repoWithWorktree();
    // What the kill leaves: locked, gitdir and .git written, HEAD not yet, commondir created empty.
    fs.writeFileSync(path.join(admin, 'locked'), 'initializing');
    fs.rmSync(path.join(admin, 'HEAD'));
    fs.writeFileSync(path.join(admin, 'commondir'), '');
    expect(() => git(repo, 'worktree', 'list', '--porcelain')).toThrow(/commondir/);
    await placedAgain(repo, wt);
  });
});
