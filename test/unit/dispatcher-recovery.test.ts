// The dispatcher across a "restart" (a new Dispatcher on the same database) and the coordination
// it keeps in the database: requeue of steps whose process is gone (with their input), owed
// finalisation paged through, merge serialization per target branch.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimedDone, newRun, rig, runId } from './dispatcher-harness.js';

describe('dispatcher: recovery after a restart', () => {
  it('requeues a step left IN_PROGRESS whose process is gone, with the same input, without using up a retry', async () => {
    const r = rig();
    await r.create(1, { config: { claude_retries: 0 } });
    r.fake.hold = true;
    const first = r.dispatcher({ instanceId: 'old' });
    await first.start();
    await r.fake.calledTimes(1);
    // The daemon dies with the step in flight (its handler never returns).
    await first.stop();
    expect((await r.store.stepsForRun(runId(1)))[0]).toMatchObject({ status: 'IN_PROGRESS', lease_owner: 'old' });
    r.fake.hold = false;
    const second = r.dispatcher({ instanceId: 'new' });
    await second.start();
    await second.idle();
    const steps = await r.store.stepsForRun(runId(1));
    expect(steps.map((s) => [s.status, s.attempt, s.lease_owner])).toEqual([
      ['FAILED', 1, 'old'],
      ['SUCCEEDED', 2, 'new'],
    ]);
    expect(steps[0]).toMatchObject({ result: { requeued: true }, error: 'the daemon stopped while this step ran and its process is gone' });
    expect(r.fake.calls[1]!.input.step).toMatchObject({ attempt: 2 });
    expect(await r.types(runId(1))).toContain('STEP_REQUEUED');
    expect((await r.store.getRun(runId(1)))!.status).toBe('COMPLETED');
  });

  it('a requeued step keeps the input it was queued with (a watchdog step its signals)', async () => {
    const r = rig();
    await r.create(1);
    // What a daemon that died mid-step leaves: the run RUNNING, its watchdog step claimed.
    const step = await r.store.transaction(async (tx) => {
      await tx.admitRun(runId(1), r.clock.now());
      const q = await tx.queueStep({ run_id: runId(1), phase: 'watchdog', iteration: 1, attempt: 1, input: { signals: ['no_progress'] } });
      return (await tx.claimStep(q.id, 'gone-host', r.clock.now()))!;
    });
    r.fake.auto = () => ({ status: 'SUCCEEDED', exitCode: 0, result: { signal: null, signals: ['no_progress'] } });
    const d = r.dispatcher({ phases: ['watchdog'] });
    await d.start();
    await d.idle({ inFlight: false });
    const watchdog = r.fake.calls.find((c) => c.phase === 'watchdog')!;
    expect(watchdog.input.step).toMatchObject({ phase: 'watchdog', attempt: 2, input: { signals: ['no_progress'] } });
    expect((await r.store.getStep(step.id))!.status).toBe('FAILED');
  });

  it('queues the watchdog with the signals that fired, in the step row, and hands them to its handler', async () => {
    const r = rig();
    await r.create(1);
    r.fake.auto = (c) =>
      c.phase === 'watchdog'
        ? { status: 'SUCCEEDED', exitCode: 0, result: { signal: 'malformed_complete', signals: ['malformed_complete'], rewritePath: '/r1' } }
        : c.input.step.iteration === 1
          ? { status: 'SUCCEEDED', exitCode: 0, result: { claimed: false, malformed: true, openTasks: 1, commits: 1, planChanged: true } }
          : claimedDone;
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    const watchdog = (await r.store.stepsForRun(runId(1))).find((s) => s.phase === 'watchdog')!;
    expect(watchdog.input).toEqual({ signals: ['malformed_complete'] });
    expect(r.fake.calls.find((c) => c.phase === 'watchdog')!.input.step.input).toEqual({ signals: ['malformed_complete'] });
    expect((await r.store.getRun(runId(1)))!.status).toBe('COMPLETED');
  });

  it('fails, without requeueing, a step left IN_PROGRESS of a run that was canceled meanwhile', async () => {
    const r = rig();
    await r.create(1);
    r.fake.hold = true;
    const first = r.dispatcher();
    await first.start();
    await r.fake.calledTimes(1);
    await first.stop();
    await r.store.transaction((tx) => tx.requestCancel(runId(1)));
    const second = r.dispatcher();
    await second.start();
    await second.idle();
    expect((await r.store.stepsForRun(runId(1))).map((s) => s.status)).toEqual(['FAILED']);
    expect(await r.store.getRun(runId(1))).toMatchObject({ status: 'CANCELED' });
    expect(r.fake.calls).toHaveLength(1);
  });

  it('finishes every run whose finalisation is owed, past the first page', async () => {
    const r = rig();
    const n = 7;
    await r.store.transaction(async (tx) => {
      for (let i = 1; i <= n; i++) {
        await tx.createRun(newRun(runId(i), r.dir));
        await tx.finishRun(runId(i), 'COMPLETED', 'complete_plan', null, r.clock.now());
      }
    });
    expect(await r.store.runsToFinalize(1000)).toHaveLength(n);
    const d = r.dispatcher({ finalisePageSize: 3 });
    await d.start();
    await d.idle();
    expect(await r.store.runsToFinalize(1000)).toEqual([]);
    const oldest = (await r.store.getRun(runId(1)))!;
    expect(existsSync(join(oldest.run_dir, 'summary.json'))).toBe(true);
    expect(r.fake.calls).toHaveLength(0);
  });
});

describe('dispatcher: merge serialization', () => {
  it('runs one merge per target branch at a time, by a merge_locks row; another target is not held up', async () => {
    const r = rig();
    const merging = { merge_strategy: 'squash', merge_target_branch: 'main' };
    await r.create(1, merging);
    await r.create(2, merging);
    await r.create(3, { ...merging, merge_target_branch: 'release' });
    r.fake.hold = true;
    const d = r.dispatcher();
    await d.start();
    await r.fake.calledTimes(3);
    for (const c of r.fake.calls) c.finish(claimedDone);
    await r.fake.calledTimes(5);
    await d.idle({ inFlight: false });
    const merges = r.fake.calls.filter((c) => c.phase === 'merge');
    expect(merges).toHaveLength(2);
    expect(merges.map((m) => m.input.run.mergeTargetBranch).sort()).toEqual(['main', 'release']);
    const waiting = merges.find((m) => m.input.run.mergeTargetBranch === 'main')!.runId === runId(1) ? runId(2) : runId(1);
    expect((await r.store.stepsForRun(waiting)).at(-1)).toMatchObject({ phase: 'merge', status: 'QUEUED' });
    const locks = await r.store.mergeLocks();
    expect(locks.map((l) => l.target_branch).sort()).toEqual(['main', 'release']);
    const merged = { status: 'SUCCEEDED', exitCode: 0, result: { mergeStatus: 'merged', commit: 'abc' } } as const;
    for (const m of merges) m.finish(merged);
    await r.fake.calledTimes(6);
    expect(r.fake.calls[5]).toMatchObject({ phase: 'merge', runId: waiting });
    r.fake.calls[5]!.finish(merged);
    await d.idle();
    expect(await r.store.runStatusCounts()).toMatchObject({ COMPLETED: 3 });
    expect(await r.store.mergeLocks()).toEqual([]);
  });
});
