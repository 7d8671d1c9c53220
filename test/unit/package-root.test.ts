// The package root is the same whether the code runs from the sources, the compiled modules in
// dist/ or the daemon's bundle in dist/bundle/, so every file shipped beside the code is found.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { installedPath, packageRoot } from '../../core/package-root.js';

const repo = resolve(import.meta.dirname, '..', '..');

describe('packageRoot', () => {
  it('is the repository root from the sources, and installedPath joins onto it', () => {
    expect(packageRoot()).toBe(repo);
    expect(installedPath('migrations', '0001_init.sql')).toBe(join(repo, 'migrations', '0001_init.sql'));
    expect(existsSync(installedPath('migrations', '0001_init.sql'))).toBe(true);
  });

  it('is the same root from the compiled module in dist/core/', async () => {
    const compiled = join(repo, 'dist', 'core', 'package-root.js');
    expect(existsSync(compiled), 'run npm run build').toBe(true);
    const m = (await import(pathToFileURL(compiled).href)) as typeof import('../../core/package-root.js');
    expect(m.packageRoot()).toBe(repo);
  });

  it("is the same root from the daemon's bundle: its version is package.json's", () => {
    const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    const out = execFileSync(process.execPath, [join(repo, 'bin', 'loopd.js'), '--version'], { encoding: 'utf8' });
    expect(out).toBe(`${version}\n`);
  });
});
