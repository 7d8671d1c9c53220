// loopctl end to end, as a new user meets it: a real daemon started with `loopctl daemon start`
// (temp LOOPD_HOME, its own port), a temp git repository, the fake agent, and nothing to go on but
// what the commands print and their exit codes. Needs a current build (npm test builds first).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail, RunView, WorkspaceView } from '../../router/index.js';
import {
  closedPort,
  followLoopctl,
  loopctl as inProcess,
  type LoopctlResult as Result,
  repoRoot,
  requireFreshBuild,
  runLoopctl,
  stopTestDaemon,
  until,
} from './helpers.js';

requireFreshBuild();

// The sh fake agent (fake-agent.mjs's behaviour and output, test/unit/fake-agent-sh.test.ts): what the
// agent is written in is not what this file tests, and a Node start per agent call costs 50-80 ms of CPU.
const FAKE_AGENT = join(repoRoot, 'test', 'fixtures', 'fake-agent.sh');

let base = '';
let repo = '';
let home = '';
let outside = '';
let env: NodeJS.ProcessEnv = {};

// The daemon is a real process throughout (started, restarted and stopped by loopctl). The commands
// run in this process by the route bin/loopctl.js takes (fast path, then oclif), except where the
// loopctl process itself is what a user meets: daemon start/restart/stop/status, one bad input of
// each kind (exit code and one-line stderr of a whole process), and the -f follower ended by Ctrl-C.

/** loopctl as a shell would run it: in `cwd` (default: the repo), with the test's environment; in this process. */
function loopctl(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return inProcess(args, { cwd: opts.cwd ?? repo, env: { ...env, ...opts.env } });
}

/** The same through bin/loopctl.js, its own process. */
function binLoopctl(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return runLoopctl(args, { cwd: opts.cwd ?? repo, env: { ...env, ...opts.env } });
}

/** One line on stderr, an error, and no stack. */
function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).not.toBe(0);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^Error: /);
  expect(r.stderr).toMatch(pattern);
}

function write(rel: string, content: string): void {
  mkdirSync(dirname(join(repo, rel)), { recursive: true });
  writeFileSync(join(repo, rel), content);
}

function git(...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: repo, stdio: 'ignore' });
}

async function listRuns(): Promise<RunView[]> {
  const r = await loopctl(['list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RunView[];
}

function plan(n: number): string {
  return `# Plan\n\n## Tasks\n${Array.from({ length: n }, (_, i) => `- [ ] task ${i + 1}`).join('\n')}\n\n## Verification\n- [ ] run it\n`;
}

describe('loopctl end to end with a real daemon', () => {
  let runId = '';
  let runName = '';

  beforeAll(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'loopd-e2e-')));
    // Worktrees go beside the repository, so inside base too.
    repo = join(base, 'app');
    home = join(base, 'home');
    outside = join(base, 'elsewhere');
    mkdirSync(repo);
    mkdirSync(outside);
    writeFileSync(join(outside, 'stray.md'), '# not in any repository\n');

    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    write('README.md', '# app\n');
    write('.gitignore', 'logs/loop/\n');
    write('specs/demo.md', '# Demo\n\nBuild the demo.\n');
    write('specs/planning/demo-plan.md', plan(2));
    write('.loop/config', `agent=command\nagent_cmd="sh ${FAKE_AGENT}"\n`);
    git('add', '-A');
    git('commit', '-q', '-m', 'init');

    env = { ...process.env, LOOPD_HOME: home, LOOPD_ADDR: `127.0.0.1:${await closedPort()}` };
    for (const k of ['LOOPD_AUTH_TOKEN', 'LOOP_CONFIG', 'XDG_DATA_HOME', 'FORCE_COLOR']) delete env[k];

    const r = await binLoopctl(['daemon', 'start']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loopd started \(pid \d+\) on http:\/\/127\.0\.0\.1:\d+\n$/);
  });

  afterAll(async () => {
    if (!home) return;
    await stopTestDaemon(home, () => binLoopctl(['daemon', 'stop']));
    rmSync(base, { recursive: true, force: true });
  });

  it('run --wait follows the run to COMPLETED and exits 0', async () => {
    const r = await loopctl(['run', 'specs/demo.md', '--wait']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const created = /^run (\S+) \((\S+)\) created: branch (\S+), worktree (\S+)$/m.exec(r.stdout);
    expect(created, r.stdout).not.toBeNull();
    runId = created?.[1] ?? '';
    runName = created?.[2] ?? '';
    expect(r.stdout).toMatch(/RUN_COMPLETED/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(`^run ${runId} \\(${runName}\\) COMPLETED after \\d+ iterations?, tasks 2/2`),
    );
  });

  it('list shows the run', async () => {
    const r = await loopctl(['list']);
    expect(r.code, r.stderr).toBe(0);
    const [head, ...rows] = r.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^ID +NAME +STATUS/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(new RegExp(`^${runId.slice(0, 8)}\\S* +${runName} +COMPLETED `));
  });

  it('inspect --json has the status and the steps', async () => {
    const r = await loopctl(['inspect', runName, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as RunDetail;
    expect(run.id).toBe(runId);
    expect(run.status).toBe('COMPLETED');
    expect(run.origin).toBe('cli');
    expect(run.tasksDone).toBe(2);
    expect(run.steps.length).toBeGreaterThanOrEqual(2);
    expect(run.steps.map((s) => s.phase)).toContain('implementation');
    expect(run.steps.every((s) => s.status === 'SUCCEEDED')).toBe(true);
    expect(run.tasks.map((t) => t.state)).toEqual(['reviewed', 'reviewed']);
  });

  it('inspect lists the ledger tasks', async () => {
    const r = await loopctl(['inspect', runName]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\ntasks\n +1 \[R\] .+\(ticked in iteration 1\)\n +2 \[R\] .+\(ticked in iteration 2\)\n/);
  });

  it('the daemon, run from its bundle, found the files shipped beside the code', async () => {
    // bin/loopd.js loads dist/bundle/loopd.js, where import.meta.url is the bundle's: the
    // migrations (the daemon answers), the spawner script, and the dashboard are found from there.
    const info = JSON.parse(readFileSync(join(home, 'daemon.json'), 'utf8')) as { pid: number; port: number };
    expect(readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0')).toContain(join(repoRoot, 'bin', 'loopd.js'));
    // The run above started its git and agent processes through the spawner (a silent fallback
    // to spawning from the daemon would leave no such child).
    const children = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .flatMap((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === info.pid ? [readFileSync(`/proc/${pid}/cmdline`, 'utf8')] : [];
        } catch {
          return []; // Gone meanwhile.
        }
      });
    expect(children.map((c) => c.split('\0').at(-2))).toContain(join(repoRoot, 'dist', 'core', 'spawner-main.js'));
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(readFileSync(join(repoRoot, 'dist', 'dashboard', 'index.html'), 'utf8'))?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`http://127.0.0.1:${info.port}${script}`);
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(1000);
  });

  it('events, tail and prompt print what a person reads', async () => {
    const [events, tail, prompt] = await Promise.all([
      loopctl(['events', runId]),
      loopctl(['tail', runId.slice(0, 13)]),
      loopctl(['prompt', 'specs/demo.md']),
    ]);

    expect(events.code, events.stderr).toBe(0);
    const lines = events.stdout.trimEnd().split('\n');
    // One time format: local "YYYY-MM-DD HH:MM:SS".
    for (const l of lines) expect(l).toMatch(/^ +\d+  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  [A-Z_]+/);
    const types = lines.map((l) => l.split(/\s+/)[4]);
    expect(types[0]).toBe('RUN_CREATED');
    expect(types).toContain('STEP_FINISHED');
    expect(types.at(-1)).toBe('RUN_COMPLETED');

    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout).toMatch(/^fake-/m);

    expect(prompt.code, prompt.stderr).toBe(0);
    expect(prompt.stdout).toContain('demo.md');
    expect(prompt.stdout).toContain('demo-plan.md');
  });

  it('bad input fails with one line and creates no run', async () => {
    const results = await Promise.all([
      // A command's own error and a flag error, each from a whole bin/loopctl.js process.
      binLoopctl(['run', 'specs/nope.md']),
      binLoopctl(['run', 'specs/demo.md', '--iterations', 'abc']),
      loopctl(['run', 'specs/demo.md', '--agent', 'nope']),
      loopctl(['run', join(outside, 'stray.md')]),
      loopctl(['run', 'stray.md'], { cwd: outside }),
      loopctl(['events']),
      loopctl(['events', runId, '--workspace']),
    ]);
    const [missing, iterations, agent, outsideSpec, notRepo, noRun, both] = results as [Result, Result, Result, Result, Result, Result, Result];
    expectOneLineError(missing, /spec file not found: specs\/nope\.md/);
    expectOneLineError(iterations, /--iterations.*integer/i);
    expectOneLineError(agent, /--agent=nope to be one of: /);
    expectOneLineError(outsideSpec, /outside the repository/);
    expectOneLineError(notRepo, /git repo/i);
    expectOneLineError(noRun, /missing argument RUN/);
    expectOneLineError(both, /either a run \(got "\S+"\) or --workspace \[DIR\], not both/);
    for (const r of results) expect(r.stdout).toBe('');
    expect((await listRuns()).map((r) => r.id)).toEqual([runId]);
  });

  it('cancel of a finished run and a wrong token are one-line errors', async () => {
    const [cancel, token] = await Promise.all([
      loopctl(['cancel', runId]),
      loopctl(['list'], { env: { LOOPD_AUTH_TOKEN: 'wrong' } }),
    ]);
    expectOneLineError(cancel, /COMPLETED|finished|ended/i);
    expectOneLineError(token, /^Error: the daemon rejected the token: it was read from LOOPD_AUTH_TOKEN and does not match/);
    expect((await listRuns())[0]?.status).toBe('COMPLETED');
  });

  it('watch: a spec dropped into specs/ starts a run, and events --workspace shows the trigger', async () => {
    const w = await loopctl(['watch']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toBe(`watching ${repo}: 1 existing spec recorded, new specs in ${join(repo, 'specs')}/ start runs\n`);
    const again = await loopctl(['watch', join(repo, 'specs')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already watched/);

    const follower = followLoopctl(['events', '--workspace', '-f'], { cwd: repo, env });
    // -f starts with the latest events (of the first run): once they are out, the follower is
    // connected and everything after comes live.
    await until(() => follower.output().includes('\n'), 'the first lines of events --workspace -f');
    // The plan first, so the watcher has it when the spec appears. One task: what the run does is
    // not the subject here, that the drop started it and how that reads is.
    write('specs/planning/second-plan.md', plan(1));
    write('specs/second.md', '# Second\n\nBuild the second thing.\n');

    // The live stream says when the watch run ended: its trigger line, then a run's ending after it.
    try {
      await until(() => /TRIGGER_FIRED[\s\S]*\n.* RUN_(COMPLETED|FAILED|CANCELED)\b/.test(follower.output()), 'the watch run to end', 40_000);
    } finally {
      // Ctrl-C ends the follower with the shell's code for it.
      expect(await follower.stop()).toBe(130);
    }
    const watched = (await listRuns()).find((r) => r.origin === 'watch');
    if (!watched) throw new Error('no watch run');
    // The live stream showed the trigger too.
    expect(follower.output()).toMatch(/ TRIGGER_FIRED +specs\/second\.md -> run /);
    expect(watched.status, watched.lastError ?? '').toBe('COMPLETED');
    expect(watched.specPath).toMatch(/second\.md$/);

    const [events, workspaces] = await Promise.all([loopctl(['events', '--workspace']), loopctl(['workspaces'])]);
    expect(events.code, events.stderr).toBe(0);
    // Each run by its shortest unique id prefix (the two runs may share their first 8 characters).
    const runs = await listRuns();
    const short = (id: string) => runs.find((r) => r.id === id)?.shortId ?? '?';
    const T = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
    expect(events.stdout).toMatch(
      new RegExp(`^ +\\d+  ${T}  ${short(watched.id)} +TRIGGER_FIRED +specs/second\\.md -> run ${short(watched.id)} \\(`, 'm'),
    );
    // Both runs' events, each line with its run id.
    expect(events.stdout).toMatch(new RegExp(`^ +\\d+  ${T}  ${short(runId)} +RUN_COMPLETED`, 'm'));
    expect(events.stdout).toMatch(new RegExp(`^ +\\d+  ${T}  ${short(watched.id)} +RUN_COMPLETED`, 'm'));
    for (const r of runs) expect(watched.id === r.id || !r.id.startsWith(short(watched.id))).toBe(true);

    expect(workspaces.code, workspaces.stderr).toBe(0);
    expect(workspaces.stdout).toMatch(/^ROOT +WATCHED +RUNS +SPECS$/m);
    expect(workspaces.stdout).toMatch(new RegExp(`^${repo} +yes +2 +\\d+ \\w+`, 'm'));

    const un = await loopctl(['unwatch']);
    expect(un.code, un.stderr).toBe(0);
    expect(un.stdout).toBe(`stopped watching ${repo}\n`);
    const list = await loopctl(['workspaces', '--json']);
    expect((JSON.parse(list.stdout) as WorkspaceView[]).find((x) => x.root === repo)?.watched).toBe(false);
  });

  it('daemon restart --watch prints both halves, keeps the runs and watches the workspace', async () => {
    const r = await binLoopctl(['daemon', 'restart', '--watch', 'specs']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loopd stopped \(pid (\d+)\)\nloopd started \(pid (\d+)\) on http:\/\/127\.0\.0\.1:\d+\n$/);
    expect((await listRuns()).some((x) => x.id === runId)).toBe(true);
    const list = await loopctl(['workspaces', '--json']);
    expect((JSON.parse(list.stdout) as WorkspaceView[]).find((x) => x.root === repo)?.watched).toBe(true);
  });

  it('daemon stop, then daemon status exits 1 with "not running"', async () => {
    const stop = await binLoopctl(['daemon', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/^loopd stopped \(pid \d+\)\n$/);
    const status = await binLoopctl(['daemon', 'status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/not running/);
  });
});
