// The fake agents are test infrastructure for integration tests and the demo: check their contract.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnDetached, waitForExit } from '../../core/agents/process.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const TOKEN = '<promise>COMPLETE</promise>';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function g(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function repo(plan: string): { root: string; planPath: string } {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-fix-')));
  dirs.push(root);
  g(root, 'init', '-q', '-b', 'main');
  // The identity `git config` would write, without its two processes.
  fs.appendFileSync(path.join(root, '.git', 'config'), '[user]\n\tname = Test\n\temail = test@example.com\n');
  const planPath = path.join(root, 'specs', 'planning', 'x-plan.md');
  fs.mkdirSync(path.dirname(planPath), { recursive: true });
  fs.writeFileSync(planPath, plan);
  g(root, 'add', '-A');
  g(root, 'commit', '-q', '-m', 'init');
  return { root, planPath };
}

function run(script: string, cwd: string, planPath: string, extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(FIXTURES, script)], {
    cwd,
    input: 'the prompt\n',
    encoding: 'utf8',
    env: { ...process.env, LOOP_PLAN_PATH: planPath, LOOP_RUN_ID: 'run-1', LOOP_ITERATION: '1', LOOP_PHASE: 'implementation', ...extra },
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1] };
}

const PLAN = '# Plan\n\n## Tasks\n- [x] already done\n- [ ] first thing\n- [ ]? manual check\n* [ ] second thing\n\n## Verification\n- [ ] run it\n';

describe('fake-agent.mjs', () => {
  it('does one task per run, commits, and claims completion only at the end', () => {
    const { root, planPath } = repo(PLAN);
    const r1 = run('fake-agent.mjs', root, planPath);
    expect(r1.code).toBe(0);
    expect(r1.stdout).not.toContain(TOKEN);
    expect(fs.readFileSync(path.join(root, 'task-2.txt'), 'utf8')).toContain('first thing');
    expect(fs.readFileSync(planPath, 'utf8')).toContain('- [x] first thing\n- [ ]? manual check\n* [ ] second thing');
    expect(g(root, 'status', '--porcelain')).toBe('');
    expect(g(root, 'rev-list', '--count', 'HEAD').trim()).toBe('2');

    const r2 = run('fake-agent.mjs', root, planPath);
    expect(r2.last).toBe(TOKEN);
    expect(fs.existsSync(path.join(root, 'task-3.txt'))).toBe(true);
    expect(fs.readFileSync(planPath, 'utf8')).toContain('## Verification\n- [ ] run it');

    const r3 = run('fake-agent.mjs', root, planPath);
    expect(r3.last).toBe(TOKEN);
    expect(g(root, 'rev-list', '--count', 'HEAD').trim()).toBe('3');
  });

  it('honours FAKE_EXIT_CODE, FAKE_FALSE_COMPLETE and FAKE_FILE', () => {
    const { root, planPath } = repo(PLAN);
    const failed = run('fake-agent.mjs', root, planPath, { FAKE_EXIT_CODE: '3' });
    expect(failed.code).toBe(3);
    expect(g(root, 'rev-list', '--count', 'HEAD').trim()).toBe('1');

    const liar = run('fake-agent.mjs', root, planPath, { FAKE_FALSE_COMPLETE: '1', FAKE_FILE: 'same.txt' });
    expect(liar.last).toBe(TOKEN);
    expect(fs.readFileSync(planPath, 'utf8')).toContain('* [ ] second thing');
    expect(fs.readFileSync(path.join(root, 'same.txt'), 'utf8')).toContain('run run-1 did task 2');
  });

  it('sleeps with FAKE_SLEEP_MS', () => {
    const { root, planPath } = repo(PLAN);
    const t0 = Date.now();
    run('fake-agent.mjs', root, planPath, { FAKE_SLEEP_MS: '100' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });
});

describe('fake-agent.mjs FAKE_IGNORE_TERM under spawnDetached', () => {
  it('hangs, survives SIGTERM, and still leaves nothing behind after a timeout', async () => {
    const { root, planPath } = repo(PLAN);
    const promptPath = path.join(root, '.git', 'prompt.txt');
    fs.writeFileSync(promptPath, 'p\n');
    const logPath = path.join(root, '.git', 'iter.log');
    const exitPath = path.join(root, '.git', 'iter.exit');
    const h = await spawnDetached({
      shellCommand: `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(FIXTURES, 'fake-agent.mjs'))}`,
      cwd: root,
      env: { LOOP_PLAN_PATH: planPath, FAKE_IGNORE_TERM: '1' },
      stdinPath: promptPath,
      logPath,
      exitPath,
    });
    const deadline = Date.now() + 10000;
    let childPid = 0;
    while (childPid === 0) {
      if (Date.now() > deadline) throw new Error('fake agent never reported its child');
      const m = /child pid (\d+)/.exec(fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '');
      if (m?.[1]) childPid = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 20));
    }
    const r = await waitForExit(h, exitPath, { timeoutMs: 100, graceMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(fs.readFileSync(logPath, 'utf8')).toContain('ignoring SIGTERM');
    const alive = (pid: number): boolean => {
      try {
        const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return raw.slice(raw.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    };
    expect(alive(childPid)).toBe(false);
    expect(alive(h.pid)).toBe(false);
  });
});

describe('demo-agent.mjs', () => {
  it('implements tasks as small real files and finishes with the token', async () => {
    const plan = '# Greeting plan\n\n- [ ] Create greet.js with greet(name)\n- [ ] Add farewell(name) to greet.js\n- [ ] Document usage in README.md\n- [ ] Handle empty names gracefully\n\n## QA\n- [ ] try it by hand\n';
    const { root, planPath } = repo(plan);
    const outputs = [1, 2, 3, 4].map(() => run('demo-agent.mjs', root, planPath));
    expect(outputs.every((o) => o.code === 0)).toBe(true);
    expect(outputs.slice(0, 3).some((o) => o.stdout.includes(TOKEN))).toBe(false);
    expect(outputs[3]?.last).toBe(TOKEN);
    const greet = fs.readFileSync(path.join(root, 'greet.js'), 'utf8');
    expect(greet).toContain('export function greet(');
    expect(greet).toContain('export function farewell(');
    expect(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).toContain('- Document usage in README.md');
    expect(fs.existsSync(path.join(root, 'demo', 'handle-empty-names-gracefully.js'))).toBe(true);
    expect(fs.readFileSync(planPath, 'utf8')).toContain('## QA\n- [ ] try it by hand');
    expect(g(root, 'status', '--porcelain')).toBe('');
    // The generated modules are real, importable JavaScript (imported here: a Node process of its own
    // would prove nothing more, for ~40 ms of CPU).
    const { greet: greetFn, farewell } = (await import(pathToFileURL(path.join(root, 'greet.js')).href)) as Record<string, (n: string) => string>;
    expect(`${greetFn!('a')} ${farewell!('b')}`).toBe('greet: a farewell: b');
    expect(run('demo-agent.mjs', root, planPath).last).toBe(TOKEN);
  });
});
