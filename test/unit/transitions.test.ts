import { describe, expect, it } from 'vitest';
import { MAX_TRANSIENT_BACKOFF_MS, nextStep, type StepFact, type TransitionConfig } from '../../host/transitions.js';

const base: TransitionConfig = {
  iterations: 5,
  agentRetries: 2,
  agentRetryBackoffSec: 3,
  transientRetries: 3,
  mergeEnabled: true,
  reviewer: false,
  verify: false,
  maxConsecutiveVerificationFailures: 3,
  maxConsecutiveReviewFailures: 0,
  watchdogMaxRewrites: 2,
  noProgressIterations: 2,
};
const full: TransitionConfig = { ...base, reviewer: true, verify: true };
const run = { cancelRequested: false };
const NOW = 1_000_000;

function step(phase: StepFact['phase'], iteration: number, result: StepFact['result'], status: StepFact['status'] = 'SUCCEEDED', attempt = 1): StepFact {
  return { phase, status, iteration, attempt, result };
}
const progress = { claimed: false, malformed: false, openTasks: 2, unreviewedTasks: 1, commits: 1, planChanged: true };
const done = { claimed: true, malformed: false, openTasks: 0, unreviewedTasks: 1, commits: 1, planChanged: true };
const impl = (i: number, r: StepFact['result'] = progress, status: StepFact['status'] = 'SUCCEEDED', attempt = 1) => step('implementation', i, r, status, attempt);
const approve = (i: number, unreviewed = 0) => step('review', i, { approved: true, openTasks: 0, unreviewedTasks: unreviewed });
const reject = (i: number) => step('review', i, { approved: false, openTasks: 0, unreviewedTasks: 1 });
const pass = (i: number) => step('verification', i, { passed: true });
const failV = (i: number) => step('verification', i, { passed: false }, 'FAILED');
const decide = (steps: StepFact[], cfg = base, r = run) => nextStep(r, steps, cfg, NOW);

describe('nextStep: the basic loop', () => {
  it('starts with implementation iteration 1', () => {
    expect(decide([])).toEqual({ kind: 'queue', phase: 'implementation', iteration: 1, attempt: 1, delayMs: 0, signals: [] });
  });

  it('waits while a step is queued or in progress', () => {
    expect(decide([impl(1, null, 'QUEUED')]).kind).toBe('wait');
    expect(decide([impl(1, null, 'IN_PROGRESS')]).kind).toBe('wait');
    expect(decide([impl(1, null, 'IN_PROGRESS')], base, { cancelRequested: true }).kind).toBe('wait');
  });

  it('goes to the next iteration while tasks remain', () => {
    expect(decide([impl(1)])).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2, attempt: 1 });
  });

  it('merges when the agent claimed completion and no task is open', () => {
    expect(decide([impl(1), impl(2, done)])).toMatchObject({ kind: 'queue', phase: 'merge', iteration: 2 });
  });

  it('completes without a merge when merging is off', () => {
    expect(decide([impl(1, done)], { ...base, mergeEnabled: false })).toEqual({
      kind: 'finish',
      status: 'COMPLETED',
      reason: 'complete_plan',
      signals: [],
      proof: { completion: 'complete_token', why: 'complete_token: claimed by the agent' },
    });
  });

  it('does not complete without a claim even when every task is done', () => {
    expect(decide([impl(1, { ...done, claimed: false })])).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2 });
  });

  it('fails with iterations_exhausted at the cap, but a completion on the last iteration still completes', () => {
    const four = [1, 2, 3, 4].map((i) => impl(i));
    expect(decide([...four, impl(5)])).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'iterations_exhausted' });
    expect(decide([...four, impl(5, done)])).toMatchObject({ kind: 'queue', phase: 'merge' });
  });

  it('completes after a merge, and a merge that landed wins over a late cancel', () => {
    const merged = step('merge', 1, { mergeStatus: 'merged' });
    expect(decide([impl(1, done), merged])).toMatchObject({ kind: 'finish', status: 'COMPLETED', reason: 'complete_plan' });
    expect(decide([impl(1, done), merged], base, { cancelRequested: true })).toMatchObject({ status: 'COMPLETED' });
  });

  it('fails with merge_conflict on a conflict, merge_failed otherwise', () => {
    expect(decide([impl(1, done), step('merge', 1, { mergeStatus: 'conflict' }, 'FAILED')])).toMatchObject({ reason: 'merge_conflict' });
    expect(decide([impl(1, done), step('merge', 1, { mergeStatus: 'error' }, 'FAILED')])).toMatchObject({ reason: 'merge_failed' });
  });

  it('cancels when a cancel was requested, or after a canceled step', () => {
    expect(decide([impl(1)], base, { cancelRequested: true })).toMatchObject({ kind: 'finish', status: 'CANCELED', reason: 'canceled' });
    expect(decide([], base, { cancelRequested: true })).toMatchObject({ kind: 'finish', status: 'CANCELED' });
    expect(decide([impl(1, null, 'CANCELED')])).toMatchObject({ kind: 'finish', status: 'CANCELED' });
    expect(decide([impl(1), step('review', 1, null, 'CANCELED')], full)).toMatchObject({ status: 'CANCELED' });
    expect(decide([impl(1), approve(1), step('verification', 1, null, 'CANCELED')], full)).toMatchObject({ status: 'CANCELED' });
  });
});

describe('nextStep: phase order', () => {
  it('implementation -> verification -> review -> next implementation', () => {
    expect(decide([impl(1)], full)).toMatchObject({ kind: 'queue', phase: 'verification', iteration: 1 });
    expect(decide([impl(1), pass(1)], full)).toMatchObject({ kind: 'queue', phase: 'review', iteration: 1 });
    expect(decide([impl(1), pass(1), approve(1, 1)], full)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2 });
  });

  it('skips review when the reviewer is off and verification when there are no commands', () => {
    expect(decide([impl(1)], { ...full, reviewer: false })).toMatchObject({ phase: 'verification' });
    expect(decide([impl(1), pass(1)], { ...full, reviewer: false })).toMatchObject({ phase: 'implementation', iteration: 2 });
    expect(decide([impl(1)], { ...full, verify: false })).toMatchObject({ phase: 'review' });
    expect(decide([impl(1), approve(1, 1)], { ...full, verify: false })).toMatchObject({ phase: 'implementation', iteration: 2 });
  });

  it('never reviews work whose verification failed; the fix is reviewed together with it', () => {
    expect(decide([impl(1), failV(1)], full)).toMatchObject({ phase: 'implementation', iteration: 2 });
    // Iteration 2 changed nothing, but iteration 1's code was never reviewed.
    const idle = { ...progress, commits: 0, codeChanged: false };
    expect(decide([impl(1), failV(1), impl(2, idle), pass(2)], full)).toMatchObject({ phase: 'review', iteration: 2 });
  });

  it('never calls the reviewer for an iteration that changed nothing but the plan', () => {
    const planOnly = { ...progress, commits: 1, codeChanged: false };
    expect(decide([impl(1, planOnly)], { ...full, verify: false })).toMatchObject({ phase: 'implementation', iteration: 2 });
    expect(decide([impl(1, planOnly), pass(1)], full)).toMatchObject({ phase: 'implementation', iteration: 2 });
    // Reviewed code stays reviewed: a later idle iteration has nothing new to show.
    expect(decide([impl(1), pass(1), approve(1, 1), impl(2, planOnly), pass(2)], full)).toMatchObject({ phase: 'implementation', iteration: 3 });
  });

  it('completion without a ledger (plan-less) needs the claim, an approving review and passing verification', () => {
    expect(decide([impl(1, done), pass(1), approve(1, 0)], full)).toMatchObject({ kind: 'queue', phase: 'merge' });
    expect(decide([impl(1, done), pass(1), reject(1)], full)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2 });
    expect(decide([impl(1, done), failV(1)], full)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 2 });
  });

  it('without the reviewer, the claim and passing verification are enough (plan-less)', () => {
    expect(decide([impl(1, done), pass(1)], { ...full, reviewer: false })).toMatchObject({ phase: 'merge' });
  });
});

describe('nextStep: completion on facts (ledger)', () => {
  const ledger = (open: number, pendingReview = 0) => ({ total: 3, open, pendingReview, reviewed: 3 - open - pendingReview, doneBeforeRun: 0 });
  const withLedger = (open: number, pendingReview = 0) => ({ cancelRequested: false, ledger: ledger(open, pendingReview) });
  const silent = { ...progress, claimed: false, openTasks: 0 };

  it('completes when every task is reviewed, verification passed and the review approved, without the token', () => {
    const d = decide([impl(1, silent), pass(1), approve(1)], full, withLedger(0));
    expect(d).toMatchObject({ kind: 'queue', phase: 'merge', proof: { completion: 'complete_facts' } });
    expect(decide([impl(1, done), pass(1), approve(1)], full, withLedger(0))).toMatchObject({ proof: { completion: 'complete_token' } });
  });

  it('a token does not complete while tasks wait for review or are open', () => {
    // Claimed with every task ticked, then the review sent one back: redo it, no malformed signal.
    expect(decide([impl(1, done), pass(1), reject(1)], full, withLedger(1))).toMatchObject({ phase: 'implementation', iteration: 2, signals: [] });
    expect(decide([impl(1, { ...done, openTasks: 2 }), pass(1), approve(1)], full, withLedger(2))).toMatchObject({ phase: 'watchdog', signals: ['malformed_complete'] });
    expect(decide([impl(1, done), failV(1)], full, withLedger(0, 1))).toMatchObject({ phase: 'implementation', iteration: 2 });
  });

  it('with the reviewer off, ticked tasks complete the run once verification passed', () => {
    const cfg = { ...full, reviewer: false };
    expect(decide([impl(1, silent), pass(1)], cfg, withLedger(0, 3))).toMatchObject({ phase: 'merge', proof: { completion: 'complete_facts' } });
    expect(decide([impl(1, silent), failV(1)], cfg, withLedger(0, 3))).toMatchObject({ phase: 'implementation' });
  });
});

describe('nextStep: tampering', () => {
  const tampered = (kind: string) => ({ ...progress, tampering: [kind] });

  it('the same kind twice in a run fails it with tampering:<kind>, before verification or review', () => {
    expect(decide([impl(1, tampered('plan_tampered'))], full)).toMatchObject({ phase: 'verification' });
    const twice = [impl(1, tampered('plan_tampered')), pass(1), approve(1), impl(2, tampered('plan_tampered'))];
    expect(decide(twice, full)).toEqual({ kind: 'finish', status: 'FAILED', reason: 'tampering:plan_tampered', signals: [] });
  });

  it('different kinds do not add up', () => {
    const steps = [impl(1, tampered('spec_tampered')), pass(1), approve(1), impl(2, tampered('tick_without_work'))];
    expect(decide(steps, full)).toMatchObject({ kind: 'queue', phase: 'verification' });
  });

  it('reports kinds in a fixed order when two repeat at once', () => {
    const both = { ...progress, tampering: ['plan_tampered', 'spec_tampered'] };
    expect(decide([impl(1, both), impl(2, both)])).toMatchObject({ reason: 'tampering:spec_tampered' });
  });
});

describe('nextStep: consecutive failures', () => {
  it('fails after max_consecutive_verification_failures, with the count in the reason', () => {
    const steps = [impl(1), approve(1), failV(1), impl(2), approve(2), failV(2), impl(3), approve(3), failV(3)];
    // Two failures in a row also fire the watchdog; the rewrite is what iteration 3 got.
    const withWatchdog = [...steps.slice(0, 6), step('watchdog', 2, { rewritePath: '/r1' }), ...steps.slice(6)];
    expect(decide(withWatchdog, full)).toEqual({ kind: 'finish', status: 'FAILED', reason: 'max_consecutive_failures:verification:3', signals: [] });
  });

  it('a pass resets the verification streak', () => {
    const steps = [impl(1), approve(1), failV(1), impl(2), approve(2), pass(2), impl(3), approve(3), failV(3)];
    expect(decide(steps, full)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 4 });
  });

  it('max 0 disables the verification limit', () => {
    const steps = [impl(1), approve(1), failV(1)];
    expect(decide(steps, { ...full, maxConsecutiveVerificationFailures: 0, watchdogMaxRewrites: 5 })).toMatchObject({ kind: 'queue' });
  });

  it('review rejections end the run only when max_consecutive_review_failures is set', () => {
    const steps = [impl(1), pass(1), reject(1), impl(2), pass(2), reject(2)];
    expect(decide(steps, full)).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 3 });
    expect(decide(steps, { ...full, maxConsecutiveReviewFailures: 2 })).toMatchObject({ kind: 'finish', reason: 'max_consecutive_failures:review:2' });
    expect(decide([impl(1), pass(1), reject(1), impl(2), pass(2), approve(2)], { ...full, maxConsecutiveReviewFailures: 1 })).toMatchObject({ kind: 'queue' });
  });
});

describe('nextStep: watchdog', () => {
  const stuck = { claimed: false, malformed: false, openTasks: 2, unreviewedTasks: 0, commits: 0, planChanged: false };

  it('a claim with open tasks is malformed_complete: watchdog, then the next iteration', () => {
    const d = decide([impl(1, { ...progress, claimed: true })]);
    expect(d).toMatchObject({ kind: 'queue', phase: 'watchdog', iteration: 1, signals: ['malformed_complete'] });
    expect(decide([impl(1, { ...progress, claimed: true }), step('watchdog', 1, { rewritePath: '/r1' })])).toMatchObject({ phase: 'implementation', iteration: 2 });
  });

  it('a misplaced token is malformed_complete', () => {
    expect(decide([impl(1, { ...progress, malformed: true })])).toMatchObject({ phase: 'watchdog', signals: ['malformed_complete'] });
  });

  it('repeated_task fires above 85% similarity', () => {
    expect(decide([impl(1), impl(2, { ...progress, similarity: 0.9 })])).toMatchObject({ phase: 'watchdog', signals: ['repeated_task'] });
    expect(decide([impl(1), impl(2, { ...progress, similarity: 0.85 })])).toMatchObject({ phase: 'implementation', iteration: 3 });
  });

  it('no_progress fires after watchdog_no_progress_iterations iterations without commit or plan change', () => {
    expect(decide([impl(1, stuck)])).toMatchObject({ phase: 'implementation', iteration: 2 });
    expect(decide([impl(1, stuck), impl(2, stuck)])).toMatchObject({ phase: 'watchdog', signals: ['no_progress'] });
    expect(decide([impl(1, stuck), impl(2, { ...stuck, planChanged: true })])).toMatchObject({ phase: 'implementation', iteration: 3 });
    expect(decide([impl(1, stuck)], { ...base, noProgressIterations: 1 })).toMatchObject({ phase: 'watchdog', signals: ['no_progress'] });
  });

  it('verification_failed fires on the second consecutive verification failure', () => {
    const cfg = { ...full, maxConsecutiveVerificationFailures: 5 };
    expect(decide([impl(1), approve(1), failV(1)], cfg)).toMatchObject({ phase: 'implementation', iteration: 2 });
    expect(decide([impl(1), approve(1), failV(1), impl(2), approve(2), failV(2)], cfg)).toMatchObject({ phase: 'watchdog', signals: ['verification_failed'] });
  });

  it('several signals at once are all reported', () => {
    const d = decide([impl(1, stuck), impl(2, { ...stuck, similarity: 1, claimed: true })]);
    expect(d).toMatchObject({ phase: 'watchdog' });
    expect(d.kind === 'queue' && d.signals).toEqual(['malformed_complete', 'repeated_task', 'no_progress']);
  });

  it('after watchdog_max_rewrites rewrites the run fails with watchdog:<signal>', () => {
    const steps = [impl(1, stuck), impl(2, stuck), step('watchdog', 2, { rewritePath: '/r1' }), impl(3, stuck), step('watchdog', 3, { rewritePath: '/r2' }), impl(4, stuck)];
    expect(decide(steps)).toEqual({ kind: 'finish', status: 'FAILED', reason: 'watchdog:no_progress', signals: ['no_progress'] });
    expect(decide(steps, { ...base, watchdogMaxRewrites: 3 })).toMatchObject({ phase: 'watchdog' });
    expect(decide([impl(1, stuck), impl(2, stuck)], { ...base, watchdogMaxRewrites: 0 })).toMatchObject({ reason: 'watchdog:no_progress' });
  });

  it('a watchdog step that found nothing to rewrite does not count against the budget', () => {
    const steps = [impl(1, stuck), impl(2, stuck), step('watchdog', 2, { rewritePath: null }), impl(3, stuck)];
    expect(decide(steps, { ...base, watchdogMaxRewrites: 1 })).toMatchObject({ phase: 'watchdog' });
  });

  it('a failed watchdog step fails the run', () => {
    expect(decide([impl(1, stuck), step('watchdog', 1, null, 'FAILED')])).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'failed' });
  });

  it('the iteration cap wins over the watchdog', () => {
    expect(decide([impl(1, stuck), impl(2, stuck)], { ...base, iterations: 2 })).toMatchObject({ reason: 'iterations_exhausted' });
  });

  it('completion wins over signals', () => {
    expect(decide([impl(1, stuck), impl(2, { ...done, commits: 0, planChanged: false, similarity: 1 })])).toMatchObject({ phase: 'merge' });
  });
});

describe('nextStep: retries', () => {
  it('retries a failed agent with a fixed backoff, same iteration', () => {
    expect(decide([impl(1, null, 'FAILED')])).toMatchObject({ kind: 'queue', phase: 'implementation', iteration: 1, attempt: 2, delayMs: 3000, retry: { reason: 'agent_failed' } });
  });

  it('fails with the step failReason once retries are used up (agent_failed without one); zero retries fail at once', () => {
    const steps = [impl(1, null, 'FAILED', 1), impl(1, null, 'FAILED', 2), impl(1, null, 'FAILED', 3)];
    expect(decide(steps)).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'agent_failed' });
    const claude = { failReason: 'claude_failed' };
    expect(decide([impl(1, claude, 'FAILED', 1), impl(1, claude, 'FAILED', 2), impl(1, claude, 'FAILED', 3)])).toMatchObject({ reason: 'claude_failed' });
    expect(decide([impl(1, null, 'FAILED')], { ...base, agentRetries: 0 })).toMatchObject({ kind: 'finish', reason: 'agent_failed' });
  });

  it('a fatal failure (bad key, refusal to run as root, deleted worktree) fails the run at once with its reason', () => {
    const auth = { fatal: true, failReason: 'claude_failed:auth', errorKind: 'auth' };
    expect(decide([impl(1, auth, 'FAILED')])).toMatchObject({ kind: 'finish', status: 'FAILED', reason: 'claude_failed:auth' });
    expect(decide([impl(1, { fatal: true, failReason: 'worktree_missing' }, 'FAILED')])).toMatchObject({ kind: 'finish', reason: 'worktree_missing' });
    expect(decide([impl(1), step('review', 1, { fatal: true, failReason: 'branch_switched' }, 'FAILED')], full)).toMatchObject({ kind: 'finish', reason: 'branch_switched' });
    // Also for phases that run no agent: a verification that found its worktree gone.
    expect(decide([impl(1), step('review', 1, { approved: true }), step('verification', 1, { fatal: true, failReason: 'worktree_missing' }, 'FAILED')], full)).toMatchObject({
      kind: 'finish',
      reason: 'worktree_missing',
    });
  });

  it('a retry that succeeds continues with the next iteration', () => {
    expect(decide([impl(1, null, 'FAILED', 1), impl(1, progress, 'SUCCEEDED', 2)])).toMatchObject({ phase: 'implementation', iteration: 2, attempt: 1 });
  });

  it('transient errors back off exponentially on their own budget, capped at 2 minutes', () => {
    const t = (attempt: number) => impl(1, { transientError: 'overloaded' }, 'FAILED', attempt);
    expect(decide([t(1)])).toMatchObject({ attempt: 2, delayMs: 3000, retry: { reason: 'transient', detail: 'overloaded' } });
    expect(decide([t(1), t(2)])).toMatchObject({ attempt: 3, delayMs: 6000 });
    expect(decide([t(1), t(2), t(3)])).toMatchObject({ attempt: 4, delayMs: 12000 });
    expect(decide([t(1), t(2), t(3), t(4)])).toMatchObject({ kind: 'finish', reason: 'agent_failed' });
    const net = (attempt: number) => impl(1, { transientError: 'Unable to connect', failReason: 'claude_failed:network' }, 'FAILED', attempt);
    expect(decide([net(1), net(2), net(3), net(4)])).toMatchObject({ kind: 'finish', reason: 'claude_failed:network' });
    const many = Array.from({ length: 10 }, (_, i) => t(i + 1));
    expect(decide(many, { ...base, transientRetries: 20, agentRetryBackoffSec: 5 })).toMatchObject({ delayMs: MAX_TRANSIENT_BACKOFF_MS });
    // Transient failures do not use up claude_retries, and ordinary failures do not use up transient ones.
    expect(decide([t(1), t(2), impl(1, null, 'FAILED', 3)], { ...base, agentRetries: 1 })).toMatchObject({ attempt: 4, retry: { reason: 'agent_failed' } });
  });

  it('a rate limit with a reset time waits until the reset', () => {
    const d = decide([impl(1, { transientError: 'usage limit reached', rateLimitResetAt: NOW + 45_000 }, 'FAILED')]);
    expect(d).toMatchObject({ attempt: 2, delayMs: 45_000, retry: { reason: 'rate_limit', until: NOW + 45_000 } });
    // A reset time in the past is ordinary backoff.
    expect(decide([impl(1, { transientError: 'rate limit', rateLimitResetAt: NOW - 1 }, 'FAILED')])).toMatchObject({ delayMs: 3000, retry: { reason: 'transient' } });
  });

  it('a crashing reviewer is retried like an agent, then fails the run', () => {
    expect(decide([impl(1), step('review', 1, null, 'FAILED')], full)).toMatchObject({ phase: 'review', iteration: 1, attempt: 2 });
    const crashes = [impl(1), step('review', 1, null, 'FAILED', 1), step('review', 1, null, 'FAILED', 2), step('review', 1, null, 'FAILED', 3)];
    expect(decide(crashes, full)).toMatchObject({ kind: 'finish', reason: 'agent_failed' });
  });
});
