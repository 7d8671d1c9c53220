// The launchers' Node version check, as a pure decision and as real processes on an old Node.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// Plain JS (it must parse on old Node), imported as is.
import { bundledNodePath, isInstalled, isSupportedNode, parseNodeVersion, planLaunch } from '../../bin/launcher.js';

const repo = resolve(import.meta.dirname, '..', '..');
const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'loopd-launcher-'));
  temps.push(d);
  return d;
}

describe('version check', () => {
  it('parses node versions with or without the v', () => {
    expect(parseNodeVersion('24.21.0')).toEqual([24, 21, 0]);
    expect(parseNodeVersion('v20.20.2')).toEqual([20, 20, 2]);
    expect(parseNodeVersion('24.15.0-pre')).toEqual([24, 15, 0]);
    expect(parseNodeVersion('garbage')).toBeNull();
  });

  it('accepts 24.15 and later, rejects earlier', () => {
    expect(isSupportedNode('24.15.0')).toBe(true);
    expect(isSupportedNode('24.21.0')).toBe(true);
    expect(isSupportedNode('25.0.0')).toBe(true);
    expect(isSupportedNode('24.14.9')).toBe(false);
    expect(isSupportedNode('22.22.0')).toBe(false);
    expect(isSupportedNode('20.20.2')).toBe(false);
    expect(isSupportedNode('nonsense')).toBe(false);
  });

  it('runs in place on a new enough Node', () => {
    expect(planLaunch({ version: '24.21.0', pkgRoot: '/pkg', exists: () => false })).toEqual({ action: 'run' });
  });

  it('relaunches with the bundled Node when it is installed', () => {
    const node = bundledNodePath('/pkg');
    expect(node).toBe(join('/pkg', 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node'));
    expect(planLaunch({ version: '20.20.2', pkgRoot: '/pkg', exists: (p) => p === node })).toEqual({ action: 'relaunch', node });
  });

  it('fails with one clear line when the bundled Node is missing', () => {
    const plan = planLaunch({ version: '20.20.2', pkgRoot: '/pkg', exists: () => false });
    expect(plan).toEqual({
      action: 'fail',
      message:
        'loopd needs Node >= 24.15.0 (found v20.20.2); run npm ci in /pkg to install the bundled Node 24, or put Node 24 on PATH',
    });
  });

  it('tells the user of an installed package to install Node 24, not to run npm ci', () => {
    expect(isInstalled('/pkg', (p) => p === join('/pkg', 'tsconfig.json'))).toBe(false);
    expect(isInstalled('/pkg', () => false)).toBe(true);
    const plan = planLaunch({ version: '20.20.2', pkgRoot: '/pkg', exists: () => false, installed: true });
    expect(plan).toEqual({
      action: 'fail',
      message:
        'loopd needs Node >= 24.15.0 (found v20.20.2); install Node 24 (https://nodejs.org/en/download, or "nvm install 24") and put it first on PATH',
    });
  });

  it('does not relaunch twice (a bundled Node that is itself too old)', () => {
    const plan = planLaunch({ version: '24.1.0', pkgRoot: '/pkg', exists: () => true, relaunched: true });
    expect(plan.action).toBe('fail');
  });
});

/** A Node older than 24.15 on this machine (the system one), to exercise the real hand-over. */
function findOldNode(): string | null {
  for (const p of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(p)) continue;
    try {
      const v = execFileSync(p, ['--version'], { encoding: 'utf8' }).trim();
      if (!isSupportedNode(v)) return p;
    } catch {
      // Not runnable; try the next.
    }
  }
  return null;
}
const oldNode = findOldNode();

describe.skipIf(!oldNode)('launcher processes on an old Node', () => {
  /** A package root with the launchers and no bundled Node; a checkout has a tsconfig.json. */
  function bareRoot(checkout: boolean): string {
    const root = tempDir();
    mkdirSync(join(root, 'bin'));
    for (const f of ['launcher.js', 'loopctl.js', 'loopctl']) copyFileSync(join(repo, 'bin', f), join(root, 'bin', f));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    if (checkout) writeFileSync(join(root, 'tsconfig.json'), '{}');
    return root;
  }

  it('prints the one-line error and exits 1 when the bundled Node is missing', () => {
    const root = bareRoot(true);
    const r = spawnSync(oldNode as string, [join(root, 'bin', 'loopctl.js'), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(
      new RegExp(`^loopd needs Node >= 24\\.15\\.0 \\(found v\\d+\\.\\d+\\.\\d+\\); run npm ci in ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to install the bundled Node 24, or put Node 24 on PATH$`),
    );
  });

  it('bin/loopctl of an installed package on an old Node: one line naming the version and how to get it', () => {
    const root = bareRoot(false);
    const r = spawnSync(join(root, 'bin', 'loopctl'), ['list'], { encoding: 'utf8', env: { ...process.env, PATH: `${dirname(oldNode as string)}:/usr/bin:/bin` } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^loopd needs Node >= 24\.15\.0 \(found v\d+\.\d+\.\d+\); install Node 24 \(https:\/\/nodejs\.org\/en\/download, or "nvm install 24"\) and put it first on PATH\n$/);
  });

  it('bin/loopctl reached through a symlink runs the bundled Node directly, whatever node is first on PATH', () => {
    const link = join(tempDir(), 'loopctl');
    symlinkSync(join(repo, 'bin', 'loopctl'), link);
    const r = spawnSync(link, ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: `${dirname(oldNode as string)}:/usr/bin:/bin` } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`node-v${execFileSync(bundledNodePath(repo), ['--version'], { encoding: 'utf8' }).trim().slice(1)}`);
  });

  it('relaunches loopd under the bundled Node, forwarding args and the exit code', () => {
    const root = tempDir();
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'dist', 'bundle'), { recursive: true });
    for (const f of ['launcher.js', 'loopd.js']) copyFileSync(join(repo, 'bin', f), join(root, 'bin', f));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
    // A stand-in daemon entry: reports where it runs, and fails on request.
    writeFileSync(
      join(root, 'dist', 'bundle', 'loopd.js'),
      `export async function main(argv) {
        if (argv.includes('--boom')) throw new Error('boom');
        console.log(JSON.stringify({ node: process.versions.node, argv, execArgv: process.execArgv }));
      }\n`,
    );
    const ok = spawnSync(oldNode as string, [join(root, 'bin', 'loopd.js'), '--addr', '127.0.0.1:0'], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const seen = JSON.parse(ok.stdout) as { node: string; argv: string[]; execArgv: string[] };
    expect(isSupportedNode(seen.node)).toBe(true);
    expect(seen.argv).toEqual(['--addr', '127.0.0.1:0']);
    expect(seen.execArgv).toContain('--disable-warning=ExperimentalWarning');

    const bad = spawnSync(oldNode as string, [join(root, 'bin', 'loopd.js'), '--boom'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('loopd: boom');
  });
});

describe('loopd without its bundle', () => {
  it('says in one line that it is not built and where to build it', () => {
    const root = tempDir();
    mkdirSync(join(root, 'bin'));
    for (const f of ['launcher.js', 'loopd.js']) copyFileSync(join(repo, 'bin', f), join(root, 'bin', f));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    // The per-module build alone is not enough: the daemon process runs from dist/bundle/loopd.js.
    mkdirSync(join(root, 'dist', 'host'), { recursive: true });
    writeFileSync(join(root, 'dist', 'host', 'main.js'), 'export async function main() { console.log("unbundled"); }\n');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'loopd.js'), '--version'], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`loopd is not built: run npm run build in ${root}\n`);
    expect(r.status).toBe(1);
  });
});
