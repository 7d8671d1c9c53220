// `loopctl init` logic in a temporary git repository.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderDefaultConfigFile } from '../../core/config.js';
import { ignoresLogDir, initWorkspace } from '../../cli/init.js';
import { loopctl, repoRoot, requireFreshBuild } from './helpers.js';

requireFreshBuild();

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'loopd-init-')));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function gitInit(root: string): void {
  execFileSync('git', ['init', '-q', root]);
}

describe('initWorkspace', () => {
  it('creates config, plans dir and the .gitignore entry at the repo root, from a subdirectory', async () => {
    gitInit(dir);
    mkdirSync(join(dir, 'src', 'deep'), { recursive: true });
    const res = await initWorkspace(join(dir, 'src', 'deep'));

    expect(res.root).toBe(dir);
    expect(res.steps.map((s) => [s.path, s.action])).toEqual([
      ['.loop/config', 'created'],
      ['specs/planning/', 'created'],
      ['.gitignore', 'created'],
    ]);
    expect(readFileSync(join(dir, '.loop', 'config'), 'utf8')).toBe(renderDefaultConfigFile());
    expect(readdirSync(join(dir, 'specs'))).toEqual(['planning']);
    expect(readdirSync(join(dir, 'specs', 'planning'))).toEqual([]);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('logs/loop/\n');
    expect(existsSync(join(dir, 'src', 'deep', '.loop'))).toBe(false);
  });

  it('is idempotent and never overwrites an existing config', async () => {
    gitInit(dir);
    mkdirSync(join(dir, '.loop'));
    writeFileSync(join(dir, '.loop', 'config'), 'iterations=3\n');
    writeFileSync(join(dir, '.gitignore'), 'node_modules/');

    const first = await initWorkspace(dir);
    expect(first.steps.map((s) => [s.path, s.action])).toEqual([
      ['.loop/config', 'skipped'],
      ['specs/planning/', 'created'],
      ['.gitignore', 'updated'],
    ]);
    expect(readFileSync(join(dir, '.loop', 'config'), 'utf8')).toBe('iterations=3\n');
    // The missing final newline is repaired rather than glued onto the last pattern.
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\nlogs/loop/\n');

    const second = await initWorkspace(dir);
    expect(second.steps.every((s) => s.action === 'skipped')).toBe(true);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\nlogs/loop/\n');
  });

  it('fails clearly outside a git repository', async () => {
    await expect(initWorkspace(dir)).rejects.toThrow(/not inside a git repository/);
    expect(existsSync(join(dir, '.loop'))).toBe(false);
  });
});

describe('loopctl init', () => {
  it('reports what it created, then what it skipped (in this process, by bin/loopctl.js\'s route)', async () => {
    gitInit(dir);
    const run = () => loopctl(['init'], { cwd: dir, env: process.env });
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/created +\.loop\/config/);
    expect(first.stdout).toMatch(/created +specs\/planning\//);
    const second = await run();
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/skipped +\.loop\/config +already exists/);
  });

  it('fails with one line outside a repository (the built binary)', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'loopctl.js'), 'init'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^Error: .*not inside a git repository/);
  });
});

describe('ignoresLogDir', () => {
  it('recognises patterns that already cover logs/loop/', () => {
    for (const text of ['logs/loop/', '/logs/loop', 'logs/', 'logs', '/logs/**', '# x\nlogs/loop/\n']) {
      expect(ignoresLogDir(text)).toBe(true);
    }
    for (const text of ['', '*.log', 'logs/other/', '# logs/loop/', '!logs/loop/']) {
      expect(ignoresLogDir(text)).toBe(false);
    }
  });
});
