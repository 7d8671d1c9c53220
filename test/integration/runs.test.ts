// Full runs through the real daemon (in-process, port 0) with fake agents against temp repos.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../core/plan.js';
import type { RunView } from '../../router/index.js';
import { FAKE_AGENT, commandFlags, git, makeRepo, sqliteDescribe, sqliteIt, startTestDaemon, waitFor, waitForRun, type TestDaemon, type TestRepo } from './harness.js';

// One daemon for the file: every test works in its own repo, and names what it cancels, so none
// sees another's runs. The reviewer is on where the run's path through review is the subject, off
// where it is not (one agent call per iteration instead of two). Its max_concurrency is the one the
// limit test below holds it to (2): every other test waits for its runs to end, and the four runs
// created at once still all get created, started and completed.
const MAX_CONCURRENCY = 2;
let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon({ maxConcurrency: MAX_CONCURRENCY });
});
afterAll(async () => {
  await t.stop();
});

function procAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

describe('a run to a merged result', () => {
  // One full run (three tasks, each implemented and reviewed, then squashed) started from a user
  // checkout on another branch with staged, unstaged and untracked changes; the two tests below
  // read different facts off it.
  let repo: TestRepo;
  let created: RunView;
  let run: RunView;
  let before: { head: string; branch: string; status: string; readme: string; staged: string };
  beforeAll(async () => {
    repo = makeRepo({ tasks: 3 });
    git(repo.root, 'checkout', '-q', '-b', 'feature');
    writeFileSync(join(repo.root, 'README.md'), '# changed but not committed\n');
    writeFileSync(join(repo.root, 'scratch.txt'), 'untracked\n');
    git(repo.root, 'add', 'README.md');
    writeFileSync(join(repo.root, 'README.md'), '# changed again, partly staged\n');
    before = {
      head: git(repo.root, 'rev-parse', 'HEAD'),
      branch: git(repo.root, 'symbolic-ref', 'HEAD'),
      status: git(repo.root, 'status', '--porcelain'),
      readme: readFileSync(join(repo.root, 'README.md'), 'utf8'),
      staged: git(repo.root, 'diff', '--cached'),
    };
    created = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT), origin: 'cli' });
    run = await waitForRun(t.client, created.id);
  });

  it('completes a 3-task plan, squashes into agent/<slug> and writes every artifact', async () => {
    expect(created.status).toBe('PENDING');
    expect(created.runBranch).toBe('run/demo');
    expect(created.mergeTargetBranch).toBe('agent/demo');
    expect(created.planPath).toBe('specs/planning/demo-plan.md');
    expect(created.worktreePath).toBe(join(repo.base, 'repo.run-demo'));

    expect(run.status).toBe('COMPLETED');
    expect(run.exitReason).toBe('complete_plan');
    expect(run.iteration).toBe(3);

    // The summary's artifact row lands just after the run ends (the file work follows the ending,
    // and writes summary.json, the report's last row and the mirror read below).
    const detail = await waitFor(async () => {
      const d = await t.client.runs.get.query({ run: run.id.slice(0, 13) });
      return d.artifacts.some((a) => a.kind === 'summary') ? d : null;
    });

    // The target holds the work as one squash commit on top of main (feature is main's commit).
    expect(git(repo.root, 'rev-list', '--count', 'main..agent/demo')).toBe('1');
    const files = git(repo.root, 'ls-tree', '--name-only', 'agent/demo');
    expect(files.split('\n')).toEqual(expect.arrayContaining(['task-1.txt', 'task-2.txt', 'task-3.txt']));
    const plan = git(repo.root, 'show', 'agent/demo:specs/planning/demo-plan.md');
    expect(parsePlan(plan).counts.open).toBe(0);
    expect(git(repo.root, 'log', '-1', '--format=%B', 'agent/demo')).toContain(`Loopd-Run: ${run.id}`);
    // The run branch is kept.
    expect(git(repo.root, 'rev-parse', '--verify', 'run/demo')).toMatch(/^[0-9a-f]{40}$/);

    const dir = join(repo.root, 'logs', 'loop', `run-${run.id}`);
    expect(run.runDir).toBe(dir);
    for (const f of ['prompt.txt', 'iter-01.log', 'iter-01.tail.txt', 'iter-03.log', 'report.tsv', 'summary.json']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ run_id: run.id, exit_reason: 'complete_plan', iterations_run: 3, completed_iteration: 3, last_exit_code: 0 });
    const report = readFileSync(join(dir, 'report.tsv'), 'utf8').trim().split('\n');
    expect(report[0]).toBe('timestamp_ms\tkind\titeration\tduration_ms\texit_code\toutput_bytes\toutput_lines\toutput_path\tmessage\ttasks_done\ttasks_total\tcost_usd\tinput_tokens\toutput_tokens');
    // One row per implementation and per review.
    // And a last row for the ending.
    expect(report.slice(1).map((r) => r.split('\t')[1])).toEqual(['implementation', 'review', 'implementation', 'review', 'implementation', 'review', 'run']);
    expect(report[6]!.split('\t').slice(9, 11)).toEqual(['3', '3']);
    expect(report[7]!.split('\t')[8]).toBe('COMPLETED: complete_plan');
    // The global mirror.
    expect(run.globalRunDir).toBe(join(t.home, 'runs', `run-${run.id}`));
    expect(existsSync(join(run.globalRunDir!, 'summary.json'))).toBe(true);
    expect(existsSync(join(run.globalRunDir!, 'iter-02.log'))).toBe(true);

    expect(detail.steps.map((s) => s.phase)).toEqual(['implementation', 'review', 'implementation', 'review', 'implementation', 'review', 'merge']);
    // The reviewer, not the agent, marked every task reviewed.
    expect(parsePlan(plan).counts.reviewed).toBe(3);
    const kinds = new Set(detail.artifacts.map((a) => a.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(['prompt', 'iteration_log', 'iteration_tail', 'report', 'summary']));
    for (const a of detail.artifacts) expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(detail.artifacts.some((a) => a.location === 'global')).toBe(true);

    // The agent saw the documented environment.
    const log = readFileSync(join(dir, 'iter-01.log'), 'utf8');
    expect(log).toContain('task 1');
  });

  sqliteIt('leaves the user checkout, its branch and uncommitted work exactly as they were', () => {
    expect(created.baseBranch).toBe('feature');
    expect(run.status).toBe('COMPLETED');
    expect(git(repo.root, 'rev-parse', 'HEAD')).toBe(before.head);
    expect(git(repo.root, 'symbolic-ref', 'HEAD')).toBe(before.branch);
    expect(git(repo.root, 'status', '--porcelain')).toBe(before.status);
    expect(readFileSync(join(repo.root, 'README.md'), 'utf8')).toBe(before.readme);
    expect(git(repo.root, 'diff', '--cached')).toBe(before.staged);
    expect(git(repo.root, 'ls-tree', '--name-only', 'agent/demo')).toContain('task-3.txt');
  });

  sqliteIt('uses the merge strategy and an explicit target, and skips the merge with none', async () => {
    const repo = makeRepo({ tasks: 1 });
    const a = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(FAKE_AGENT, { merge_strategy: 'merge', merge_target_branch: 'integration', reviewer: false }),
    });
    expect((await waitForRun(t.client, a.id)).status).toBe('COMPLETED');
    expect(git(repo.root, 'rev-list', '--parents', '-1', 'integration').split(' ')).toHaveLength(3);

    const b = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'second', flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
    expect(b.runBranch).toBe('run/second');
    expect(b.mergeTargetBranch).toBeNull();
    expect((await waitForRun(t.client, b.id)).status).toBe('COMPLETED');
    expect(() => git(repo.root, 'rev-parse', '--verify', '-q', 'agent/demo')).toThrow();
  });

  it('de-duplicates the run branch (run/demo, run/demo-2), and creates runs of one repo concurrently, each on its own branch, while others start', async () => {
    const repo = makeRepo({ tasks: 1 });
    const flags = commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false });
    const a = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags });
    const b = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags });
    expect([a.runBranch, b.runBranch]).toEqual(['run/demo', 'run/demo-2']);
    expect(b.worktreePath).toBe(join(repo.base, 'repo.run-demo-2'));
    // Two more at once, while the first two start.
    const more = await Promise.all([1, 2].map(() => t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags })));
    expect(more.map((r) => r.runBranch).sort()).toEqual(['run/demo-3', 'run/demo-4']);
    expect(new Set([a, b, ...more].map((r) => r.worktreePath)).size).toBe(4);
    for (const r of [a, b, ...more]) expect((await waitForRun(t.client, r.id)).status).toBe('COMPLETED');
  });
});

sqliteDescribe('the completion gate', () => {
  it('records a false completion token as malformed_complete and keeps going', async () => {
    // Three tasks: two false claims, so the second watchdog rewrite counts the first.
    const repo = makeRepo({ tasks: 3 });
    const created = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(`FAKE_FALSE_COMPLETE=1 ${FAKE_AGENT}`, { reviewer: false }) });
    const run = await waitForRun(t.client, created.id);
    expect(run.status).toBe('COMPLETED');
    expect(run.iteration).toBe(3);
    const events = await t.client.runs.eventsList.query({ run: run.id });
    const signals = events.filter((e) => e.type === 'SIGNAL').map((e) => e.payload.signal);
    expect(signals).toEqual(['malformed_complete', 'malformed_complete']);
  });

  it('fails with iterations_exhausted when the cap is hit first', async () => {
    const repo = makeRepo({ tasks: 2 });
    const created = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { iterations: 1, reviewer: false }) });
    const run = await waitForRun(t.client, created.id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'iterations_exhausted', iteration: 1 });
    const summary = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8'));
    expect(summary.exit_reason).toBe('iterations_exhausted');
  });
});

describe('agent failures', () => {
  it('retries a failing agent and then fails the run with agent_failed', async () => {
    const repo = makeRepo({ tasks: 1 });
    const created = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(`FAKE_EXIT_CODE=3 ${FAKE_AGENT}`, { claude_retries: 1, claude_retry_backoff_sec: 0 }),
    });
    const run = await waitForRun(t.client, created.id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'agent_failed' });
    // The agent's own last words, and the exit code.
    expect(run.lastError).toContain('failing on purpose');
    expect(run.lastError).toContain('exit code 3');
    const detail = await t.client.runs.get.query({ run: run.id });
    expect(detail.steps.map((s) => [s.phase, s.attempt, s.status, s.exitCode])).toEqual([
      ['implementation', 1, 'FAILED', 3],
      ['implementation', 2, 'FAILED', 3],
    ]);
  });

  sqliteIt('says when the agent command does not exist', async () => {
    const repo = makeRepo({ tasks: 1 });
    const created = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags('no-such-agent-binary --go', { claude_retries: 0 }),
    });
    const run = await waitForRun(t.client, created.id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'agent_failed' });
    expect(run.lastError).toMatch(/agent command not found \(exit code 127\)/);
  });

  sqliteIt('kills the whole process tree of an agent that ignores SIGTERM when it times out', async () => {
    const repo = makeRepo({ tasks: 1 });
    const created = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(`FAKE_IGNORE_TERM=1 ${FAKE_AGENT}`, { claude_timeout_sec: 1, claude_retries: 0 }),
    });
    const run = await waitForRun(t.client, created.id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'agent_failed:timeout' });
    expect(run.lastError).toContain('timed out');
    const step = (await t.daemon.store.stepsForRun(run.id))[0]!;
    expect(step.pid).toBeGreaterThan(0);
    await waitFor(() => groupMembers(step.pid!).length === 0, 5000);
    expect(procAlive(step.pid!)).toBe(false);
  });
});

describe('run control', () => {
  it('cancels mid-step: the agent is killed and the run is CANCELED with its branch kept', async () => {
    const repo = makeRepo({ tasks: 2 });
    // Named, so the name is unique on this daemon, which holds other files' demo runs.
    const created = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'cancel-me', flags: commandFlags(`FAKE_SLEEP_MS=60000 ${FAKE_AGENT}`) });
    const step = await waitFor(async () => (await t.daemon.store.stepsForRun(created.id)).find((s) => s.pid));
    const canceled = await t.client.runs.cancel.mutate({ run: created.name });
    expect(canceled.status).toBe('CANCELED');
    expect(canceled.exitReason).toBe('canceled');
    await waitFor(() => groupMembers(step.pid!).length === 0, 5000);
    expect(git(repo.root, 'rev-parse', '--verify', 'run/cancel-me')).toMatch(/^[0-9a-f]{40}$/);
    expect(existsSync(created.worktreePath)).toBe(true);
    await expect(t.client.runs.cancel.mutate({ run: created.id })).rejects.toThrow(/already ended as CANCELED/);
  });

  it('keeps at most max_concurrency runs active, and honours max_runs_per_workspace', async () => {
    // The file's daemon has the limit under test; the earlier tests' runs have all ended, and only
    // the events of these runs are counted below.
    const repos = [makeRepo({ tasks: 1 }), makeRepo({ tasks: 1 }), makeRepo({ tasks: 1 })];
    const ids: string[] = [];
    for (const r of repos) {
      ids.push((await t.client.runs.create.mutate({ cwd: r.root, spec: 'specs/demo.md', flags: commandFlags(`FAKE_SLEEP_MS=400 ${FAKE_AGENT}`, { reviewer: false }) })).id);
    }
    // Two runs in one workspace with max_runs_per_workspace=1 must not overlap.
    const shared = makeRepo({ tasks: 1, config: 'max_runs_per_workspace=1\n' });
    for (let i = 0; i < 2; i++) {
      ids.push((await t.client.runs.create.mutate({ cwd: shared.root, spec: 'specs/demo.md', flags: commandFlags(`FAKE_SLEEP_MS=300 ${FAKE_AGENT}`, { merge_strategy: 'none', reviewer: false }) })).id);
    }
    for (const id of ids) expect((await waitForRun(t.client, id)).status).toBe('COMPLETED');

    const mine = new Set(ids);
    const events = (await t.daemon.store.eventsAfter({ limit: 100000 })).filter((e) => e.runId !== null && mine.has(e.runId));
    expect(events.filter((e) => e.type === 'RUN_STARTED')).toHaveLength(ids.length);
    let active = 0;
    let peak = 0;
    const wsActive = new Map<string, number>();
    let wsPeak = 0;
    const wsOf = new Map(await Promise.all(ids.map(async (id) => [id, (await t.daemon.store.getRun(id))!.workspace_root] as const)));
    for (const e of events) {
      const ws = wsOf.get(e.runId!)!;
      if (e.type === 'RUN_STARTED') {
        active++;
        wsActive.set(ws, (wsActive.get(ws) ?? 0) + 1);
      }
      if (['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELED'].includes(e.type)) {
        active--;
        wsActive.set(ws, (wsActive.get(ws) ?? 0) - 1);
      }
      peak = Math.max(peak, active);
      if (ws === shared.root) wsPeak = Math.max(wsPeak, wsActive.get(ws) ?? 0);
    }
    expect(peak).toBe(MAX_CONCURRENCY);
    expect(wsPeak).toBe(1);
  });
});

sqliteDescribe('merge conflicts', () => {
  it('fails the run with a clear reason and keeps the run branch when the target conflicts', async () => {
    const repo = makeRepo({ tasks: 1 });
    // The target already has a different version of the file the agent will write.
    git(repo.root, 'branch', 'agent/demo');
    const wt = join(repo.base, 'target-wt');
    git(repo.root, 'worktree', 'add', '-q', wt, 'agent/demo');
    writeFileSync(join(wt, 'shared.txt'), 'the target says hello\n');
    git(wt, 'add', '-A');
    git(wt, 'commit', '-q', '-m', 'target change');
    git(repo.root, 'worktree', 'remove', wt);
    const targetBefore = git(repo.root, 'rev-parse', 'agent/demo');

    const created = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(`FAKE_FILE=shared.txt ${FAKE_AGENT}`, { reviewer: false }) });
    const run = await waitForRun(t.client, created.id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'merge_conflict' });
    expect(run.lastError).toContain('shared.txt');
    expect(git(repo.root, 'rev-parse', 'agent/demo')).toBe(targetBefore);
    expect(git(repo.root, 'ls-tree', '--name-only', 'run/demo')).toContain('shared.txt');
  });
});
