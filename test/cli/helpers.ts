import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** A port nothing listens on: bind to 0, note it, close. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * When `out` (a file tsc wrote into dist/) was last known current: its own mtime, or the end of the
 * last tsc -b build (dist/tsconfig.tsbuildinfo), whichever is later. tsc -b does not rewrite an
 * output whose source was touched without changing, so the build info is what says it is current.
 */
function compiledAt(out: string): number {
  const info = join(repoRoot, 'dist', 'tsconfig.tsbuildinfo');
  return Math.max(statSync(out).mtimeMs, existsSync(info) ? statSync(info).mtimeMs : 0);
}

/**
 * True when dist/ and the oclif manifest exist and no cli/ source is newer than its compiled file,
 * so tests that spawn bin/loopctl.js exercise the current code (a stale manifest runs stale code).
 */
export function builtCliIsFresh(): boolean {
  const manifest = join(repoRoot, 'oclif.manifest.json');
  if (!existsSync(manifest)) return false;
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  for (const src of walk(join(repoRoot, 'cli'))) {
    const out = join(repoRoot, 'dist', relative(repoRoot, src)).replace(/\.ts$/, '.js');
    if (!existsSync(out) || compiledAt(out) < statSync(src).mtimeMs) return false;
    if (statSync(manifest).mtimeMs < statSync(src).mtimeMs) return false;
  }
  return true;
}

/**
 * True when every TypeScript source of the daemon and the CLI (cli, host, router, core, functions,
 * triggers) has a compiled file in dist/ at least as new, and the oclif manifest is current: tests
 * that start a real daemon through bin/loopctl.js then exercise the current code.
 */
export function builtDaemonIsFresh(): boolean {
  if (!builtCliIsFresh()) return false;
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
        )
      : [];
  for (const top of ['host', 'router', 'core', 'functions', 'triggers']) {
    for (const src of walk(join(repoRoot, top))) {
      const out = join(repoRoot, 'dist', relative(repoRoot, src)).replace(/\.ts$/, '.js');
      if (!existsSync(out) || compiledAt(out) < statSync(src).mtimeMs) return false;
    }
  }
  return true;
}

export interface LoopctlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/loopctl.js with exactly `env` (plus nothing inherited), in `cwd`. */
export function runLoopctl(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<LoopctlResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'loopctl.js'), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** True when dist/dashboard was built after every file of the dashboard's source was last changed. */
export function builtDashboardIsFresh(): boolean {
  const built = join(repoRoot, 'dist', 'dashboard', 'index.html');
  if (!existsSync(built)) return false;
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const builtAt = statSync(built).mtimeMs;
  return walk(join(repoRoot, 'dashboard')).every((src) => statSync(src).mtimeMs <= builtAt);
}

/**
 * Fails the test file loudly when the compiled daemon or CLI (and with `dashboard`, the dashboard)
 * is missing or older than its source: every test file that runs anything from dist/ calls this at
 * load, because a test that silently skipped on a stale build would pass while testing nothing.
 */
export function requireFreshBuild(opts: { dashboard?: boolean } = {}): void {
  if (!builtDaemonIsFresh() || (opts.dashboard && !builtDashboardIsFresh())) {
    throw new Error('the build in dist/ is missing or older than the source: run npm run build');
  }
}

/**
 * Ends the daemon a test started in `home`: `loopctl daemon stop` first, and when its daemon.json is
 * still there (the stop failed), SIGKILL by the recorded pid.
 */
export async function stopTestDaemon(home: string, stop: () => Promise<unknown>): Promise<void> {
  const info = join(home, 'daemon.json');
  if (!existsSync(info)) return;
  await stop().catch(() => undefined);
  if (!existsSync(info)) return;
  try {
    process.kill((JSON.parse(readFileSync(info, 'utf8')) as { pid: number }).pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
