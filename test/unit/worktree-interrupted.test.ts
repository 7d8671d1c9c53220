// A git killed half-way (its daemon or host died) must not stop the run that owns the worktree
// from placing it again, nor hand it a worktree with nothing checked out, nor lose what its
// branch holds. Each state below is one a `git worktree add` SIGKILLed at a random instant left
// (git 2.39, found by killing it at random moments), or one an agent killed mid-commit leaves.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { git as gitOf } from '../../core/git-exec.js';
import { createWorktree, listWorktrees, reusableWorktree } from '../../core/git-worktrees.js';
import { ensureRunWorktree } from '../../core/worktree.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@localhost', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

// One repository with a finished `worktree add`, made once and copied for each test (a copy costs
// no git process): every state below is this one with some of the add undone.
let template: string;
beforeAll(() => {
  template = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-wt-int-tpl-')));
  const repo = path.join(template, 'app');
  fs.mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hello\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'first');
  git(repo, 'worktree', 'add', '-q', '-b', 'run/x', path.join(template, 'app.run-x'), 'main');
});
afterAll(() => fs.rmSync(template, { recursive: true, force: true }));

interface Place {
  repo: string;
  wt: string;
  /** The worktree's admin dir, .git/worktrees/app.run-x. */
  admin: string;
  /** The run branch's loose ref. */
  ref: string;
}

/** A fresh copy of the template: the worktree complete (`added`), or nothing of it at all. */
function place(state: 'added' | 'nothing'): Place {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-wt-int-')));
  dirs.push(base);
  fs.cpSync(template, base, { recursive: true });
  const repo = path.join(base, 'app');
  const wt = path.join(base, 'app.run-x');
  const admin = path.join(repo, '.git', 'worktrees', 'app.run-x');
  // git wrote absolute paths both ways between the worktree and its admin dir.
  fs.writeFileSync(path.join(admin, 'gitdir'), `${wt}/.git\n`);
  fs.writeFileSync(path.join(wt, '.git'), `gitdir: ${admin}\n`);
  const ref = path.join(repo, '.git', 'refs', 'heads', 'run', 'x');
  if (state === 'nothing') {
    fs.rmSync(wt, { recursive: true });
    fs.rmSync(path.join(repo, '.git', 'worktrees'), { recursive: true });
    fs.rmSync(ref);
    fs.rmSync(path.join(repo, '.git', 'logs', 'refs', 'heads', 'run'), { recursive: true });
  }
  return { repo, wt, admin, ref };
}

const mainHead = (p: Place): string => fs.readFileSync(path.join(p.repo, '.git', 'refs', 'heads', 'main'), 'utf8').trim();

/** The worktree is on run/x at `head`, checked out and clean, unlocked, and takes a commit. */
async function placedAgain(p: Place, o: { reused: boolean; head?: string }): Promise<string[]> {
  const r = await ensureRunWorktree({ provider: 'git', repoRoot: p.repo, branch: 'run/x', path: p.wt, base: 'main' });
  expect(r.reused).toBe(o.reused);
  // One git process for the branch, HEAD and a clean tree.
  expect(git(p.wt, 'status', '--porcelain=v2', '--branch', '--untracked-files=all').split('\n')).toEqual([`# branch.oid ${o.head ?? mainHead(p)}`, '# branch.head run/x']);
  expect(fs.readFileSync(path.join(p.wt, 'README.md'), 'utf8')).toBe('hello\n');
  const admin = path.resolve(p.wt, fs.readFileSync(path.join(p.wt, '.git'), 'utf8').replace('gitdir:', '').trim());
  expect(fs.existsSync(path.join(admin, 'locked'))).toBe(false);
  // What an agent does next: a commit on the run branch (it takes the index, HEAD and branch locks).
  git(p.wt, 'commit', '-q', '--allow-empty', '-m', 'work');
  return r.repaired;
}

describe('a worktree add -b killed before the worktree existed', () => {
  it('inside its `git branch`, holding the new ref\'s lock: the stale lock goes and the branch is made (the cluster test\'s worktree_missing)', async () => {
    const p = place('nothing');
    fs.writeFileSync(`${p.ref}.lock`, `${mainHead(p)}\n`);
    // What the run failed with: git's real reason, not its "Preparing worktree" progress line.
    const raw = gitOf(p.repo, ['worktree', 'add', '-b', 'run/x', p.wt, 'main']);
    await expect(raw).rejects.toThrow(/failed in .*: fatal: cannot lock ref 'refs\/heads\/run\/x'/);
    await expect(raw).rejects.not.toThrow(/Preparing worktree/);
    fs.rmSync(p.wt, { recursive: true, force: true });
    const repaired = await placedAgain(p, { reused: false });
    expect(repaired).toEqual([`removed the stale ${p.ref}.lock`]);
  });

  it('after its branch was made: the branch is checked out as it is, its commits kept', async () => {
    const p = place('nothing');
    // The branch holds a commit beyond its base: checking it out must not reset it to main.
    const tree = git(p.repo, 'rev-parse', 'main^{tree}');
    const work = git(p.repo, 'commit-tree', tree, '-p', 'main', '-m', 'the run\'s work');
    git(p.repo, 'branch', 'run/x', work);
    expect(await placedAgain(p, { reused: false, head: work })).toEqual([]);
    expect(git(p.repo, 'rev-parse', 'main')).not.toBe(work);
  });
});

describe('a worktree add killed before its checkout: undone and made again', () => {
  it('as it wrote the worktree\'s .git file (left empty, no HEAD yet)', async () => {
    const p = place('added');
    for (const f of ['HEAD', 'commondir', 'index', 'ORIG_HEAD', 'logs']) fs.rmSync(path.join(p.admin, f), { recursive: true, force: true });
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.rmSync(p.wt, { recursive: true });
    fs.mkdirSync(p.wt);
    fs.writeFileSync(path.join(p.wt, '.git'), '');
    expect(await placedAgain(p, { reused: false })).toEqual([`removed the unfinished worktree add at ${p.wt}`]);
  });

  it('as it wrote the placeholder HEAD (left empty), a state git itself refuses to remove', async () => {
    const p = place('added');
    for (const f of ['commondir', 'index', 'ORIG_HEAD', 'logs']) fs.rmSync(path.join(p.admin, f), { recursive: true, force: true });
    fs.writeFileSync(path.join(p.admin, 'HEAD'), '');
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.rmSync(path.join(p.wt, 'README.md'));
    expect(() => git(p.repo, 'worktree', 'remove', '--force', '--force', p.wt)).toThrow(/validation failed/);
    await placedAgain(p, { reused: false });
  });

  it('after the placeholder HEAD', async () => {
    const p = place('added');
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.writeFileSync(path.join(p.admin, 'HEAD'), `${'0'.repeat(40)}\n`);
    await placedAgain(p, { reused: false });
  });

  it('after HEAD named the branch, mid-checkout (index.lock held, files half written): not handed out', async () => {
    const p = place('added');
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.renameSync(path.join(p.admin, 'index'), path.join(p.admin, 'index.lock'));
    fs.writeFileSync(path.join(p.wt, 'README.md'), 'hel');
    // The fast per-iteration check leaves a locked worktree to createWorktree.
    expect(await reusableWorktree(p.repo, 'run/x', p.wt)).toBeNull();
    await placedAgain(p, { reused: false });
  });

  it('registered and locked, its directory never made', async () => {
    const p = place('added');
    for (const f of ['commondir', 'index', 'ORIG_HEAD', 'logs', 'HEAD']) fs.rmSync(path.join(p.admin, f), { recursive: true, force: true });
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.rmSync(p.wt, { recursive: true });
    await placedAgain(p, { reused: false });
  });
});

describe('a worktree add killed after its checkout', () => {
  it('in reset\'s update of HEAD, before the unlock: kept, its locks gone and unlocked as the add would have', async () => {
    const p = place('added');
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.writeFileSync(path.join(p.admin, 'HEAD.lock'), 'ref: refs/heads/run/x\n');
    fs.writeFileSync(`${p.ref}.lock`, `${mainHead(p)}\n`);
    const repaired = await placedAgain(p, { reused: true });
    expect(repaired).toEqual([`unlocked ${p.wt} (a worktree add killed after its checkout)`, `removed the stale ${p.ref}.lock`, `removed the stale ${path.join(p.admin, 'HEAD.lock')}`]);
  });

  it('a complete worktree locked by hand is reused as it is, lock and all', async () => {
    const p = place('added');
    git(p.repo, 'worktree', 'lock', '--reason', 'mine', p.wt);
    fs.writeFileSync(path.join(p.wt, 'work.txt'), 'uncommitted\n');
    const r = await createWorktree({ repoRoot: p.repo, branch: 'run/x', path: p.wt, base: 'main' });
    expect(r).toMatchObject({ reused: true, repaired: [] });
    expect(fs.readFileSync(path.join(p.wt, 'work.txt'), 'utf8')).toBe('uncommitted\n');
    expect((await listWorktrees(p.repo)).find((w) => w.path === p.wt)?.locked).toBe(true);
  });
});

describe('an agent killed mid-commit in a worktree in use', () => {
  it('its index.lock and the branch ref\'s lock are removed as the next attempt prepares, its commits kept', async () => {
    const p = place('added');
    git(p.wt, 'commit', '-q', '--allow-empty', '-m', 'the agent\'s first commit');
    const head = git(p.wt, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(p.admin, 'index.lock'), '');
    fs.writeFileSync(`${p.ref}.lock`, '');
    const repaired = await placedAgain(p, { reused: true, head });
    expect(repaired).toEqual([`removed the stale ${p.ref}.lock`, `removed the stale ${path.join(p.admin, 'index.lock')}`]);
  });

  it('the main checkout\'s own locks are never touched', async () => {
    const p = place('added');
    fs.writeFileSync(path.join(p.repo, '.git', 'index.lock'), '');
    await ensureRunWorktree({ provider: 'git', repoRoot: p.repo, branch: 'run/x', path: p.wt, base: 'main' });
    expect(fs.existsSync(path.join(p.repo, '.git', 'index.lock'))).toBe(true);
  });
});

describe('a worktree add killed as it wrote commondir', () => {
  it('no longer breaks every worktree list of the repository: completed, then made again', async () => {
    const p = place('added');
    // What the kill leaves: locked, gitdir, .git and the placeholder HEAD written, commondir created empty.
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.writeFileSync(path.join(p.admin, 'HEAD'), `${'0'.repeat(40)}\n`);
    fs.writeFileSync(path.join(p.admin, 'commondir'), '');
    expect(() => git(p.repo, 'worktree', 'list', '--porcelain')).toThrow(/commondir/);
    await placedAgain(p, { reused: false });
  });

  it('at another path (another run\'s add): completed so this run\'s list works', async () => {
    const p = place('added');
    const other = path.join(p.repo, '.git', 'worktrees', 'app.run-y');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'locked'), 'initializing');
    fs.writeFileSync(path.join(other, 'gitdir'), `${path.dirname(p.wt)}/app.run-y/.git\n`);
    fs.writeFileSync(path.join(other, 'commondir'), '');
    expect(() => git(p.repo, 'worktree', 'list', '--porcelain')).toThrow(/commondir/);
    // The full route (the fast check alone would not list): it lists every worktree.
    expect(await createWorktree({ repoRoot: p.repo, branch: 'run/x', path: p.wt, base: 'main' })).toMatchObject({ reused: true, repaired: [] });
    expect((await listWorktrees(p.repo)).map((w) => [path.basename(w.path), w.locked])).toEqual([['app', false], ['app.run-x', false], ['app.run-y', true]]);
  });
});

describe('what cannot be repaired fails in one clear line and removes nothing', () => {
  it('a directory of the user\'s where the worktree goes, even with an unfinished add registered there', async () => {
    const p = place('added');
    for (const f of ['commondir', 'index', 'ORIG_HEAD', 'logs', 'HEAD']) fs.rmSync(path.join(p.admin, f), { recursive: true, force: true });
    fs.writeFileSync(path.join(p.admin, 'locked'), 'initializing');
    fs.rmSync(p.wt, { recursive: true });
    fs.mkdirSync(p.wt);
    fs.writeFileSync(path.join(p.wt, 'notes.txt'), 'mine\n');
    const r = ensureRunWorktree({ provider: 'git', repoRoot: p.repo, branch: 'run/x', path: p.wt, base: 'main' });
    await expect(r).rejects.toThrow(new RegExp(`^${p.wt} already exists and is not a worktree of ${p.repo}: move it away or choose another worktree path$`));
    expect(fs.readFileSync(path.join(p.wt, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(git(p.repo, 'rev-parse', 'run/x')).toBe(mainHead(p));
  });
});
