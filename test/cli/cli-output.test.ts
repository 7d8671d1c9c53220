// What loopctl prints, against an in-process daemon: unique names and short ids, event windows
// (-n, --since, -f), tail --since, run --wait on a terminal and off one, and escaped control
// characters. The commands run in this process by bin/loopctl.js's route (fast path, then oclif),
// except the -f follower ended by Ctrl-C and run --wait on a terminal, which are real processes.
// Needs a current build (npm test builds first).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventView, RunView } from '../../router/index.js';
import { startTestDaemon, type TestDaemon, waitForRun } from '../integration/harness.js';
import { followLoopctl, loopctl as inProcess, type LoopctlResult as Result, repoRoot, requireFreshBuild, until } from './helpers.js';

requireFreshBuild();

const LOOPCTL = join(repoRoot, 'bin', 'loopctl.js');
// The sh fake agent (fake-agent.mjs's behaviour and output, test/unit/fake-agent-sh.test.ts): what the
// agent is written in is not what this file tests, and a Node start per agent call costs 50-80 ms of CPU.
const FAKE_AGENT = join(repoRoot, 'test', 'fixtures', 'fake-agent.sh');
// A directory name a cloned repository could have: an ANSI colour sequence and a bell.
const ODD = 'odd\u001b[31mred\u0007';

let base = '';
let repo = '';
let other = '';
let env: NodeJS.ProcessEnv = {};
let t: TestDaemon | undefined;

function loopctl(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return inProcess(args, { cwd: opts.cwd ?? repo, env: { ...env, ...opts.env } });
}

async function json<T>(args: string[], cwd?: string): Promise<T> {
  const r = await loopctl([...args, '--json'], cwd ? { cwd } : {});
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout) as T;
}

async function jsonLines<T>(args: string[]): Promise<T[]> {
  const r = await loopctl([...args, '--json']);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

function makeRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  const write = (rel: string, content: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  };
  write('.gitignore', 'logs/loop/\n');
  write('specs/demo.md', '# Demo\n\nBuild the demo.\n');
  write('specs/planning/demo-plan.md', '# Plan\n\n## Tasks\n- [ ] one\n- [ ] two\n');
  write('.loop/config', `agent=command\nagent_cmd="sh ${FAKE_AGENT}"\nmerge_strategy=none\n`);
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@localhost', 'add', '-A'], { cwd: dir });
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'init'], { cwd: dir });
}

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('loopctl output against an in-process daemon', () => {
  const runs: RunView[] = [];
  /** What `run --wait` printed off a terminal (this process's captured stdout) for the second run. */
  let waitedOffTerminal: Result = { code: -1, stdout: '', stderr: '' };

  beforeAll(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'loopd-out-')));
    repo = join(base, ODD);
    other = join(base, 'other');
    makeRepo(repo);
    makeRepo(other);
    t = await startTestDaemon();
    env = { ...process.env, LOOPD_HOME: t.home, LOOPD_ADDR: new URL(t.daemon.url).host, LOOPD_AUTH_TOKEN: t.daemon.token };
    for (const k of ['LOOP_CONFIG', 'XDG_DATA_HOME', 'NO_COLOR', 'FORCE_COLOR']) delete env[k];
    // Two runs of one spec in one workspace, one more elsewhere: all created within seconds, so
    // their ids likely share the first 8 characters (the first 4 always).
    // The first is created and left to run; the second is followed with --wait off a terminal (what
    // the test of that reads: no run of its own), the third with --wait --json.
    const first = await json<RunView>(['run', 'specs/demo.md'], repo);
    waitedOffTerminal = await loopctl(['run', 'specs/demo.md', '--wait'], { cwd: repo });
    expect(waitedOffTerminal.code, waitedOffTerminal.stderr).toBe(0);
    const second = /^run (\S+) \(/.exec(waitedOffTerminal.stdout)?.[1];
    const third = await json<RunView>(['run', 'specs/demo.md', '--wait'], other);
    expect(third.status).toBe('COMPLETED');
    await waitForRun(t.client, first.id);
    const views = await json<RunView[]>(['list']);
    for (const id of [first.id, second, third.id]) runs.push(views.find((v) => v.id === id)!);
  });

  afterAll(async () => {
    await t?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('names are unique per workspace: a derived name gets -2, a taken --name is refused', async () => {
    expect(runs.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(runs.map((r) => r.name)).toEqual(['demo', 'demo-2', 'demo']);
    expect(runs[1]?.runBranch).toBe('run/demo-2');
    const taken = await loopctl(['run', 'specs/demo.md', '--name', 'demo-2']);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/^Error: a run named "demo-2" already exists in .* \(\S+, COMPLETED\): pick another --name\n$/);
    expect((await json<RunView[]>(['list'])).length).toBe(3);
  });

  it('a name or id prefix of several runs is refused with the candidates, never picked silently', async () => {
    // "demo" names a run in each workspace.
    const byName = await loopctl(['inspect', 'demo']);
    expect(byName.code).not.toBe(0);
    expect(byName.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(byName.stderr).toMatch(/^Error: the name "demo" matches 2 runs: /);
    for (const r of [runs[0], runs[2]]) expect(byName.stderr).toContain(r?.shortId);
    // The unique one resolves.
    expect((await json<RunView>(['inspect', 'demo-2'])).id).toBe(runs[1]?.id);
    const prefix = await loopctl(['inspect', (runs[0]?.id ?? '').slice(0, 4)]);
    expect(prefix.stderr).toMatch(/^Error: the id prefix "\w{4}" matches 3 runs: .*; give one of these ids\n$/);
  });

  it('every run has its shortest unique id prefix, used by list, events --workspace and TRIGGER lines', async () => {
    const list = await json<RunView[]>(['list']);
    for (const r of list) {
      expect(r.shortId.length).toBeGreaterThanOrEqual(8);
      expect(list.filter((o) => o.id.startsWith(r.shortId))).toHaveLength(1);
      expect((await json<RunView>(['inspect', r.shortId])).id).toBe(r.id);
    }
    const table = await loopctl(['list']);
    for (const r of list) expect(table.stdout).toMatch(new RegExp(`^${r.shortId} `, 'm'));
    const ws = await loopctl(['events', '--workspace']);
    expect(ws.code, ws.stderr).toBe(0);
    const own = list.filter((r) => r.workspaceRoot === repo);
    for (const r of own) expect(ws.stdout).toMatch(new RegExp(`  ${r.shortId} +RUN_COMPLETED`, 'm'));
  });

  it('events -n N and --since select recent history; bad values are one-line errors', async () => {
    const id = runs[0]?.id ?? '';
    const all = await jsonLines<EventView>(['events', id]);
    expect(all.length).toBeGreaterThan(10);
    expect((await jsonLines<EventView>(['events', id, '-n', '3'])).map((e) => e.seq)).toEqual(all.slice(-3).map((e) => e.seq));
    expect((await jsonLines<EventView>(['events', id, '--last', 'all'])).length).toBe(all.length);
    expect((await jsonLines<EventView>(['events', id, '--since', '1h'])).length).toBe(all.length);
    // Later than every stored event: nothing.
    const future = new Date(Date.now() + 3_600_000);
    const stamp = `${future.getFullYear()}-${String(future.getMonth() + 1).padStart(2, '0')}-${String(future.getDate()).padStart(2, '0')} ${String(future.getHours()).padStart(2, '0')}:${String(future.getMinutes()).padStart(2, '0')}`;
    expect(await jsonLines<EventView>(['events', id, '--since', stamp])).toEqual([]);
    const text = await loopctl(['events', id, '-n', '2']);
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(2);
    const bad = await loopctl(['events', id, '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Error: invalid --since "yesterday": give a duration back from now/);
    const badJson = await loopctl(['events', id, '-n', 'x', '--json']);
    expect(JSON.parse(badJson.stdout)).toEqual({ error: 'invalid --last "x": give a number of events, or "all"' });
  });

  it('events -f starts with the last 20 events, not the whole history', async () => {
    const id = runs[0]?.id ?? '';
    const all = await jsonLines<EventView>(['events', id]);
    // The run has ended, so following it prints the window and stops.
    const followed = await jsonLines<EventView>(['events', id, '-f']);
    expect(followed.map((e) => e.seq)).toEqual(all.slice(-20).map((e) => e.seq));
    const two = await jsonLines<EventView>(['events', id, '-f', '-n', '2']);
    expect(two.map((e) => e.seq)).toEqual(all.slice(-2).map((e) => e.seq));
  });

  it('events --workspace -f -n 1 starts at the newest event, then follows new ones', async () => {
    const before = await jsonLines<EventView>(['events', '--workspace', other]);
    const follower = followLoopctl(['events', '--workspace', other, '-f', '-n', '1', '--json'], { cwd: repo, env });
    const out = () => follower.output();
    try {
      await until(() => out().includes('\n'), 'the first event');
      // A new run in that workspace: its events arrive after the one old event.
      const created = await json<RunView>(['run', 'specs/demo.md', '--name', 'later'], other);
      await until(() => out().includes(`"RUN_CREATED"`), 'the new run');
      const seen = out().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EventView);
      expect(seen[0]?.seq).toBe(before.at(-1)?.seq);
      expect(seen.slice(1).every((e) => e.runId === created.id)).toBe(true);
      await loopctl(['cancel', created.id]);
    } finally {
      await follower.stop();
    }
  });

  it('tail --since prints whole steps that ran since then; tail --last is -n', async () => {
    const id = runs[0]?.id ?? '';
    const since = await loopctl(['tail', id, '--since', '1h']);
    expect(since.code, since.stderr).toBe(0);
    // Every step of the run, in order: both implementations and the reviews between them.
    const iterations = [...since.stdout.matchAll(/^fake-agent: iteration (\d) \(implementation\)/gm)].map((m) => m[1]);
    expect(iterations).toEqual(['1', '2']);
    expect(since.stdout).toMatch(/working on task 1[\s\S]*APPROVED[\s\S]*working on task 2/);
    // Each step under its header line (rendered output); one line of the last step after --last 1.
    expect([...since.stdout.matchAll(/^── iteration \d · \w+/gm)].length).toBeGreaterThanOrEqual(4);
    const last = await loopctl(['tail', id, '--last', '1']);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout.trimEnd().split('\n')).toEqual([expect.stringMatching(/^── iteration 2 · review/), 'APPROVED']);
    expect(since.stdout.length).toBeGreaterThan(last.stdout.length);
    const none = await loopctl(['tail', id, '--since', '0s']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^no output since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d for run /);
  });

  it('escapes control characters of paths and names in human output; --json keeps them', async () => {
    const [ws, inspect, events] = await Promise.all([
      loopctl(['workspaces']),
      loopctl(['inspect', runs[1]?.id ?? '']),
      loopctl(['events', runs[1]?.id ?? '']),
    ]);
    for (const r of [ws, inspect, events]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('odd\\e[31mred\\x07');
      expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    }
    expect((await json<RunView>(['inspect', runs[1]?.id ?? ''])).workspaceRoot).toBe(repo);
    for (const cmd of ['watch', 'unwatch']) {
      const r = await loopctl([cmd]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('odd\\e[31mred\\x07');
      expect(r.stdout).not.toContain('\u001b');
    }
  });

  it('run --wait off a terminal prints plain lines: no status line, no colour', () => {
    // The second run of beforeAll, followed from this process, whose stdout is no terminal.
    const r = waitedOffTerminal;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\r\u001b]/);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  RUN_COMPLETED/m);
  });

  it.skipIf(!hasScript)('run --wait on a terminal redraws a status line in place, coloured unless NO_COLOR', async () => {
    // Asynchronously: the daemon answers from this process.
    const onTty = async (extra: NodeJS.ProcessEnv) => {
      const label = Object.keys(extra).join('') || 'plain';
      const log = join(base, `tty-${label}.log`);
      // The agent waits for a gate the test opens once the status line showed the first
      // implementation running: on a loaded machine the line's refresh (a run view after each
      // event) could otherwise land only after a fast agent's first call had ended.
      const gate = join(base, `tty-${label}.gate`);
      const agent = `while [ ! -e ${gate} ]; do sleep 0.05; done; sh ${FAKE_AGENT}`;
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(LOOPCTL)} run specs/demo.md --wait --agent-cmd '${agent}'`;
      const child = spawn('script', ['-qfec', cmd, log], { cwd: other, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const closed = new Promise<number | null>((r) => child.on('close', r));
      await until(() => {
        const shown = existsSync(log) && /RUNNING(\u001b\[\d+m)?  implementation iter 1 /.test(readFileSync(log, 'utf8'));
        return shown || child.exitCode !== null;
      }, 'the status line of the first implementation');
      writeFileSync(gate, '');
      const code = await closed;
      clearTimeout(timer);
      expect(code, output).toBe(0);
      return readFileSync(log, 'utf8');
    };
    // Both at once: each is its own run in the other workspace.
    const [colored, plain] = await Promise.all([onTty({}), onTty({ NO_COLOR: '1' })]);
    // Redrawn in place: carriage return + erase line, then the status with the tasks bar.
    expect(colored).toMatch(/\r\u001b\[2K(\u001b\[\d+m)?RUNNING(\u001b\[\d+m)?  implementation iter 1 /);
    expect(colored).toMatch(/\d\/2 done, \d reviewed  \d+(ms|s) +\$0\.00/);
    expect(colored).toMatch(/\u001b\[32m\[[█▓░]{12}\]\u001b\[39m/);
    expect(colored).toContain('\u001b[32mCOMPLETED\u001b[39m');
    expect(plain).toMatch(/\r\u001b\[2KRUNNING  implementation iter 1 /);
    // The only escape sequence left is the erase-line of the redraw.
    expect(plain.replace(/\u001b\[2K/g, '')).not.toContain('\u001b');
  });
});
