// loopctl diff / merge / scrap / pr / dashboard against an in-process daemon: what they print and
// their exit codes. The commands run in this process by bin/loopctl.js's route; the events --all
// follower is a real process. Needs a current build (npm test builds first).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_AGENT, commandFlags, git, makeRepo, startTestDaemon, waitFor, waitForRun, type TestDaemon } from '../integration/harness.js';
import { type FollowingLoopctl, followLoopctl, loopctl as inProcess, type LoopctlResult as Result, requireFreshBuild } from './helpers.js';

requireFreshBuild();

let t: TestDaemon;
let runs: Record<string, Promise<Finished>> = {};
let follower: FollowingLoopctl | undefined;
/** What `events --all -f --json` printed while the runs below were created and ran. */
let followed = '';
beforeAll(async () => {
  t = await startTestDaemon();
  // The live feed of every run, followed by a real process (ended by Ctrl-C) from before the runs
  // below are created: their creation is what it must show, so no run of its own is needed.
  const listening = t.daemon.bus.listenerCount('event');
  follower = followLoopctl(['events', '--all', '-f', '--json'], { env: daemonEnv() });
  // The subscription is up once the daemon's bus has one more listener (each SSE subscriber adds one).
  await waitFor(() => t.daemon.bus.listenerCount('event') > listening);
  // The runs the tests inspect, side by side (the daemon runs three at once), created one after the
  // other: ids of one millisecond share their first 13 characters, the prefix the diff test uses.
  const created: Finished[] = [];
  for (const name of ['cli-diff', 'cli-merge', 'cli-scrap']) created.push(await create(name));
  // Ended once it showed their creation: what it would print of their work is not the subject.
  const f = follower;
  await waitFor(() => created.every(({ run }) => createdIn(f.output(), run.id)));
  await f.stop();
  followed = f.output();
  runs = Object.fromEntries(created.map((c) => [c.run.name, waitForRun(t.client, c.run.id).then(() => c)]));
  await Promise.all(Object.values(runs));
});
afterAll(async () => {
  await follower?.stop();
  await t.stop();
});

/** True when the JSON lines of the follower hold the RUN_CREATED event of run `id`. */
function createdIn(output: string, id: string): boolean {
  return output.split('\n').some((l) => l.includes('"RUN_CREATED"') && l.includes(id));
}

/** loopctl in this process (bin/loopctl.js's route), with the daemon's data dir and token. */
function loopctl(args: string[]): Promise<Result> {
  return inProcess(args, { env: daemonEnv() });
}

function daemonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LOOPD_HOME: t.home, LOOPD_AUTH_TOKEN: t.daemon.token, LOOPD_ADDR: '' };
}

function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.code, r.stdout + r.stderr).not.toBe(0);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

type Finished = Awaited<ReturnType<typeof create>>;

async function create(name: string) {
  const repo = makeRepo({ tasks: 2 });
  const run = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name, flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
  return { repo, run };
}

describe('loopctl review commands', () => {
  it('diff prints the per-file summary and the patch; --stat and --iteration narrow it', async () => {
    const { run } = await runs['cli-diff']!;
    const full = await loopctl(['diff', 'cli-diff']);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/^run\/cli-diff against main \([0-9a-f]{12}\.\.[0-9a-f]{12}\): 3 files, \+4 -2\n/);
    expect(full.stdout).toMatch(/\n {2}added +\+1 -0 {2}task-1\.txt\n/);
    expect(full.stdout).toContain('diff --git a/task-2.txt b/task-2.txt');
    const stat = await loopctl(['diff', 'cli-diff', '--stat']);
    expect(stat.stdout).not.toContain('diff --git');
    const it2 = await loopctl(['diff', run.id.slice(0, 13), '--iteration', '2', '--stat']);
    expect(it2.stdout).toMatch(/^iteration 2 of run\/cli-diff/);
    expect(it2.stdout).toContain('task-2.txt');
    expect(it2.stdout).not.toContain('task-1.txt');
    const json = JSON.parse((await loopctl(['diff', 'cli-diff', '--json'])).stdout) as { iterations: unknown[]; files: unknown[] };
    expect(json.iterations).toHaveLength(2);
    expectOneLineError(await loopctl(['diff', 'cli-diff', '--iteration', '9']), /no recorded commits for iteration 9/);
  });

  it('merge merges once and says so; scrap and pr are then refused', async () => {
    const { repo } = await runs['cli-merge']!;
    expectOneLineError(await loopctl(['merge', 'cli-merge']), /merge target "main" is checked out/);
    const m = await loopctl(['merge', 'cli-merge', '--target', 'review/cli']);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/^merged run\/cli-merge into review\/cli \(squash, commit [0-9a-f]{12}\)\n$/);
    expect(git(repo.root, 'show', 'review/cli:task-1.txt')).toContain('did task 1');
    const again = await loopctl(['merge', 'cli-merge', '--target', 'review/cli']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^nothing to do: run cli-merge \([0-9a-f-]{8,}\) is already merged into review\/cli \(by loopctl/);
    expectOneLineError(await loopctl(['scrap', 'cli-merge']), /was merged into review\/cli by loopctl.*nothing to scrap/);
    expect((await loopctl(['inspect', 'cli-merge'])).stdout).toMatch(/ {2}review {9}merged into review\/cli by loopctl.* at \d{4}-/);
    expectOneLineError(await loopctl(['merge', 'cli-merge', '--strategy', 'rebase']), /Expected --strategy=rebase to be one of: squash, merge/);
  });

  it('scrap deletes branch and worktree once; pr names what is missing', async () => {
    const { repo, run } = await runs['cli-scrap']!;
    // The daemon (in this process) looks for gh on its own PATH.
    const saved = process.env.PATH;
    process.env.PATH = '/usr/bin:/bin';
    try {
      expectOneLineError(await loopctl(['pr', 'cli-scrap']), /the GitHub CLI \(gh\) is not on the daemon's PATH/);
    } finally {
      process.env.PATH = saved;
    }
    const s = await loopctl(['scrap', 'cli-scrap', '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ changed: true, review: { status: 'scrapped' } });
    expect(git(repo.root, 'branch', '--list', run.runBranch)).toBe('');
    expect(existsSync(run.worktreePath)).toBe(false);
    const again = await loopctl(['scrap', 'cli-scrap']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^nothing to do: .* is already scrapped/);
    expectOneLineError(await loopctl(['pr', 'cli-scrap']), /was scrapped by loopctl/);
  });

  it('events --all -f follows the live feed of every run', async () => {
    expectOneLineError(await loopctl(['events', '--all']), /--all goes with -f alone/);
    // The follower (beforeAll) was connected before the three runs were created.
    const events = followed.trim().split('\n').map((l) => JSON.parse(l) as { runId: string; type: string });
    for (const name of ['cli-diff', 'cli-merge', 'cli-scrap']) {
      const { run } = await runs[name]!;
      expect(events.some((e) => e.type === 'RUN_CREATED' && e.runId === run.id), name).toBe(true);
    }
  });

  it('dashboard --print-url prints a one-time sign-in link', async () => {
    const r = await loopctl(['dashboard', '--print-url']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${t.daemon.port}/\\?code=[A-Za-z0-9_-]+\\n$`));
  });
});
