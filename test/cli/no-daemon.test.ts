// loopctl with no daemon listening: a one-line "not running" error and exit 1, never a stack.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Errors } from '@oclif/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import Pause from '../../cli/commands/pause.js';
import Prompt from '../../cli/commands/prompt.js';
import Resume from '../../cli/commands/resume.js';
import Run from '../../cli/commands/run.js';
import { closedPort, repoRoot, requireFreshBuild } from './helpers.js';

requireFreshBuild();

let home: string;
let work: string;
let addr: string;
const saved = { LOOPD_ADDR: process.env.LOOPD_ADDR, LOOPD_HOME: process.env.LOOPD_HOME, LOOPD_AUTH_TOKEN: process.env.LOOPD_AUTH_TOKEN };

beforeEach(async () => {
  home = mkdtempSync(join(tmpdir(), 'loopd-home-'));
  work = mkdtempSync(join(tmpdir(), 'loopd-work-'));
  writeFileSync(join(work, 'spec.md'), '# spec\n');
  addr = `127.0.0.1:${await closedPort()}`;
  process.env.LOOPD_ADDR = addr;
  process.env.LOOPD_HOME = home;
  delete process.env.LOOPD_AUTH_TOKEN;
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  vi.restoreAllMocks();
});

const expected = (a: string) =>
  `loopd is not running at http://${a}: start it with "loopctl daemon start" (or "npx loopctl daemon start" from the loopd repo)`;

/** Runs a command class in-process and returns what it wrote to stderr/stdout and its exit code. */
async function runInProcess(
  argv: string[],
  command: { run(argv: string[], root: string): Promise<unknown> } = Run,
): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    await command.run(argv, repoRoot);
    return { code: 0, stderr, stdout };
  } catch (err) {
    if (err instanceof Errors.ExitError) return { code: err.oclif.exit ?? 1, stderr, stdout };
    throw err;
  } finally {
    vi.restoreAllMocks();
  }
}

describe('loopctl run without a daemon', () => {
  it('says the daemon is not running and how to start it', async () => {
    const r = await runInProcess([join(work, 'spec.md')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: ${expected(addr)}\n`);
  });

  it('prints the error as JSON with --json', async () => {
    const r = await runInProcess([join(work, 'spec.md'), '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: expected(addr) });
  });

  it('checks the spec locally before contacting the daemon', async () => {
    const r = await runInProcess([join(work, 'missing.md')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: spec file not found: ${join(work, 'missing.md')}\n`);
  });

  it('checks the plan locally too', async () => {
    const r = await runInProcess([join(work, 'spec.md'), join(work, 'nope-plan.md')]);
    expect(r.stderr).toBe(`Error: plan file not found: ${join(work, 'nope-plan.md')}\n`);
  });

  // The real binary; needs `npm run build` to be current (npm test builds first).
  it('bin/loopctl.js gives the same one line', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'loopctl.js'), 'run', 'spec.md'], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, LOOPD_ADDR: addr, LOOPD_HOME: home },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`Error: ${expected(addr)}\n`);
    expect(r.stdout).toBe('');
  });
});

describe('other commands without a daemon', () => {
  it('prompt, pause and resume give the same one line', async () => {
    for (const [command, argv] of [
      [Prompt, [join(work, 'spec.md'), '--no-reviewer', '--set', 'claude_retries=0']],
      [Pause, ['some-run']],
      [Resume, ['some-run']],
    ] as const) {
      const r = await runInProcess([...argv], command);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Error: ${expected(addr)}\n`);
      expect(r.stdout).toBe('');
    }
  });

  it('a malformed --set fails locally, in one line', async () => {
    const r = await runInProcess([join(work, 'spec.md'), '--set', 'reviewer'], Prompt);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: --set "reviewer": expected KEY=VALUE, e.g. --set verify_timeout_sec=120\n');
  });

  it('flag errors are one line too', async () => {
    const r = await runInProcess([join(work, 'spec.md'), '--worktree-provider', 'svn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('Error: Expected --worktree-provider=svn to be one of: auto, git, worktrunk (see --help)\n');
    const missing = await runInProcess([], Prompt);
    expect(missing.stderr).toBe('Error: missing argument SPEC (see --help)\n');
  });
});
