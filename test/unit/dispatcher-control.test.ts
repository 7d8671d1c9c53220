// The dispatcher with fake handlers and a fake clock: retries and back-off, rate-limit holds,
// the budget pause, cancel mid-step. Back-offs pass by advancing the clock, never by waiting.
import { describe, expect, it } from 'vitest';
import type { HandlerResult } from '../../functions/types.js';
import { claimedDone, rig, runId, T0 } from './dispatcher-harness.js';

const failed: HandlerResult = { status: 'FAILED', exitCode: 1, error: 'agent exited 1', result: { claimed: false, malformed: false, errorKind: 'other' } };

describe('dispatcher: retries and holds', () => {
  it('retries a failed agent after its back-off, not before', async () => {
    const r = rig();
    await r.create(1, { config: { claude_retries: 1, claude_retry_backoff_sec: 30 } });
    r.fake.auto = () => (r.fake.calls.length === 1 ? failed : claimedDone);
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    expect(r.fake.calls).toHaveLength(1);
    const retry = (await r.events(runId(1))).find((e) => e.type === 'STEP_RETRY_QUEUED')!;
    expect(retry.payload).toMatchObject({ attempt: 2, delayMs: 30_000, message: 'agent exited 1' });
    expect((await r.store.stepsWithStatus(['QUEUED']))[0]!.not_before).toBe(T0 + 30_000);
    r.clock.advance(29_000);
    await d.idle();
    expect(r.fake.calls).toHaveLength(1);
    r.clock.advance(1_000);
    await d.idle();
    expect(r.fake.calls.map((c) => c.input.step.attempt)).toEqual([1, 2]);
    expect((await r.store.getRun(runId(1)))!.status).toBe('COMPLETED');
  });

  it('fails the run with agent_failed once the retries are used up', async () => {
    const r = rig();
    await r.create(1, { config: { claude_retries: 0 } });
    r.fake.auto = () => failed;
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    expect(await r.store.getRun(runId(1))).toMatchObject({ status: 'FAILED', last_error: 'agent exited 1' });
    expect((await r.store.getRun(runId(1)))!.exit_reason).toMatch(/^agent_failed/);
  });

  it('a rate limit holds that agent kind for every run, in the database (a new dispatcher keeps it), until it resets', async () => {
    const r = rig();
    const until = T0 + 60_000;
    await r.create(1);
    r.fake.auto = () =>
      r.fake.calls.length === 1 ? { status: 'FAILED', exitCode: 1, error: 'rate limited', result: { errorKind: 'rate_limit', rateLimitResetAt: until } } : claimedDone;
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    expect(await r.store.agentHolds(r.clock.now())).toEqual([{ agent: 'claude', until, run_id: runId(1), step_id: 1 }]);
    expect((await r.events(runId(1))).find((e) => e.type === 'RATE_LIMIT_WAIT')!.payload).toEqual({ agent: 'claude', until });
    // Another run of the same agent kind waits too; after a "restart" the hold still stands.
    await r.create(2);
    await d.stop();
    const d2 = r.dispatcher({ instanceId: 'host-b' });
    await d2.start();
    await d2.idle();
    expect(r.fake.calls).toHaveLength(1);
    expect((await r.store.stepsWithStatus(['QUEUED'])).map((s) => s.run_id).sort()).toEqual([runId(1), runId(2)]);
    r.clock.advance(60_000);
    await d2.idle();
    expect(r.fake.calls).toHaveLength(3);
    expect(await r.store.runStatusCounts()).toMatchObject({ COMPLETED: 2 });
  });
});

describe('dispatcher: budget and control', () => {
  it('pauses a run that crosses max_cost_usd, once; resuming with a raised budget carries on', async () => {
    const r = rig();
    await r.create(1, { config: { max_cost_usd: 1 } });
    r.fake.auto = (c) => ({
      status: 'SUCCEEDED',
      exitCode: 0,
      usage: { costUsd: 0.75, inputTokens: 10, outputTokens: 5 },
      result: c.input.step.iteration < 3 ? { claimed: false, openTasks: 1, commits: 1, planChanged: true } : claimedDone.result,
    });
    const d = r.dispatcher();
    await d.start();
    await d.idle();
    expect(r.fake.calls).toHaveLength(2);
    expect(await r.store.getRun(runId(1))).toMatchObject({ status: 'PAUSED', pause_reason: 'budget_exceeded', cost_usd: 1.5, input_tokens: 20 });
    expect((await r.events(runId(1))).find((e) => e.type === 'BUDGET_EXCEEDED')!.payload).toEqual({ costUsd: 1.5, maxCostUsd: 1 });
    // The next step is queued, but a paused run's steps are not claimed.
    expect(await r.store.stepsWithStatus(['QUEUED'])).toHaveLength(1);
    await d.resume(runId(1), { maxCostUsd: 10 });
    await d.idle();
    expect(r.fake.calls).toHaveLength(3);
    expect(await r.store.getRun(runId(1))).toMatchObject({ status: 'COMPLETED', cost_usd: 2.25, config: { max_cost_usd: 10 } });
    expect(await r.types(runId(1))).toContain('CONFIG_CHANGED');
  });

  it('pause lets the current step finish and claims no more until resume', async () => {
    const r = rig();
    await r.create(1);
    r.fake.hold = true;
    const d = r.dispatcher();
    await d.start();
    await r.fake.calledTimes(1);
    await d.pause(runId(1));
    r.fake.calls[0]!.finish({ status: 'SUCCEEDED', exitCode: 0, result: { claimed: false, openTasks: 1, commits: 1, planChanged: true } });
    await d.idle();
    expect(r.fake.calls).toHaveLength(1);
    expect((await r.store.getRun(runId(1)))!.status).toBe('PAUSED');
    r.fake.hold = false;
    await d.resume(runId(1));
    await d.idle();
    expect(r.fake.calls).toHaveLength(2);
    expect((await r.store.getRun(runId(1)))!.status).toBe('COMPLETED');
  });

  it('cancel mid-step aborts the handler and records the run CANCELED, finalised', async () => {
    const r = rig();
    await r.create(1);
    r.fake.hold = true;
    const d = r.dispatcher();
    await d.start();
    await r.fake.calledTimes(1);
    const call = r.fake.calls[0]!;
    call.input.signal.addEventListener('abort', () => call.finish({ status: 'CANCELED', exitCode: null, result: {} }));
    await d.cancel(runId(1));
    const run = (await r.store.getRun(runId(1)))!;
    expect(run).toMatchObject({ status: 'CANCELED', exit_reason: 'canceled', cancel_requested: true });
    expect(run.finalized_at).not.toBeNull();
    expect((await r.store.stepsForRun(runId(1)))[0]!.status).toBe('CANCELED');
    await d.idle();
    expect(r.fake.calls).toHaveLength(1);
  });

  it('cancel of a run with no step in flight ends it at once', async () => {
    const r = rig();
    await r.create(1);
    const d = r.dispatcher({ maxConcurrency: 1 });
    await d.cancel(runId(1));
    expect(await r.store.getRun(runId(1))).toMatchObject({ status: 'CANCELED' });
    expect(await r.types(runId(1))).toEqual(['RUN_CANCEL_REQUESTED', 'RUN_CANCELED']);
  });
});
