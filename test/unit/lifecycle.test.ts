import { describe, expect, it } from 'vitest';
import { lifecycle, type ItemState } from '../../dashboard/src/lifecycle.js';
import type { EventView, RunDetail, StepView } from '../../router/index.js';

function step(phase: StepView['phase'], status: StepView['status'], iteration = 1): StepView {
  return { id: 1, phase, status, iteration, attempt: 1, exitCode: null, promptPath: null, outputPath: null, error: null, startedAt: 1, endedAt: null, result: null, costUsd: 0, inputTokens: 0, outputTokens: 0, costSource: null };
}

function run(patch: Partial<RunDetail> = {}): RunDetail {
  return {
    id: 'r1', shortId: 'r1', name: 'demo', nameSource: 'spec_slug', status: 'RUNNING', workspaceRoot: '/w', specPath: 'specs/demo.md', planPath: null,
    baseBranch: 'main', runBranch: 'run/demo', mergeTargetBranch: 'agent/demo', mergeStrategy: 'squash', worktreePath: '/w.run-demo',
    worktreeProvider: 'git', origin: 'cli', exitReason: null, pauseReason: null, lastError: null, createdAt: 1, updatedAt: 1, startedAt: 1,
    endedAt: null, iteration: 1, phase: 'implementation', tasksDone: null, tasksTotal: null, tasksReviewed: null, runDir: '/w/logs', globalRunDir: null,
    costUsd: 0, inputTokens: 0, outputTokens: 0, completion: null, review: { status: 'pending', actor: null, at: null, automatic: false, detail: {} },
    tasks: [],
    steps: [], artifacts: [], config: { reviewer: true, verify_cmds: ['npm test'], iterations: 10 },
    ...patch,
  };
}

function ev(type: string, payload: Record<string, unknown> = {}): EventView {
  return { seq: 1, runId: 'r1', runShortId: 'r1', stepId: null, type, ts: 1, payload } as EventView;
}

function states(r: RunDetail, events: EventView[] = []): Record<string, ItemState> {
  return Object.fromEntries(lifecycle(r, events).map((i) => [i.key, i.state]));
}

describe('lifecycle', () => {
  it('lists the six items in order', () => {
    expect(lifecycle(run(), []).map((i) => i.key)).toEqual(['worktree', 'iterations', 'verifications', 'reviews', 'merge', 'cleanup']);
  });

  it('a queued run has everything ahead of it', () => {
    expect(states(run({ status: 'PENDING', steps: [] }))).toEqual({ worktree: 'todo', iterations: 'todo', reviews: 'todo', verifications: 'todo', merge: 'todo', cleanup: 'off' });
  });

  it('a run in its first implementation', () => {
    const s = states(run({ steps: [step('implementation', 'IN_PROGRESS')] }), [ev('WORKTREE_READY')]);
    expect(s).toMatchObject({ worktree: 'done', iterations: 'active', reviews: 'todo', verifications: 'todo', merge: 'todo', cleanup: 'off' });
  });

  it('reviews and verifications count their outcomes; switched off reads as off', () => {
    const r = run({ steps: [step('implementation', 'SUCCEEDED'), step('review', 'SUCCEEDED'), step('verification', 'IN_PROGRESS')] });
    const items = lifecycle(r, [ev('WORKTREE_READY'), ev('REVIEW_REJECTED'), ev('REVIEW_APPROVED'), ev('VERIFY_FAILED')]);
    expect(items.find((i) => i.key === 'reviews')).toMatchObject({ state: 'done', detail: '1 approved, 1 rejected' });
    expect(items.find((i) => i.key === 'verifications')).toMatchObject({ state: 'active', detail: '0 passed, 1 failed' });
    const off = states(run({ config: { reviewer: false, verify_cmds: [] } }));
    expect(off).toMatchObject({ reviews: 'off', verifications: 'off' });
    expect(states(run({ steps: [step('review', 'SUCCEEDED')] }), [ev('REVIEW_REJECTED')]).reviews).toBe('failed');
  });

  it('a run that merged itself, and one whose worktree was cleaned up', () => {
    const r = run({ status: 'COMPLETED', steps: [step('implementation', 'SUCCEEDED')], review: { status: 'merged', actor: 'loopd', at: 2, automatic: true, detail: { target: 'agent/demo' } } });
    const items = lifecycle(r, [ev('WORKTREE_READY'), ev('WORKTREE_REMOVED')]);
    expect(items.find((i) => i.key === 'merge')).toMatchObject({ state: 'done', detail: 'into agent/demo by loopd (automatic)' });
    expect(items.find((i) => i.key === 'iterations')!.state).toBe('done');
    expect(items.find((i) => i.key === 'cleanup')!.state).toBe('done');
  });

  it('waits for a decision when the automatic merge is off, and shows conflicts, PRs and scraps', () => {
    const ended = { status: 'COMPLETED' as const, steps: [step('implementation', 'SUCCEEDED')] };
    expect(lifecycle(run({ ...ended, mergeStrategy: 'none', mergeTargetBranch: null }), []).find((i) => i.key === 'merge')).toMatchObject({ state: 'todo', detail: 'automatic merge off: your decision' });
    expect(states(run({ ...ended, status: 'FAILED' }), [ev('MERGE_CONFLICT')]).merge).toBe('failed');
    expect(states(run({ ...ended, status: 'FAILED' })).iterations).toBe('failed');
    expect(lifecycle(run({ ...ended, review: { status: 'pr_opened', actor: 'a', at: 1, automatic: false, detail: { url: 'https://x/pull/1' } } }), []).find((i) => i.key === 'merge')).toMatchObject({ state: 'active', detail: 'pull request https://x/pull/1' });
    const scrapped = states(run({ ...ended, review: { status: 'scrapped', actor: 'a', at: 1, automatic: false, detail: {} } }));
    expect(scrapped).toMatchObject({ merge: 'off', cleanup: 'done' });
    expect(states(run(ended)).cleanup).toBe('todo');
  });

  it('a run that ended before it had a worktree', () => {
    expect(states(run({ status: 'CANCELED', steps: [] }))).toMatchObject({ worktree: 'failed', iterations: 'off', reviews: 'off', verifications: 'off' });
  });
});
