import { describe, expect, it } from 'vitest';
import { nextStep, type StepFact, type TransitionConfig } from '../../host/transitions.js';

const cfg: TransitionConfig = { iterations: 5, agentRetries: 2, agentRetryBackoffSec: 3, mergeEnabled: true };
const run = { cancelRequested: false };

function impl(iteration: number, result: StepFact['result'], status: StepFact['status'] = 'SUCCEEDED', attempt = 1): StepFact {
  return { phase: 'implementation', status, iteration, attempt, result };
}
const progress = { claimed: false, malformed: false, openTasks: 2 };
const done = { claimed: true, malformed: false, openTasks: 0 };

describe('nextStep', () => {
  it('starts with implementation iteration 1', () => {
    expect(nextStep(run, [], cfg)).toEqual({ kind: 'queue', phase: 'implementation', iteration: 1, attempt: 1, delayMs: 0, signals: [] });
  });

  it('waits while a step is queued or in progress', () => {
    expect(nextStep(run, [impl(1, null, 'QUEUED')], cfg).kind).toBe('wait');
    expect(nextStep(run, [impl(1, null, 'IN_PROGRESS')], cfg).kind).toBe('wait');
  });

  it('goes to the next iteration while tasks remain', () => {
    expect(nextStep(run, [impl(1, progress)], cfg)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2, attempt: 1 });
  });

  it('merges when the agent claimed completion and no task is open', () => {
    expect(nextStep(run, [impl(1, progress), impl(2, done)], cfg)).toMatchObject({ kind: 'queue', phase: 'merge', iteration: 2 });
  });

  it('completes without a merge when merging is off', () => {
    expect(nextStep(run, [impl(1, done)], { ...cfg, mergeEnabled: false })).toEqual({
      kind: 'finish',
      status: 'COMPLETED',
      reason: 'complete_plan',
      signals: [],
    });
  });

  it('treats a claim with open tasks as malformed_complete and goes on', () => {
    const d = nextStep(run, [impl(1, { claimed: true, malformed: false, openTasks: 1 })], cfg);
    expect(d).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2, signals: ['malformed_complete'] });
  });

  it('reports a misplaced token as malformed_complete', () => {
    const d = nextStep(run, [impl(1, { claimed: false, malformed: true, openTasks: 1 })], cfg);
    expect(d).toMatchObject({ kind: 'queue', signals: ['malformed_complete'] });
  });

  it('does not complete without a claim even when every task is done', () => {
    expect(nextStep(run, [impl(1, { claimed: false, malformed: false, openTasks: 0 })], cfg)).toMatchObject({
      kind: 'queue',
      phase: 'implementation',
      iteration: 2,
    });
  });

  it('fails with iterations_exhausted at the cap', () => {
    const steps = [1, 2, 3, 4, 5].map((i) => impl(i, progress));
    expect(nextStep(run, steps, cfg)).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'iterations_exhausted' });
  });

  it('a completion on the last allowed iteration still completes', () => {
    const steps = [1, 2, 3, 4].map((i) => impl(i, progress));
    expect(nextStep(run, [...steps, impl(5, done)], cfg)).toMatchObject({ kind: 'queue', phase: 'merge' });
  });

  it('retries a failed agent with backoff, same iteration', () => {
    expect(nextStep(run, [impl(1, null, 'FAILED')], cfg)).toMatchObject({
      kind: 'queue',
      phase: 'implementation',
      iteration: 1,
      attempt: 2,
      delayMs: 3000,
    });
  });

  it('fails with claude_failed once retries are used up', () => {
    const steps = [impl(1, null, 'FAILED', 1), impl(1, null, 'FAILED', 2), impl(1, null, 'FAILED', 3)];
    expect(nextStep(run, steps, cfg)).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'claude_failed' });
  });

  it('with zero retries the first failure ends the run', () => {
    expect(nextStep(run, [impl(1, null, 'FAILED')], { ...cfg, agentRetries: 0 })).toMatchObject({ kind: 'finish', reason: 'claude_failed' });
  });

  it('completes after a successful merge', () => {
    const merge: StepFact = { phase: 'merge', status: 'SUCCEEDED', iteration: 1, attempt: 1, result: { mergeStatus: 'merged' } };
    expect(nextStep(run, [impl(1, done), merge], cfg)).toMatchObject({ kind: 'finish', status: 'COMPLETED', reason: 'complete_plan' });
  });

  it('a merge that landed wins over a late cancel', () => {
    const merge: StepFact = { phase: 'merge', status: 'SUCCEEDED', iteration: 1, attempt: 1, result: { mergeStatus: 'merged' } };
    expect(nextStep({ cancelRequested: true }, [impl(1, done), merge], cfg)).toMatchObject({ status: 'COMPLETED' });
  });

  it('fails with merge_conflict on a conflict, merge_failed otherwise', () => {
    const conflict: StepFact = { phase: 'merge', status: 'FAILED', iteration: 1, attempt: 1, result: { mergeStatus: 'conflict' } };
    const error: StepFact = { phase: 'merge', status: 'FAILED', iteration: 1, attempt: 1, result: { mergeStatus: 'error' } };
    expect(nextStep(run, [impl(1, done), conflict], cfg)).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'merge_conflict' });
    expect(nextStep(run, [impl(1, done), error], cfg)).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'merge_failed' });
  });

  it('cancels when a cancel was requested', () => {
    expect(nextStep({ cancelRequested: true }, [impl(1, progress)], cfg)).toMatchObject({ kind: 'finish', status: 'CANCELED', reason: 'canceled' });
    expect(nextStep({ cancelRequested: true }, [], cfg)).toMatchObject({ kind: 'finish', status: 'CANCELED' });
  });

  it('cancels after a canceled step', () => {
    expect(nextStep(run, [impl(1, null, 'CANCELED')], cfg)).toMatchObject({ kind: 'finish', status: 'CANCELED' });
  });

  it('waits for an active step even when cancel was requested', () => {
    expect(nextStep({ cancelRequested: true }, [impl(1, null, 'IN_PROGRESS')], cfg).kind).toBe('wait');
  });

  it('refuses to guess after a phase this version does not schedule', () => {
    const review: StepFact = { phase: 'review', status: 'SUCCEEDED', iteration: 1, attempt: 1, result: null };
    expect(nextStep(run, [impl(1, progress), review], cfg)).toMatchObject({ kind: 'finish', status: 'FAILED' });
  });

  it('a retry that succeeds continues with the next iteration', () => {
    const steps = [impl(1, null, 'FAILED', 1), impl(1, progress, 'SUCCEEDED', 2)];
    expect(nextStep(run, steps, cfg)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2, attempt: 1 });
  });
});
