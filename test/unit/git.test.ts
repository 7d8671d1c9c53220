import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { g, initRepo, tempDirs } from './tmp.js';
import { copyRepo } from '../repo-copy.js';
import {
  GitError,
  branchExists,
  commitAll,
  commitFiles,
  aheadBehind,
  commitLeftovers,
  worktreeStatus,
  commitsSince,
  createWorktree,
  detectBaseBranch,
  diffSince,
  findRepoRoot,
  hasUncommittedChanges,
  headCommit,
  isAncestor,
  listBranches,
  mergeIntoTarget,
  removeWorktree,
  reusableWorktree,
} from '../../core/git.js';

const tmp = tempDirs('loopd-git-');

function write(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** The repo every test starts from, committed once per file (six git processes) and copied after that. */
let template: string | undefined;
afterAll(() => {
  if (template) fs.rmSync(path.dirname(template), { recursive: true, force: true });
});

/** A repo on main with one commit, its own identity, and no reliance on global config. */
function makeRepo(): string {
  if (!template) {
    template = initRepo(path.join(fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-git-template-'))), 'repo'));
    write(path.join(template, 'README.md'), 'hello\n');
    write(path.join(template, 'shared.txt'), 'line 1\nline 2\nline 3\n');
    g(template, 'add', '-A');
    g(template, 'commit', '-q', '-m', 'initial');
  }
  const root = path.join(tmp(), 'repo');
  copyRepo(template, root);
  return root;
}

function ref(root: string, name: string): string {
  return g(root, 'rev-parse', `refs/heads/${name}`).trim();
}

/** Creates a run worktree with one commit per [file, content] pair. */
async function runWithCommits(root: string, branch: string, files: Array<[string, string]>): Promise<string> {
  const wt = path.join(path.dirname(root), `wt-${branch.replace(/\//g, '-')}`);
  await createWorktree({ repoRoot: root, branch, path: wt, base: 'main' });
  for (const [file, content] of files) {
    write(path.join(wt, file), content);
    await commitAll(wt, `edit ${file}`);
  }
  return wt;
}

describe('findRepoRoot', () => {
  it('returns the top level from a subdirectory', async () => {
    const root = makeRepo();
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    expect(await findRepoRoot(path.join(root, 'a', 'b'))).toBe(root);
  });

  it('explains how to fix a directory outside any repo', async () => {
    const d = tmp();
    await expect(findRepoRoot(d)).rejects.toThrow(GitError);
    await expect(findRepoRoot(d)).rejects.toThrow(`${d} is not inside a git repository: run git init there first`);
    await expect(findRepoRoot(path.join(d, 'missing'))).rejects.toThrow(GitError);
  });
});

describe('detectBaseBranch / branches', () => {
  it('prefers the configured branch, else the checked-out one', async () => {
    const root = makeRepo();
    g(root, 'branch', 'develop');
    expect(await detectBaseBranch(root)).toBe('main');
    expect(await detectBaseBranch(root, 'develop')).toBe('develop');
    expect(await detectBaseBranch(root, '  ')).toBe('main');
    g(root, 'checkout', '-q', 'develop');
    expect(await detectBaseBranch(root)).toBe('develop');
  });

  it('rejects a configured branch that does not exist, naming the ones that do', async () => {
    const root = makeRepo();
    await expect(detectBaseBranch(root, 'nope')).rejects.toThrow(/base branch "nope" does not exist.*one of: main/);
  });

  it('falls back to main, then master, on a detached HEAD', async () => {
    const root = makeRepo();
    g(root, 'checkout', '-q', '--detach');
    expect(await detectBaseBranch(root)).toBe('main');
    g(root, 'branch', '-m', 'main', 'master');
    expect(await detectBaseBranch(root)).toBe('master');
    g(root, 'branch', '-m', 'master', 'other');
    await expect(detectBaseBranch(root)).rejects.toThrow(GitError);
  });

  it('rejects a repo with no commits', async () => {
    const root = path.join(tmp(), 'empty');
    fs.mkdirSync(root);
    g(root, 'init', '-q', '-b', 'main');
    await expect(detectBaseBranch(root)).rejects.toThrow('has no commits yet: commit something first');
  });

  it('lists and checks branches', async () => {
    const root = makeRepo();
    g(root, 'branch', 'run/a');
    expect(await branchExists(root, 'run/a')).toBe(true);
    expect(await branchExists(root, 'run/b')).toBe(false);
    expect((await listBranches(root)).sort()).toEqual(['main', 'run/a']);
  });
});

describe('worktrees', () => {
  it('creates a worktree with parent dirs, then reuses it', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'deep', 'nested', 'wt');
    const first = await createWorktree({ repoRoot: root, branch: 'run/x', path: wt, base: 'main' });
    expect(first).toEqual({ path: wt, reused: false, repaired: [] });
    expect(fs.readFileSync(path.join(wt, 'README.md'), 'utf8')).toBe('hello\n');
    expect(g(wt, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('run/x');

    write(path.join(wt, 'work.txt'), 'in progress\n');
    const second = await createWorktree({ repoRoot: root, branch: 'run/x', path: wt, base: 'main' });
    expect(second).toEqual({ path: wt, reused: true, repaired: [] });
    expect(fs.readFileSync(path.join(wt, 'work.txt'), 'utf8')).toBe('in progress\n');
  });

  it('adds a worktree for an existing branch that has none', async () => {
    const root = makeRepo();
    g(root, 'branch', 'run/y');
    const wt = path.join(path.dirname(root), 'wt-y');
    expect(await createWorktree({ repoRoot: root, branch: 'run/y', path: wt, base: 'main' })).toEqual({ path: wt, reused: false, repaired: [] });
    expect(g(wt, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('run/y');
  });

  it('recovers after the worktree directory was deleted by hand', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'wt-gone');
    await createWorktree({ repoRoot: root, branch: 'run/z', path: wt, base: 'main' });
    fs.rmSync(wt, { recursive: true, force: true });
    expect((await createWorktree({ repoRoot: root, branch: 'run/z', path: wt, base: 'main' })).reused).toBe(false);
    expect(fs.existsSync(path.join(wt, 'README.md'))).toBe(true);
  });

  it('refuses a path that is a worktree of another branch', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'wt-a');
    await createWorktree({ repoRoot: root, branch: 'run/a', path: wt, base: 'main' });
    await expect(createWorktree({ repoRoot: root, branch: 'run/b', path: wt, base: 'main' })).rejects.toThrow(/already a worktree on run\/a/);
  });

  it('removes a dirty worktree and its branch, and tolerates it being gone', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'wt-rm');
    await createWorktree({ repoRoot: root, branch: 'run/rm', path: wt, base: 'main' });
    write(path.join(wt, 'dirty.txt'), 'x');
    await removeWorktree(root, wt, { deleteBranch: 'run/rm' });
    expect(fs.existsSync(wt)).toBe(false);
    expect(await branchExists(root, 'run/rm')).toBe(false);
    await removeWorktree(root, wt, { deleteBranch: 'run/rm' });
  });
});

describe('one-process checks of an agent call', () => {
  it('reusableWorktree confirms a live worktree on its branch with its HEAD, and nothing else', async () => {
    const root = makeRepo();
    const wt = path.join(tmp(), 'wt');
    await createWorktree({ repoRoot: root, branch: 'run/a', path: wt, base: 'main' });
    expect(await reusableWorktree(root, 'run/a', wt)).toEqual({ path: wt, head: ref(root, 'run/a') });
    // Another branch, the main checkout, a missing path, a subfolder, another repository: the long route.
    expect(await reusableWorktree(root, 'run/b', wt)).toBeNull();
    expect(await reusableWorktree(root, 'main', root)).toEqual({ path: root, head: ref(root, 'main') });
    expect(await reusableWorktree(root, 'run/a', path.join(tmp(), 'nope'))).toBeNull();
    fs.mkdirSync(path.join(wt, 'sub'));
    expect(await reusableWorktree(root, 'run/a', path.join(wt, 'sub'))).toBeNull();
    const other = makeRepo();
    expect(await reusableWorktree(other, 'run/a', wt)).toBeNull();
  });

  it('worktreeStatus reads HEAD, the branch and leftovers in one process', async () => {
    const root = makeRepo();
    const wt = path.join(tmp(), 'wt');
    await createWorktree({ repoRoot: root, branch: 'run/s', path: wt, base: 'main' });
    const head = await headCommit(wt);
    expect(await worktreeStatus(wt)).toEqual({ head, branch: 'run/s', dirty: false });
    write(path.join(wt, 'new.txt'), 'x\n');
    expect(await worktreeStatus(wt)).toEqual({ head, branch: 'run/s', dirty: true });
    g(wt, 'checkout', '-q', '--detach');
    expect((await worktreeStatus(wt)).branch).toBeNull();
  });

  it('commitLeftovers reads HEAD with the check, and commits only what the agent left', async () => {
    const root = makeRepo();
    const wt = path.join(tmp(), 'wt');
    await createWorktree({ repoRoot: root, branch: 'run/c', path: wt, base: 'main' });
    const start = await headCommit(wt);
    expect(await commitLeftovers(wt, 'nothing')).toEqual({ committed: null, head: start });
    write(path.join(wt, 'agent.txt'), 'committed by the agent\n');
    g(wt, 'add', '-A');
    g(wt, 'commit', '-q', '-m', 'agent');
    const agent = await headCommit(wt);
    expect(await commitLeftovers(wt, 'nothing')).toEqual({ committed: null, head: agent });
    expect(await commitsSince(wt, start, agent)).toBe(1);
    expect(await aheadBehind(wt, start)).toEqual({ ahead: 1, behind: 0 });
    // A rewritten history: the recorded head is no longer an ancestor.
    g(wt, 'reset', '-q', '--hard', start);
    write(path.join(wt, 'other.txt'), 'rewritten\n');
    g(wt, 'add', '-A');
    g(wt, 'commit', '-q', '-m', 'other');
    expect(await aheadBehind(wt, agent)).toEqual({ ahead: 1, behind: 1 });
    g(wt, 'reset', '-q', '--hard', agent);
    expect(await commitsSince(wt, agent, agent)).toBe(0);
    write(path.join(wt, 'left.txt'), 'left behind\n');
    const r = await commitLeftovers(wt, 'leftover');
    expect(r.committed).not.toBeNull();
    expect(r.head).toBe(r.committed);
    expect(await headCommit(wt)).toBe(r.head);
    expect(await hasUncommittedChanges(wt)).toBe(false);
    expect(await commitsSince(wt, start)).toBe(2);
  });
});

describe('commits and diffs', () => {
  it('commits everything including untracked files, and reports nothing to commit', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'wt-c');
    await createWorktree({ repoRoot: root, branch: 'run/c', path: wt, base: 'main' });
    const start = await headCommit(wt);
    expect(await hasUncommittedChanges(wt)).toBe(false);
    expect(await commitAll(wt, 'nothing')).toBeNull();

    write(path.join(wt, 'new', 'file.txt'), 'new\n');
    write(path.join(wt, 'README.md'), 'hello\nworld\n');
    expect(await hasUncommittedChanges(wt)).toBe(true);
    const c = await commitAll(wt, 'work');
    expect(c).toMatch(/^[0-9a-f]{40}$/);
    expect(await headCommit(wt)).toBe(c);
    expect(await hasUncommittedChanges(wt)).toBe(false);
    expect(await commitsSince(wt, start)).toBe(1);
    expect(g(wt, 'log', '-1', '--format=%s').trim()).toBe('work');
    expect(await isAncestor(root, 'main', 'run/c')).toBe(true);
    expect(await isAncestor(root, 'run/c', 'main')).toBe(false);
  });

  it('diffs committed, uncommitted and untracked changes since a commit', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'wt-d');
    await createWorktree({ repoRoot: root, branch: 'run/d', path: wt, base: 'main' });
    const start = await headCommit(wt);
    write(path.join(wt, 'committed.txt'), 'committed\n');
    await commitAll(wt, 'c1');
    write(path.join(wt, 'README.md'), 'hello\nedited\n');
    write(path.join(wt, 'untracked.txt'), 'untracked\n');
    const diff = await diffSince(wt, start);
    expect(diff).toContain('+committed');
    expect(diff).toContain('+edited');
    expect(diff).toContain('+untracked');
    expect(diff).toContain('diff --git');
    expect(await diffSince(wt, await headCommit(wt))).not.toContain('+committed');
  });

  it('diffSince with a clean status skips the untracked listing and gives the same diff; an untracked file alone makes the status dirty', async () => {
    const root = makeRepo();
    const wt = path.join(path.dirname(root), 'wt-c');
    await createWorktree({ repoRoot: root, branch: 'run/c', path: wt, base: 'main' });
    const start = await headCommit(wt);
    write(path.join(wt, 'committed.txt'), 'committed\n');
    await commitAll(wt, 'c1');
    const st = await worktreeStatus(wt);
    expect(st.dirty).toBe(false);
    expect(await diffSince(wt, start, { clean: true })).toBe(await diffSince(wt, start));
    // Known to be exactly HEAD: the same text from the two commits' trees, a rename and a mode change included.
    g(wt, 'mv', 'committed.txt', 'renamed.txt');
    write(path.join(wt, 'tool.sh'), '#!/bin/sh\n');
    fs.chmodSync(path.join(wt, 'tool.sh'), 0o755);
    await commitAll(wt, 'c2');
    expect(await diffSince(wt, start, { clean: true, head: await headCommit(wt) })).toBe(await diffSince(wt, start));
    write(path.join(wt, 'sub', 'untracked.txt'), 'untracked\n');
    expect((await worktreeStatus(wt)).dirty).toBe(true);
  });

  it('commits without any git identity configured anywhere', async () => {
    const root = makeRepo();
    g(root, 'config', '--unset', 'user.name');
    g(root, 'config', '--unset', 'user.email');
    const home = tmp();
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
    process.env.HOME = home;
    process.env.XDG_CONFIG_HOME = path.join(home, '.config');
    try {
      write(path.join(root, 'x.txt'), 'x');
      expect(await commitAll(root, 'anon')).not.toBeNull();
      expect(g(root, 'log', '-1', '--format=%an <%ae>').trim()).toBe('loopd <loopd@localhost>');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
  it("loopd's commits start no `git maintenance`, and its status leaves the index file alone", async () => {
    const root = makeRepo();
    const home = tmp();
    const events = path.join(home, 'trace2.json');
    // trace2 is read only from the global and system config: it records every child git starts.
    write(path.join(home, '.gitconfig'), `[trace2]\n\teventTarget = ${events}\n`);
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
    process.env.HOME = home;
    process.env.XDG_CONFIG_HOME = path.join(home, '.config');
    const maintenance = (): number =>
      fs.existsSync(events) ? fs.readFileSync(events, 'utf8').split('\n').filter((l) => l.includes('"child_start"') && l.includes('"maintenance"')).length : 0;
    try {
      write(path.join(root, 'x.txt'), 'x');
      expect(await commitAll(root, 'all')).not.toBeNull();
      write(path.join(root, 'x.txt'), 'y');
      expect(await commitFiles(root, 'only', ['x.txt'])).not.toBeNull();
      expect(maintenance()).toBe(0);
      // The same commit by plain git does start it: the trace sees it when it happens.
      write(path.join(root, 'x.txt'), 'z');
      execFileSync('git', ['commit', '-q', '-am', 'plain'], { cwd: root, stdio: 'ignore' });
      expect(maintenance()).toBe(1);

      // A tracked file whose stat data no longer matches the index: a status with the optional
      // lock would rewrite the index to record it.
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(path.join(root, 'README.md'), old, old);
      const index = path.join(root, '.git', 'index');
      const before = fs.readFileSync(index);
      expect((await worktreeStatus(root)).dirty).toBe(false);
      expect(fs.readFileSync(index).equals(before)).toBe(true);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

/** Everything about the user's checkout that loopd must not change. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {
    status: g(root, 'status', '--porcelain=v1', '--untracked-files=all'),
    head: g(root, 'symbolic-ref', 'HEAD'),
    headCommit: g(root, 'rev-parse', 'HEAD'),
    staged: g(root, 'diff', '--cached'),
  };
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === '.git') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[`file:${path.relative(root, p)}`] = fs.readFileSync(p).toString('base64');
    }
  };
  walk(root);
  return out;
}

describe('mergeIntoTarget', () => {
  it('squashes into a new target with a trailer, then reports already_merged', async () => {
    const root = makeRepo();
    await runWithCommits(root, 'run/sq', [
      ['a.txt', 'a\n'],
      ['b.txt', 'b\n'],
    ]);
    const mainBefore = ref(root, 'main');
    const opts = { repoRoot: root, runBranch: 'run/sq', target: 'agent/sq', base: 'main', strategy: 'squash' as const, runId: 'run-123', message: 'loopd: sq' };
    const r = await mergeIntoTarget(opts);
    expect(r.status).toBe('merged');
    expect(r.createdTarget).toBe(true);
    expect(ref(root, 'agent/sq')).toBe(r.commit);
    expect(g(root, 'rev-list', '--parents', '-n', '1', 'agent/sq').trim().split(' ')).toEqual([r.commit, mainBefore]);
    expect(g(root, 'log', '-1', '--format=%B', 'agent/sq')).toContain('Loopd-Run: run-123');
    expect(g(root, 'show', 'agent/sq:a.txt')).toBe('a\n');
    expect(g(root, 'show', 'agent/sq:b.txt')).toBe('b\n');
    expect(ref(root, 'main')).toBe(mainBefore);

    const again = await mergeIntoTarget(opts);
    expect(again).toEqual({ status: 'already_merged', createdTarget: false });
    expect(ref(root, 'agent/sq')).toBe(r.commit);
  });

  it('merges with two parents into an existing target, then reports already_merged', async () => {
    const root = makeRepo();
    g(root, 'branch', 'agent/m', 'main');
    const targetBefore = ref(root, 'agent/m');
    await runWithCommits(root, 'run/m', [['m.txt', 'm\n']]);
    const runTip = ref(root, 'run/m');
    const opts = { repoRoot: root, runBranch: 'run/m', target: 'agent/m', base: 'main', strategy: 'merge' as const, runId: 'run-m', message: 'merge run/m' };
    const r = await mergeIntoTarget(opts);
    expect(r).toMatchObject({ status: 'merged', createdTarget: false });
    expect(g(root, 'rev-list', '--parents', '-n', '1', 'agent/m').trim().split(' ')).toEqual([r.commit, targetBefore, runTip]);
    expect(await isAncestor(root, 'run/m', 'agent/m')).toBe(true);
    expect(await mergeIntoTarget(opts)).toEqual({ status: 'already_merged', createdTarget: false });
  });

  it('merges on top of target changes that do not conflict', async () => {
    const root = makeRepo();
    g(root, 'branch', 'agent/t', 'main');
    const other = await runWithCommits(root, 'run/other', [['other.txt', 'other\n']]);
    expect(other).toBeTruthy();
    await mergeIntoTarget({ repoRoot: root, runBranch: 'run/other', target: 'agent/t', base: 'main', strategy: 'squash', runId: 'r1', message: 'm1' });
    await runWithCommits(root, 'run/mine', [['mine.txt', 'mine\n']]);
    const r = await mergeIntoTarget({ repoRoot: root, runBranch: 'run/mine', target: 'agent/t', base: 'main', strategy: 'squash', runId: 'r2', message: 'm2' });
    expect(r.status).toBe('merged');
    expect(g(root, 'ls-tree', '--name-only', 'agent/t').split('\n')).toEqual(expect.arrayContaining(['other.txt', 'mine.txt']));
  });

  it('returns conflicts and leaves both branches untouched', async () => {
    const root = makeRepo();
    await runWithCommits(root, 'run/one', [['shared.txt', 'line 1\nONE\nline 3\n']]);
    await runWithCommits(root, 'run/two', [['shared.txt', 'line 1\nTWO\nline 3\n']]);
    const base = { repoRoot: root, target: 'agent/c', base: 'main', message: 'm' };
    expect((await mergeIntoTarget({ ...base, runBranch: 'run/one', strategy: 'squash', runId: 'one' })).status).toBe('merged');
    const targetBefore = ref(root, 'agent/c');
    const runBefore = ref(root, 'run/two');
    for (const strategy of ['squash', 'merge'] as const) {
      const r = await mergeIntoTarget({ ...base, runBranch: 'run/two', strategy, runId: 'two' });
      expect(r).toEqual({ status: 'conflict', conflicts: ['shared.txt'], createdTarget: false });
    }
    expect(ref(root, 'agent/c')).toBe(targetBefore);
    expect(ref(root, 'run/two')).toBe(runBefore);
  });

  it('reports nothing_to_merge for a run without changes', async () => {
    const root = makeRepo();
    await createWorktree({ repoRoot: root, branch: 'run/idle', path: path.join(path.dirname(root), 'wt-idle'), base: 'main' });
    const r = await mergeIntoTarget({ repoRoot: root, runBranch: 'run/idle', target: 'agent/idle', base: 'main', strategy: 'squash', runId: 'idle', message: 'm' });
    expect(r).toEqual({ status: 'nothing_to_merge', createdTarget: false });
    expect(await branchExists(root, 'agent/idle')).toBe(false);

    // Changes that cancel out leave the tree identical to the target's.
    const wt = await runWithCommits(root, 'run/undo', [['README.md', 'changed\n']]);
    write(path.join(wt, 'README.md'), 'hello\n');
    await commitAll(wt, 'undo');
    g(root, 'branch', 'agent/undo', 'main');
    const r2 = await mergeIntoTarget({ repoRoot: root, runBranch: 'run/undo', target: 'agent/undo', base: 'main', strategy: 'squash', runId: 'undo', message: 'm' });
    expect(r2.status).toBe('nothing_to_merge');
    expect(ref(root, 'agent/undo')).toBe(ref(root, 'main'));
  });

  it("leaves the user's dirty checkout on another branch byte-identical", async () => {
    const root = makeRepo();
    g(root, 'checkout', '-q', '-b', 'feature');
    write(path.join(root, 'README.md'), 'hello\nuser edit, not committed\n');
    write(path.join(root, 'shared.txt'), 'staged edit\n');
    g(root, 'add', 'shared.txt');
    write(path.join(root, 'notes', 'scratch.txt'), 'untracked user file\n');
    const before = snapshot(root);
    expect(before.status).toContain('?? notes/scratch.txt');

    const wt = path.join(path.dirname(root), 'wt-user');
    await createWorktree({ repoRoot: root, branch: 'run/u', path: wt, base: 'main' });
    write(path.join(wt, 'README.md'), 'agent rewrote it\n');
    write(path.join(wt, 'agent.txt'), 'agent\n');
    await commitAll(wt, 'agent work');
    for (const [strategy, target] of [['squash', 'agent/u1'], ['merge', 'agent/u2']] as const) {
      const r = await mergeIntoTarget({ repoRoot: root, runBranch: 'run/u', target, base: 'main', strategy, runId: `u-${strategy}`, message: 'm' });
      expect(r.status).toBe('merged');
    }
    // A merge into main itself also works: it is not checked out anywhere now.
    const intoMain = await mergeIntoTarget({ repoRoot: root, runBranch: 'run/u', target: 'main', base: 'main', strategy: 'squash', runId: 'u-main', message: 'm' });
    expect(intoMain.status).toBe('merged');

    expect(snapshot(root)).toEqual(before);
  });

  it('refuses a target that is checked out, without touching anything', async () => {
    const root = makeRepo();
    await runWithCommits(root, 'run/co', [['co.txt', 'co\n']]);
    write(path.join(root, 'README.md'), 'dirty\n');
    const before = snapshot(root);
    const mainBefore = ref(root, 'main');
    await expect(
      mergeIntoTarget({ repoRoot: root, runBranch: 'run/co', target: 'main', base: 'main', strategy: 'squash', runId: 'co', message: 'm' }),
    ).rejects.toThrow(`merge target "main" is checked out at ${root}; loopd never changes a checkout: pick another merge_target_branch or check out a different branch there`);
    expect(ref(root, 'main')).toBe(mainBefore);
    expect(snapshot(root)).toEqual(before);
  });

  it('fails clearly when the run branch is gone', async () => {
    const root = makeRepo();
    await expect(
      mergeIntoTarget({ repoRoot: root, runBranch: 'run/none', target: 'agent/n', base: 'main', strategy: 'squash', runId: 'n', message: 'm' }),
    ).rejects.toThrow(GitError);
  });
});
