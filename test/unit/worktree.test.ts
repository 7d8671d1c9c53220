import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { g, initRepo, tempDirs } from './tmp.js';
import { chooseProvider, ensureRunWorktree, findOnPath, removeRunWorktree } from '../../core/worktree.js';

const WT_STUB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'wt-stub.sh');

const tmp = tempDirs('loopd-wt-');

/** A repo on main with one commit and an uncommitted edit, so "untouched" is checkable. */
function makeRepo(): string {
  const root = initRepo(path.join(tmp(), 'repo'));
  fs.writeFileSync(path.join(root, 'README.md'), 'hello\n');
  g(root, 'add', '-A');
  g(root, 'commit', '-q', '-m', 'initial');
  fs.writeFileSync(path.join(root, 'README.md'), 'hello, uncommitted\n');
  return root;
}

function checkoutState(root: string): { head: string; branch: string; status: string; readme: string } {
  return {
    head: g(root, 'rev-parse', 'HEAD').trim(),
    branch: g(root, 'symbolic-ref', '--short', 'HEAD').trim(),
    status: g(root, 'status', '--porcelain'),
    readme: fs.readFileSync(path.join(root, 'README.md'), 'utf8'),
  };
}

/** A bin dir holding the wt stub, and an env with it first on PATH (process.env is left alone). */
function stubEnv(): { env: NodeJS.ProcessEnv; log: string; bin: string } {
  const bin = path.join(tmp(), 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(WT_STUB, path.join(bin, 'wt'));
  return { env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` }, log: path.join(bin, 'wt-calls.log'), bin };
}

/** PATH without any real wt, so these tests do not depend on the machine. */
function envWithoutWt(): NodeJS.ProcessEnv {
  const dirsOnPath = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '' && !fs.existsSync(path.join(d, 'wt')));
  return { ...process.env, PATH: dirsOnPath.join(path.delimiter) };
}

function calls(log: string): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : [];
}

describe('findOnPath', () => {
  it('finds an executable and skips non-executable files and directories', () => {
    const a = tmp();
    const b = tmp();
    fs.writeFileSync(path.join(a, 'tool'), '#!/bin/sh\n'); // not executable
    fs.mkdirSync(path.join(a, 'dirtool'));
    fs.writeFileSync(path.join(b, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    const env = { PATH: ['', a, b].join(path.delimiter) };
    expect(findOnPath('tool', env)).toBe(path.join(b, 'tool'));
    expect(findOnPath('dirtool', env)).toBeNull();
    expect(findOnPath('nope', env)).toBeNull();
    expect(findOnPath('tool', {})).toBeNull();
  });

  it('treats a name with a slash as a path', () => {
    const a = tmp();
    fs.writeFileSync(path.join(a, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findOnPath(path.join(a, 'tool'), { PATH: '' })).toBe(path.join(a, 'tool'));
  });
});

describe('chooseProvider', () => {
  it('auto picks worktrunk when wt is on PATH, git otherwise, and says why', () => {
    const { env, bin } = stubEnv();
    const withWt = chooseProvider('auto', env);
    expect(withWt.provider).toBe('worktrunk');
    expect(withWt.reason).toContain(path.join(bin, 'wt'));

    const without = chooseProvider('auto', envWithoutWt());
    expect(without.provider).toBe('git');
    expect(without.reason).toMatch(/not on PATH/);
  });

  it('git is always git', () => {
    expect(chooseProvider('git', stubEnv().env).provider).toBe('git');
  });

  it('worktrunk without wt on PATH is a clear error', () => {
    expect(() => chooseProvider('worktrunk', envWithoutWt())).toThrow(
      'worktree_provider=worktrunk but "wt" is not on PATH: install worktrunk or use worktree_provider=git (or auto)',
    );
    expect(chooseProvider('worktrunk', stubEnv().env).provider).toBe('worktrunk');
  });
});

describe('ensureRunWorktree / removeRunWorktree with worktrunk', () => {
  it('creates through wt, reuses without calling it again, and removes through wt', async () => {
    const root = makeRepo();
    const before = checkoutState(root);
    const { env, log } = stubEnv();
    const planned = path.join(path.dirname(root), 'somewhere-else');
    const expected = `${root}.run-fast-cache`; // the stub's (worktrunk's default) template

    const first = await ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/fast-cache', path: planned, base: 'main', env });
    expect(first).toEqual({ path: expected, reused: false, repaired: [] });
    expect(fs.existsSync(path.join(expected, 'README.md'))).toBe(true);
    expect(g(expected, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('run/fast-cache');
    expect(fs.existsSync(planned)).toBe(false);
    expect(calls(log)).toEqual(['switch --create run/fast-cache --base main --no-hooks --yes']);

    const second = await ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/fast-cache', path: planned, base: 'main', env });
    expect(second).toEqual({ path: expected, reused: true, repaired: [] });
    expect(calls(log)).toHaveLength(1);

    await removeRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/fast-cache', path: planned, env });
    expect(calls(log)[1]).toBe('remove --foreground --force --no-delete-branch --no-hooks --yes run/fast-cache');
    expect(fs.existsSync(expected)).toBe(false);
    expect(g(root, 'branch', '--list', 'run/fast-cache').trim()).not.toBe('');

    // Already gone: nothing to do, wt is not called.
    await removeRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/fast-cache', path: planned, env });
    expect(calls(log)).toHaveLength(2);

    expect(checkoutState(root)).toEqual(before);
  });

  it('re-adds a worktree for a branch that outlived its worktree, without --create', async () => {
    const root = makeRepo();
    const { env, log } = stubEnv();
    g(root, 'branch', 'run/kept', 'main');
    const r = await ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/kept', path: '/unused', base: 'main', env });
    expect(r).toEqual({ path: `${root}.run-kept`, reused: false, repaired: [] });
    expect(calls(log)).toEqual(['switch run/kept --no-hooks --yes']);
  });

  it('prunes a worktree whose directory was deleted by hand, then creates it again', async () => {
    const root = makeRepo();
    const { env, log } = stubEnv();
    const first = await ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/x', path: '/unused', base: 'main', env });
    fs.rmSync(first.path, { recursive: true, force: true });
    const again = await ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/x', path: '/unused', base: 'main', env });
    expect(again).toEqual({ path: first.path, reused: false, repaired: [] });
    expect(calls(log)[1]).toBe('switch run/x --no-hooks --yes');
  });

  it("reports wt's stderr when it fails", async () => {
    const root = makeRepo();
    const { env } = stubEnv();
    await expect(
      ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/y', path: '/unused', base: 'main', env: { ...env, WT_STUB_FAIL: '1' } }),
    ).rejects.toThrow(/wt switch --create run\/y .*exited with code 1[\s\S]*failing on purpose/);
  });

  it('never hands out the main checkout, even when the branch is checked out there', async () => {
    const root = makeRepo();
    const { env, log } = stubEnv();
    await expect(ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'main', path: '/unused', base: 'main', env })).rejects.toThrow(
      /main checkout/,
    );
    await expect(removeRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'main', path: root, env })).rejects.toThrow(/main checkout/);
    expect(calls(log)).toEqual([]);
    expect(fs.existsSync(root)).toBe(true);
  });

  it('checks the base branch before calling wt', async () => {
    const root = makeRepo();
    const { env, log } = stubEnv();
    await expect(ensureRunWorktree({ provider: 'worktrunk', repoRoot: root, branch: 'run/z', path: '/unused', base: 'nope', env })).rejects.toThrow(
      /base branch "nope" does not exist/,
    );
    expect(calls(log)).toEqual([]);
  });
});

describe('ensureRunWorktree / removeRunWorktree with git', () => {
  it('uses the planned path, reuses it, and never calls wt', async () => {
    const root = makeRepo();
    const before = checkoutState(root);
    const { env, log } = stubEnv();
    const planned = path.join(path.dirname(root), 'repo.run-plain');
    expect(await ensureRunWorktree({ provider: 'git', repoRoot: root, branch: 'run/plain', path: planned, base: 'main', env })).toEqual({
      path: planned,
      reused: false,
      repaired: [],
    });
    expect(await ensureRunWorktree({ provider: 'git', repoRoot: root, branch: 'run/plain', path: planned, base: 'main', env })).toEqual({
      path: planned,
      reused: true,
      head: g(root, 'rev-parse', 'run/plain').trim(),
      repaired: [],
    });
    await removeRunWorktree({ provider: 'git', repoRoot: root, branch: 'run/plain', path: planned, env });
    await removeRunWorktree({ provider: 'git', repoRoot: root, branch: 'run/plain', path: planned, env });
    expect(fs.existsSync(planned)).toBe(false);
    expect(g(root, 'branch', '--list', 'run/plain').trim()).not.toBe('');
    expect(calls(log)).toEqual([]);
    expect(checkoutState(root)).toEqual(before);
  });
});
