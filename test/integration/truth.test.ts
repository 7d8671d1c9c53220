// loopd owns the truth at run creation and across review: real paths, plans with nothing to do,
// tasks done before the run, and the spec and plan loopd snapshots (docs/truth.md).
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEventOf } from '../../core/events.js';
import { parsePlan } from '../../core/plan.js';
import { commandFlags, FAKE_AGENT, git, makeRepo, tempDir, sqliteDescribe, startTestDaemon, type TestDaemon, waitForRun } from './harness.js';

// One daemon for the file: every test works in its own repo and counts only that repo's runs.
let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

const create = (cwd: string, extra: Record<string, unknown> = {}, flags: Record<string, string | number | boolean> = {}) =>
  t.client.runs.create.mutate({ cwd, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { claude_retry_backoff_sec: 0, ...flags }), ...extra });

sqliteDescribe('run creation refuses what it cannot own', () => {
  it('refuses a committed symlink spec or plan that resolves outside the repository', async () => {
    const repo = makeRepo({ tasks: 1 });
    const outside = join(tempDir(), 'outside.md');
    writeFileSync(outside, '# outside\n\n- [ ] task\n');
    symlinkSync(outside, join(repo.root, 'specs', 'linked.md'));
    symlinkSync(outside, join(repo.root, 'specs', 'planning', 'linked-plan.md'));
    repo.commit('links');
    await expect(t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/linked.md', flags: commandFlags(FAKE_AGENT) })).rejects.toThrow(
      /^spec specs\/linked\.md is outside the repository .* \(it resolves to .*outside\.md\): spec, plan and context files must live inside it$/,
    );
    await expect(create(repo.root, { plan: 'specs/planning/linked-plan.md' })).rejects.toThrow(/^plan specs\/planning\/linked-plan\.md is outside the repository/);
    await expect(create(repo.root, {}, { context_files: outside })).rejects.toThrow(/^context file .*outside\.md is outside the repository/);
    expect(await t.daemon.store.listRuns({ workspace: repo.root })).toHaveLength(0);
  });

  it('refuses a plan with no open task, no task at all, or binary content: "nothing to do"', async () => {
    const repo = makeRepo({ tasks: 1 });
    const plan = join(repo.root, 'specs', 'planning', 'demo-plan.md');
    writeFileSync(plan, '# Plan\n- [x] a\n- [R] b\n');
    await expect(create(repo.root)).rejects.toThrow('nothing to do: every task in plan specs/planning/demo-plan.md is already done (2 of 2); add an open "- [ ]" task');
    writeFileSync(plan, '# Plan\n\nJust prose.\n\n## Verification\n- [ ] run it\n```\n- [ ] in code\n```\n');
    await expect(create(repo.root)).rejects.toThrow(/^nothing to do: plan specs\/planning\/demo-plan\.md has no task checkbox/);
    writeFileSync(plan, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0x2d, 0x20, 0x5b, 0x20, 0x5d, 0x20, 0x61, 0x0a]));
    await expect(create(repo.root)).rejects.toThrow(/^nothing to do: plan specs\/planning\/demo-plan\.md is not a text file/);
    expect(await t.daemon.store.listRuns({ workspace: repo.root })).toHaveLength(0);
  });
});

describe('the ledger', () => {
  it('records the plan at creation; tasks done before the run are never marked reviewed', async () => {
    const repo = makeRepo({ tasks: 1 });
    const planRel = 'specs/planning/demo-plan.md';
    writeFileSync(join(repo.root, planRel), '# Plan\n\n## Phase 4: Reviewer, Verification, Watchdog\n- [x] old 1\n- [x] old 2\n- [R] old 3\n- [ ] new work\n  - [ ] nested step\n');
    repo.commit('plan');
    const created = await create(repo.root);
    expect((await t.daemon.store.ledgerFor(created.id)).map((l) => [l.taskId, l.text, l.state, l.doneBeforeRun, l.section])).toEqual([
      [1, 'old 1', 'done', true, 'Phase 4: Reviewer, Verification, Watchdog'],
      [2, 'old 2', 'done', true, 'Phase 4: Reviewer, Verification, Watchdog'],
      [3, 'old 3', 'reviewed', true, 'Phase 4: Reviewer, Verification, Watchdog'],
      [4, 'new work', 'open', false, 'Phase 4: Reviewer, Verification, Watchdog'],
      [5, 'nested step', 'open', false, 'Phase 4: Reviewer, Verification, Watchdog'],
    ]);
    const run = await waitForRun(t.client, created.id);
    expect(run.status).toBe('COMPLETED');
    const detail = await t.client.runs.get.query({ run: run.id });
    expect(detail.tasks.map((x) => [x.id, x.state, x.doneBeforeRun, x.tickedIteration])).toEqual([
      [1, 'done', true, null],
      [2, 'done', true, null],
      [3, 'reviewed', true, null],
      [4, 'reviewed', false, 1],
      [5, 'reviewed', false, 2],
    ]);
    const merged = git(repo.root, 'show', `agent/demo:${planRel}`);
    expect(parsePlan(merged).tasks.map((x) => `${x.marker}:${x.text}`)).toEqual(['done:old 1', 'done:old 2', 'reviewed:old 3', 'reviewed:new work', 'reviewed:nested step']);
    // Each review was told exactly the one task ticked in its diff.
    for (const [n, task] of [
      [1, 'task 4: new work'],
      [2, 'task 5: nested step'],
    ] as const) {
      const prompt = readFileSync(join(run.runDir, `review-0${n}.prompt.txt`), 'utf8');
      const listed = prompt.split('Tasks ticked in this diff')[1]!.split('\n\n')[0]!.split('\n').slice(1);
      expect(listed).toEqual([`- ${task}`]);
    }
  });

  it('a user editing the workspace plan after creation changes nothing: the run works from the recorded plan', async () => {
    const repo = makeRepo({ tasks: 2 });
    const created = await create(repo.root, {}, { max_runs_per_workspace: 1, reviewer: false, merge_strategy: 'none' });
    writeFileSync(join(repo.root, 'specs', 'planning', 'demo-plan.md'), '# Plan\n- [x] task 1\n- [x] task 2\n');
    const run = await waitForRun(t.client, created.id);
    expect(run.status).toBe('COMPLETED');
    expect(readFileSync(join(run.runDir, 'iter-02.log'), 'utf8')).toContain('working on task 2');
  });

  it('with the reviewer off, completes on facts without the token', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await waitForRun(t.client, (await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(`FAKE_NO_TOKEN=1 ${FAKE_AGENT}`, { reviewer: false, verify_cmds: 'true', merge_strategy: 'none' }) })).id);
    expect(run.status).toBe('COMPLETED');
    expect((await t.daemon.store.getRunTruth(run.id))?.completion).toBe('complete_facts');
    expect(run).toMatchObject({ completion: 'complete_facts', tasksDone: 1, tasksTotal: 1 });
    const summary = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ completion: 'complete_facts', tasks_done: 1, tasks_total: 1 });
    const evs = await t.client.runs.eventsList.query({ run: run.id, limit: 1000 });
    expect(evs.find((e) => e.type === 'COMPLETION_PROVEN')!.payload).toMatchObject({ completion: 'complete_facts' });
  });
});

sqliteDescribe('verification commands', () => {
  it('cannot rewrite the run branch either: restored, said in the next prompt, and twice fails the run', async () => {
    const repo = makeRepo({ tasks: 3 });
    const run = await waitForRun(t.client, (await create(repo.root, {}, { reviewer: false, verify_cmds: 'git reset -q --hard HEAD~1' })).id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'tampering:history_rewritten' });
    const evs = await t.client.runs.eventsList.query({ run: run.id, limit: 1000 });
    expect(evs.filter((e) => isEventOf(e, 'SIGNAL')).filter((e) => e.payload.signal === 'history_rewritten').map((e) => e.payload.phase)).toEqual(['verification', 'verification']);
    expect(readFileSync(join(run.runDir, 'iter-02.prompt.txt'), 'utf8')).toContain('not even from test scripts');
    // Iteration 1's work survived the reset.
    expect(git(repo.root, 'show', 'run/demo:task-1.txt')).toContain('did task 1');
  });
});

sqliteDescribe('daemon status', () => {
  it('says which containment is in effect', async () => {
    const s = await t.client.daemon.status.query();
    expect(s.containment).toMatchObject({ cgroup: false });
    expect(s.containment.env).toMatch(/LOOPD_\* variables removed/);
    expect(s.containment.processes).toMatch(/nonce/);
  });
});

sqliteDescribe('the reviewer only reads', () => {
  it('sets aside what a reviewer changed or committed, then applies its verdict', async () => {
    const repo = makeRepo({ tasks: 1 });
    const reviewer = join(tempDir(), 'meddling-reviewer.sh');
    writeFileSync(
      reviewer,
      '#!/bin/sh\ncat > /dev/null\necho "reviewer was here" > reviewer.txt\ngit add -A && git -c user.name=r -c user.email=r@l commit -qm "reviewer edit"\necho edited > README.md\necho APPROVED\n',
      { mode: 0o755 },
    );
    const run = await waitForRun(t.client, (await create(repo.root, {}, { reviewer_agent: 'command', reviewer_cmd: reviewer })).id);
    expect(run.status).toBe('COMPLETED');
    const evs = await t.client.runs.eventsList.query({ run: run.id, limit: 1000 });
    expect(evs.some((e) => e.type === 'REVIEWER_CHANGES_DISCARDED')).toBe(true);
    // The implementation left a clean tree and recorded it; the review took its "before" from that
    // record (functions/review-steps.ts recordedClean) and still saw everything the reviewer did.
    const impl = (await t.daemon.store.stepsForRun(run.id)).find((s) => s.phase === 'implementation')!;
    expect(impl.result).toMatchObject({ cleanAt: impl.result!.commitAfter });
    expect(git(repo.root, 'ls-tree', '--name-only', 'agent/demo')).not.toContain('reviewer.txt');
    expect(git(repo.root, 'show', 'agent/demo:README.md')).toBe('# test repo');
    expect(parsePlan(git(repo.root, 'show', 'agent/demo:specs/planning/demo-plan.md')).counts.reviewed).toBe(1);
  });
});
