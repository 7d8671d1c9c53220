import { describe, expect, it } from 'vitest';
import type { RunStatus, StepStatus } from '../../core/types.js';
import { budgetPause, rateLimitHold } from '../../host/step-policy.js';

describe('budgetPause', () => {
  const running = (costBefore: number, costAfter: number, maxCostUsd = 1) => budgetPause({ runStatus: 'RUNNING', costBefore, costAfter, maxCostUsd });

  it('pauses the step that crosses the budget, with the figures for the event', () => {
    expect(running(0.5, 1.2)).toEqual({ costUsd: 1.2, maxCostUsd: 1 });
  });

  it('counts reaching the budget exactly as crossing it', () => {
    expect(running(0.5, 1)).toEqual({ costUsd: 1, maxCostUsd: 1 });
  });

  it('does not pause below the budget', () => {
    expect(running(0.2, 0.9)).toBeNull();
    expect(running(0, 0)).toBeNull();
  });

  it('pauses only once: a run already over its budget (resumed without raising it) goes on', () => {
    expect(running(1, 1.5)).toBeNull();
    expect(running(1.5, 2)).toBeNull();
  });

  it('has no budget at 0 (no limit) or below', () => {
    expect(running(0, 100, 0)).toBeNull();
    expect(running(0, 100, -1)).toBeNull();
  });

  it('pauses only a RUNNING run', () => {
    const others: RunStatus[] = ['PENDING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELED'];
    for (const runStatus of others) expect(budgetPause({ runStatus, costBefore: 0, costAfter: 5, maxCostUsd: 1 })).toBeNull();
  });
});

describe('rateLimitHold', () => {
  const now = 1_000;
  const hold = (over: Partial<Parameters<typeof rateLimitHold>[0]> = {}) =>
    rateLimitHold({ stepStatus: 'FAILED', agentKind: 'claude', rateLimitResetAt: now + 500, now, ...over });

  it('holds the agent kind of a failed step until its rate limit resets', () => {
    expect(hold()).toEqual({ agent: 'claude', until: now + 500 });
    expect(hold({ agentKind: 'codex' })).toEqual({ agent: 'codex', until: now + 500 });
  });

  it('holds nothing for a step that did not fail', () => {
    const others: StepStatus[] = ['SUCCEEDED', 'CANCELED', 'QUEUED', 'IN_PROGRESS'];
    for (const stepStatus of others) expect(hold({ stepStatus })).toBeNull();
  });

  it('holds nothing for a phase that runs no agent', () => {
    expect(hold({ agentKind: null })).toBeNull();
    expect(hold({ agentKind: '' })).toBeNull();
  });

  it('holds nothing when the reset time is missing, not a number, or already past', () => {
    for (const rateLimitResetAt of [undefined, null, '2000', Number.NaN, Number.POSITIVE_INFINITY, now, now - 1]) {
      expect(hold({ rateLimitResetAt })).toBeNull();
    }
  });
});
