// The dispatcher with fake handlers and a fake clock: scheduling (claim order, caps, races).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimedDone, progress, rig, runId } from './dispatcher-harness.js';

describe('dispatcher: a run end to end', () => {
  it('runs a plan-less run to COMPLETED, each state change with its event, and finalises it', async () => {
    const r = rig();
    await r.create(1);
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    const run = (await r.store.getRun(runId(1)))!;
    expect(run).toMatchObject({ status: 'COMPLETED', exit_reason: 'complete_plan' });
    expect(run.finalized_at).not.toBeNull();
    expect(await r.types(runId(1))).toEqual(['RUN_STARTED', 'STEP_QUEUED', 'STEP_STARTED', 'STEP_FINISHED', 'COMPLETION_PROVEN', 'RUN_COMPLETED']);
    expect(existsSync(join(run.run_dir, 'summary.json'))).toBe(true);
    expect((await r.store.artifactsForRun(run.id)).map((a) => a.kind).sort()).toEqual(['report', 'summary']);
    const [step] = await r.store.stepsForRun(run.id);
    expect(step).toMatchObject({ phase: 'implementation', status: 'SUCCEEDED', lease_owner: 'host-a', result: { claimed: true } });
    await d.stop();
  });

  it('hands the handler its run, step, history and ledger, and iterates until the agent claims completion', async () => {
    const r = rig();
    await r.create(1);
    r.fake.auto = (c) => (c.input.step.iteration < 3 ? progress : claimedDone);
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    expect(r.fake.calls.map((c) => c.input.step.iteration)).toEqual([1, 2, 3]);
    expect(r.fake.calls[2]!.input.history.map((h) => [h.phase, h.iteration, h.status])).toEqual([
      ['implementation', 1, 'SUCCEEDED'],
      ['implementation', 2, 'SUCCEEDED'],
    ]);
    expect(r.fake.calls[0]!.input.run).toMatchObject({ id: runId(1), runBranch: `run/${runId(1)}`, config: { reviewer: false } });
    expect((await r.store.getRun(runId(1)))!.status).toBe('COMPLETED');
  });

  it('fails the run, with a clear error, when this loopd has no handler for a queued phase', async () => {
    const r = rig();
    await r.create(1);
    const d = r.dispatcher({ phases: ['review'] });
    await d.start();
    await d.idle();
    expect(await r.store.getRun(runId(1))).toMatchObject({ status: 'FAILED', last_error: 'this loopd has no handler for the implementation phase' });
    expect(r.fake.calls).toHaveLength(0);
  });
});

describe('dispatcher: admission and claims', () => {
  it('keeps at most maxConcurrency runs active; the next is admitted when one ends', async () => {
    const r = rig();
    for (const n of [1, 2, 3]) await r.create(n);
    r.fake.hold = true;
    const d = r.dispatcher({ maxConcurrency: 2 });
    await d.start();
    await r.fake.calledTimes(2);
    await d.idle({ inFlight: false });
    expect(r.fake.calls.map((c) => c.runId)).toEqual([runId(1), runId(2)]);
    expect((await r.store.getRun(runId(3)))!.status).toBe('PENDING');
    r.fake.calls[0]!.finish(claimedDone);
    await r.fake.calledTimes(3);
    expect(r.fake.calls[2]!.runId).toBe(runId(3));
    for (const c of r.fake.calls.slice(1)) c.finish(claimedDone);
    await d.idle();
    const seq = async (id: string, type: string) => (await r.events(id)).find((e) => e.type === type)!.seq;
    expect(await seq(runId(3), 'RUN_STARTED')).toBeGreaterThan(await seq(runId(1), 'RUN_COMPLETED'));
  });

  it('honours max_runs_per_workspace, and admits another workspace meanwhile', async () => {
    const r = rig();
    await r.create(1, { config: { max_runs_per_workspace: 1 } });
    await r.create(2, { config: { max_runs_per_workspace: 1 } });
    await r.create(3, { workspace_root: join(r.dir, 'other-ws') });
    r.fake.hold = true;
    const d = r.dispatcher({ maxConcurrency: 3 });
    await d.start();
    await r.fake.calledTimes(2);
    await d.idle({ inFlight: false });
    expect(r.fake.calls.map((c) => c.runId).sort()).toEqual([runId(1), runId(3)]);
    expect((await r.store.getRun(runId(2)))!.status).toBe('PENDING');
    for (const c of r.fake.calls) c.finish(claimedDone);
    await r.fake.calledTimes(3);
    r.fake.calls[2]!.finish(claimedDone);
    await d.idle();
    expect((await r.store.getRun(runId(2)))!.status).toBe('COMPLETED');
  });

  it('admits first come first served (fifo), or newest first with queue_policy=newest_first', async () => {
    for (const [policy, order] of [
      ['fifo', [1, 2, 3]],
      ['newest_first', [3, 2, 1]],
    ] as const) {
      const r = rig();
      for (const n of [1, 2, 3]) await r.create(n, { config: { queue_policy: policy } });
      const d = r.dispatcher({ maxConcurrency: 1 });
      await d.start();
      await d.idle();
      expect(r.fake.calls.map((c) => c.runId)).toEqual(order.map(runId));
    }
  });

  it('two dispatchers on one database (two hosts) run every step exactly once: a lost claim is skipped', async () => {
    const r = rig();
    for (const n of [1, 2, 3, 4]) await r.create(n);
    r.fake.auto = (c) => (c.input.step.iteration < 2 ? progress : claimedDone);
    const a = r.dispatcher({ instanceId: 'host-a' });
    const b = r.dispatcher({ instanceId: 'host-b' });
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.idle(), b.idle()]);
    await Promise.all([a.idle(), b.idle()]);
    const steps = (await Promise.all([1, 2, 3, 4].map((n) => r.store.stepsForRun(runId(n))))).flat();
    expect(steps).toHaveLength(8);
    expect(r.fake.calls).toHaveLength(8);
    expect(new Set(r.fake.calls.map((c) => c.input.step.id)).size).toBe(8);
    expect(await r.store.runStatusCounts()).toMatchObject({ COMPLETED: 4 });
  });
});
