// The full loop: review, verification, watchdog, retries, run control, budgets and providers,
// driven through the real daemon with fake agents and fake reviewers.
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../core/plan.js';
import { isEventOf, type EventType } from '../../core/events.js';
import type { EventView, EventViewOf } from '../../router/index.js';
import { FAKE_AGENT_SH, FIXTURES, commandFlags, git, isLive, makeRepo, startTestDaemon, tempDir, waitFor, waitForRun, type TestDaemon } from './harness.js';

// The agent's language is not what this file tests: the sh fake agent does what fake-agent.mjs
// does without a Node start-up per call.
const FAKE_AGENT = FAKE_AGENT_SH;

// One daemon for the file: every test has its own repo (runs, branches and per-workspace limits
// are per repo), and each test waits for its runs to end, so the next one starts on an idle daemon.
let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

const events = (id: string) => t.client.runs.eventsList.query({ run: id, limit: 10000 });
const ofType = <K extends EventType>(evs: EventView[], type: K) => evs.filter((e): e is EventViewOf<K> => isEventOf(e, type));
// merge_strategy=none: no merge step (a dozen git processes) where the merge is not what a test
// looks at; the tests that do look at it ask for the default squash.
const quick = { claude_retry_backoff_sec: 0, merge_strategy: 'none' };
const merged = { merge_strategy: 'squash' };

/** The run as the API shows it once it is PAUSED; the wait reads the store in-process (no HTTP request per look). */
async function pausedRun(id: string) {
  await waitFor(async () => (await t.daemon.store.getRun(id))?.status === 'PAUSED');
  const run = await t.client.runs.get.query({ run: id });
  expect(run.status).toBe('PAUSED');
  return run;
}

async function create(repoRoot: string, agentCmd: string, flags: Record<string, string | number | boolean> = {}) {
  return t.client.runs.create.mutate({ cwd: repoRoot, spec: 'specs/demo.md', flags: commandFlags(agentCmd, { ...quick, ...flags }) });
}

describe('review', () => {
  it('a rejection is saved and fed to the next prompt, then an approval marks [R] and completes', async () => {
    const repo = makeRepo({ tasks: 1 });
    const created = await create(repo.root, `FAKE_REVIEW=reject-once ${FAKE_AGENT}`, merged);
    const run = await waitForRun(t.client, created.id);
    expect(run.status).toBe('COMPLETED');
    const detail = await t.client.runs.get.query({ run: run.id });
    expect(detail.steps.map((s) => `${s.phase}:${s.iteration}`)).toEqual(['implementation:1', 'review:1', 'implementation:2', 'review:2', 'merge:2']);
    const notes = join(run.runDir, 'review-01.md');
    expect(readFileSync(notes, 'utf8')).toContain('task file lacks a trailing summary line');
    expect(readFileSync(join(run.runDir, 'iter-02.prompt.txt'), 'utf8')).toContain(notes);
    const evs = await events(run.id);
    expect(ofType(evs, 'REVIEW_REJECTED')[0]!.payload).toMatchObject({ iteration: 1, notesPath: notes });
    expect(ofType(evs, 'REVIEW_APPROVED')[0]!.payload).toMatchObject({ iteration: 2, reviewed: 1 });
    // loopd wrote [R] and committed it on the run branch; the target got it.
    expect(parsePlan(git(repo.root, 'show', 'agent/demo:specs/planning/demo-plan.md')).counts).toMatchObject({ reviewed: 1, done: 0 });
    expect(git(repo.root, 'log', '--format=%s', 'run/demo')).toContain('loopd: review approved iteration 2');
    const report = readFileSync(join(run.runDir, 'report.tsv'), 'utf8');
    expect(report).toContain('changes requested');
  });

  it('undoes [R] written by the implementation agent (plan_tampered); doing it again fails the run', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_SELF_REVIEW=1 ${FAKE_AGENT}`, merged)).id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'tampering:plan_tampered' });
    const evs = await events(run.id);
    const tampered = ofType(evs, 'SIGNAL').filter((e) => e.payload.signal === 'plan_tampered');
    expect(tampered).toHaveLength(2);
    expect(String((tampered[0]!.payload.changes as string[])[0])).toMatch(/only loopd marks a task \[R\]/);
    // The run branch holds loopd's restore: the task is open again, nothing was merged.
    expect(parsePlan(git(repo.root, 'show', 'run/demo:specs/planning/demo-plan.md')).counts).toMatchObject({ pending: 1, reviewed: 0 });
    expect(() => git(repo.root, 'rev-parse', '--verify', 'agent/demo')).toThrow();
    // The second prompt said why.
    expect(readFileSync(join(run.runDir, 'iter-02.prompt.txt'), 'utf8')).toContain('loopd undid part of your last iteration');
  });

  it('max_consecutive_review_failures ends the run', async () => {
    const repo = makeRepo({ tasks: 3 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_REVIEW=reject ${FAKE_AGENT}`, { max_consecutive_review_failures: 2 })).id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'max_consecutive_failures:review:2' });
  });

  // One run for two facts: worktree_cleanup is about the end of any run, so it rides along here.
  it('a separate reviewer command is used for reviews; worktree_cleanup=true removes the worktree of an ended run but keeps its branch', async () => {
    const repo = makeRepo({ tasks: 1 });
    const reviewer = join(tempDir(), 'reviewer.sh');
    writeFileSync(reviewer, '#!/bin/sh\ncat > /dev/null\necho "reviewer for $LOOP_PHASE of iteration $LOOP_ITERATION, diff at $LOOP_DIFF_FILE"\necho APPROVED\n');
    chmodSync(reviewer, 0o755);
    const run = await waitForRun(t.client, (await create(repo.root, FAKE_AGENT, { reviewer_agent: 'command', reviewer_cmd: reviewer, worktree_cleanup: true })).id);
    expect(run.status).toBe('COMPLETED');
    const log = readFileSync(join(run.runDir, 'review-01.log'), 'utf8');
    expect(log).toContain('reviewer for review of iteration 1');
    expect(readFileSync(join(run.runDir, 'review-01.diff'), 'utf8')).toContain('task-1.txt');
    await waitFor(() => !existsSync(run.worktreePath));
    expect(git(repo.root, 'rev-parse', '--verify', 'run/demo')).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('verification', () => {
  it('a failure writes runner-notes.txt for the next prompt, then a pass completes', async () => {
    const repo = makeRepo({ tasks: 2 });
    const run = await waitForRun(t.client, (await create(repo.root, FAKE_AGENT, { reviewer: false, verify_cmds: 'true|test -f task-2.txt' })).id);
    expect(run.status).toBe('COMPLETED');
    const notes = readFileSync(join(run.runDir, 'runner-notes.txt'), 'utf8');
    expect(notes).toContain('Command: test -f task-2.txt');
    expect(notes).toContain('exit code 1');
    expect(readFileSync(join(run.runDir, 'iter-02.prompt.txt'), 'utf8')).toContain(join(run.runDir, 'runner-notes.txt'));
    for (const f of ['verify-01-1.log', 'verify-01-2.log', 'verify-02-1.log', 'verify-02-2.log']) expect(existsSync(join(run.runDir, f)), f).toBe(true);
    const evs = await events(run.id);
    expect(ofType(evs, 'VERIFY_FAILED')[0]!.payload).toMatchObject({ iteration: 1, command: 'test -f task-2.txt', exitCode: 1 });
    expect(ofType(evs, 'VERIFY_PASSED')).toHaveLength(1);
    const kinds = readFileSync(join(run.runDir, 'report.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')[1]);
    expect(kinds).toEqual(['implementation', 'verify', 'verify', 'implementation', 'verify', 'verify', 'run']);
  });

  it('three consecutive failures end the run with max_consecutive_failures:verification:3', async () => {
    const repo = makeRepo({ tasks: 6 });
    const run = await waitForRun(t.client, (await create(repo.root, FAKE_AGENT, { reviewer: false, verify_cmds: 'echo checking; exit 2' })).id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'max_consecutive_failures:verification:3' });
    const summary = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ exit_reason: 'failed', exit_detail: 'max_consecutive_failures:verification:3' });
    // The second failure in a row also made the watchdog step in.
    expect(ofType(await events(run.id), 'WATCHDOG_REWRITE').map((e) => e.payload.signal)).toEqual(['verification_failed']);
  });

  it('a verification timeout kills the command tree and counts as a failure', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await waitForRun(
      t.client,
      (await create(repo.root, FAKE_AGENT, { reviewer: false, verify_cmds: 'sleep 30', verify_timeout_sec: 1, max_consecutive_verification_failures: 1 })).id,
    );
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'max_consecutive_failures:verification:1' });
    expect(readFileSync(join(run.runDir, 'runner-notes.txt'), 'utf8')).toContain('timed out after 1s');
  });
});

describe('watchdog', () => {
  it('a repeating agent gets a rewritten prompt and recovers', async () => {
    const repo = makeRepo({ tasks: 2 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_STUCK=1 ${FAKE_AGENT}`, { reviewer: false })).id);
    expect(run.status).toBe('COMPLETED');
    const evs = await events(run.id);
    const rewrites = ofType(evs, 'WATCHDOG_REWRITE');
    expect(rewrites).toHaveLength(1);
    const p = rewrites[0]!.payload;
    expect(p.signals).toEqual(['repeated_task', 'no_progress']);
    expect(p.signal).toBe('repeated_task');
    expect(p.promptPath).toBe(join(run.runDir, 'prompt.txt'));
    expect(p.rewritePath).toBe(join(run.runDir, 'prompt.rewrite.1.txt'));
    const rewritten = readFileSync(join(run.runDir, 'prompt.rewrite.1.txt'), 'utf8');
    expect(rewritten).toContain('going in circles');
    // The next implementation got exactly the rewritten prompt.
    expect(readFileSync(join(run.runDir, 'iter-03.prompt.txt'), 'utf8')).toBe(rewritten);
    expect(readFileSync(join(run.runDir, 'report.tsv'), 'utf8')).toContain('\twatchdog\t2\t');
  });

  it('fails with watchdog:<signal> once watchdog_max_rewrites are used', async () => {
    const repo = makeRepo({ tasks: 2 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_STUCK=always ${FAKE_AGENT}`, { reviewer: false })).id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'watchdog:repeated_task' });
    expect(ofType(await events(run.id), 'WATCHDOG_REWRITE')).toHaveLength(2);
    expect(existsSync(join(run.runDir, 'prompt.rewrite.2.txt'))).toBe(true);
    expect(existsSync(join(run.runDir, 'prompt.rewrite.3.txt'))).toBe(false);
  });

  it('a false completion token fires malformed_complete and a rewrite', async () => {
    const repo = makeRepo({ tasks: 3 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_FALSE_COMPLETE=1 ${FAKE_AGENT}`, { reviewer: false })).id);
    expect(run.status).toBe('COMPLETED');
    const evs = await events(run.id);
    expect(ofType(evs, 'WATCHDOG_REWRITE').map((e) => e.payload.signal)).toEqual(['malformed_complete', 'malformed_complete']);
  });
});

describe('agent resilience', () => {
  it('retries transient API errors with exponential backoff, each retry an event', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_TRANSIENT=2 ${FAKE_AGENT}`, { reviewer: false, claude_retries: 0 })).id);
    expect(run.status).toBe('COMPLETED');
    const retries = ofType(await events(run.id), 'STEP_RETRY_QUEUED').map((e) => e.payload);
    expect(retries).toMatchObject([
      { reason: 'transient', delayMs: 1000, attempt: 2 },
      { reason: 'transient', delayMs: 2000, attempt: 3 },
    ]);
    expect(String(retries[0]!.detail)).toMatch(/overloaded/i);
  });

  it('a rate limit with a reset time holds the agent until then', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await waitForRun(t.client, (await create(repo.root, `FAKE_RATE_LIMIT_MS=2500 ${FAKE_AGENT}`, { reviewer: false })).id);
    expect(run.status).toBe('COMPLETED');
    const evs = await events(run.id);
    const wait = ofType(evs, 'RATE_LIMIT_WAIT')[0]!;
    expect(wait.payload.agent).toBe('command');
    const until = wait.payload.until as number;
    expect(until).toBeGreaterThan(wait.ts);
    const retryStart = ofType(evs, 'STEP_STARTED').find((e) => e.payload.attempt === 2)!;
    expect(retryStart.ts).toBeGreaterThanOrEqual(until);
  });

  it('sums claude token usage and cost, and pauses a run that crosses max_cost_usd', async () => {
    const bin = tempDir();
    symlinkSync(join(FIXTURES, 'fake-claude.sh'), join(bin, 'claude'));
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const repo = makeRepo({ tasks: 4 });
      const created = await t.client.runs.create.mutate({
        cwd: repo.root,
        spec: 'specs/demo.md',
        flags: { agent: 'claude', reviewer: false, max_cost_usd: 0.5, model: 'fake-model', merge_strategy: 'none' },
      });
      const paused = await pausedRun(created.id);
      expect(paused.pauseReason).toBe('budget_exceeded');
      expect(paused.costUsd).toBeCloseTo(0.5);
      expect(paused.inputTokens).toBe(2000);
      expect(paused.outputTokens).toBe(400);
      const evs = await events(created.id);
      expect(ofType(evs, 'BUDGET_EXCEEDED')[0]!.payload).toMatchObject({ maxCostUsd: 0.5 });
      // Resuming with a higher budget: the next crossing pauses again.
      await t.client.runs.resume.mutate({ run: created.id, maxCostUsd: 0.7 });
      const again = await pausedRun(created.id);
      expect(again.costUsd).toBeCloseTo(0.75);
      // Resuming without a new budget goes on to the end.
      await t.client.runs.resume.mutate({ run: created.id });
      const run = await waitForRun(t.client, created.id);
      expect(run.status).toBe('COMPLETED');
      expect(readFileSync(join(run.runDir, 'iter-01.log'), 'utf8')).toContain('"type":"result"');
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('run control', () => {
  it('pause lets the current step finish and claims no more; resume carries on', async () => {
    const repo = makeRepo({ tasks: 2 });
    const created = await create(repo.root, `FAKE_SLEEP_MS=600 ${FAKE_AGENT}`, { reviewer: false });
    await waitFor(async () => (await t.daemon.store.stepsForRun(created.id)).find((s) => s.status === 'IN_PROGRESS'));
    const paused = await t.client.runs.pause.mutate({ run: created.id });
    expect(paused.status).toBe('PAUSED');
    await waitFor(async () => (await t.daemon.store.stepsForRun(created.id)).every((s) => s.status !== 'IN_PROGRESS'));
    // "Claims no more" without a stopwatch: once the dispatcher is idle (no round queued or running,
    // nothing in flight) it has passed over the paused run's queued step and will not come back to it.
    await t.daemon.dispatcher.idle();
    const steps = await t.daemon.store.stepsForRun(created.id);
    expect(steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'QUEUED']);
    expect((await t.client.runs.get.query({ run: created.id })).status).toBe('PAUSED');
    await expect(t.client.runs.pause.mutate({ run: created.id })).rejects.toThrow(/already paused/);
    await t.client.runs.resume.mutate({ run: created.id });
    expect((await waitForRun(t.client, created.id)).status).toBe('COMPLETED');
    await expect(t.client.runs.resume.mutate({ run: created.id })).rejects.toThrow(/not PAUSED/);
  });

  it('cancel during review kills the reviewer; the branch and worktree stay', async () => {
    const repo = makeRepo({ tasks: 2 });
    const created = await create(repo.root, `FAKE_REVIEW_SLEEP_MS=60000 ${FAKE_AGENT}`);
    await waitFor(async () => (await t.daemon.store.stepsForRun(created.id)).find((s) => s.phase === 'review' && s.pid));
    const canceled = await t.client.runs.cancel.mutate({ run: created.id });
    expect(canceled.status).toBe('CANCELED');
    const review = (await t.daemon.store.stepsForRun(created.id)).find((s) => s.phase === 'review')!;
    expect(review.status).toBe('CANCELED');
    expect(existsSync(created.worktreePath)).toBe(true);
    expect(git(repo.root, 'rev-parse', '--verify', 'run/demo')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('cancel during verification kills the command', async () => {
    const repo = makeRepo({ tasks: 2 });
    const pids = join(tempDir(), 'verify.pids');
    // The command and its child write their pids, then wait: only a kill ends them.
    const created = await create(repo.root, FAKE_AGENT, { reviewer: false, verify_cmds: `sleep 60 & echo $$ $! > ${pids}; wait` });
    const [shell, child] = await waitFor(() => {
      const p = existsSync(pids) ? readFileSync(pids, 'utf8').trim().split(' ').map(Number) : [];
      return p.length === 2 ? p : null;
    });
    expect(isLive(shell!) && isLive(child!)).toBe(true);
    // Cancel returns once the step has ended, and a step ends only when its process tree is gone.
    expect((await t.client.runs.cancel.mutate({ run: created.id })).status).toBe('CANCELED');
    expect((await t.daemon.store.stepsForRun(created.id)).find((s) => s.phase === 'verification')!.status).toBe('CANCELED');
    expect([shell, child].filter((pid) => isLive(pid!))).toEqual([]);
  });

  it('a run canceled before it started still gets report.tsv and summary.json', async () => {
    const repo = makeRepo({ tasks: 1 });
    const created = await create(repo.root, FAKE_AGENT, { max_runs_per_workspace: 1 });
    const blocked = await create(repo.root, FAKE_AGENT, { max_runs_per_workspace: 1 });
    expect((await t.client.runs.get.query({ run: blocked.id })).status).toBe('PENDING');
    const canceled = await t.client.runs.cancel.mutate({ run: blocked.id });
    expect(canceled.status).toBe('CANCELED');
    const summary = JSON.parse(readFileSync(join(blocked.runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'CANCELED', exit_reason: 'canceled', iterations_run: 0 });
    expect(readFileSync(join(blocked.runDir, 'report.tsv'), 'utf8')).toContain('CANCELED: canceled');
    await waitForRun(t.client, created.id);
  });

  // The same run also shows worktree_provider=auto falling back to git without wt on PATH.
  it('prompt preview is the exact prompt of iteration 1; worktree_provider=auto falls back to git without wt', async () => {
    const repo = makeRepo({ tasks: 1 });
    const preview = await t.client.runs.prompt.query({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT) });
    expect(await t.daemon.store.listRuns({ workspace: repo.root })).toHaveLength(0);
    const created = await create(repo.root, FAKE_AGENT, { worktree_provider: 'auto' });
    expect(created.worktreeProvider).toBe('git');
    expect(ofType(await events(created.id), 'WORKTREE_PROVIDER')[0]!.payload.provider).toBe('git');
    const run = await waitForRun(t.client, created.id);
    expect(readFileSync(join(run.runDir, 'iter-01.prompt.txt'), 'utf8')).toBe(preview.prompt);
    expect(preview.worktreePath).toBe(run.worktreePath);
  });
});

describe('naming and providers', () => {
  it('haiku naming asks the agent for a name, and falls back to the spec slug on failure', async () => {
    const repo = makeRepo({ tasks: 1 });
    const a = await create(repo.root, FAKE_AGENT, { run_naming_mode: 'haiku', merge_strategy: 'none' });
    expect(a).toMatchObject({ name: 'quiet-river-stone', nameSource: 'haiku', runBranch: 'run/quiet-river-stone' });
    const b = await create(repo.root, `FAKE_NAME_EXIT=3 ${FAKE_AGENT}`, { run_naming_mode: 'haiku', merge_strategy: 'none' });
    expect(b).toMatchObject({ name: 'demo', nameSource: 'spec_slug' });
    expect(ofType(await events(b.id), 'NAME_FALLBACK')[0]!.payload.reason).toMatch(/exited with code 3/);
    await waitForRun(t.client, a.id);
    await waitForRun(t.client, b.id);
    // The naming agent ran in a scratch dir, not in the user's checkout.
    expect(git(repo.root, 'status', '--porcelain')).toBe('');
  });

  it('worktree_provider=auto uses worktrunk when wt is on PATH, and records the choice', async () => {
    const bin = tempDir();
    symlinkSync(join(FIXTURES, 'wt-stub.sh'), join(bin, 'wt'));
    const log = join(bin, 'calls.log');
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    process.env.WT_STUB_LOG = log;
    try {
      const repo = makeRepo({ tasks: 1 });
      const created = await create(repo.root, FAKE_AGENT, { worktree_provider: 'auto' });
      expect(created.worktreeProvider).toBe('worktrunk');
      const run = await waitForRun(t.client, created.id);
      expect(run.status).toBe('COMPLETED');
      expect(readFileSync(log, 'utf8')).toContain('switch --create run/demo --base main');
      const evs = await events(run.id);
      expect(ofType(evs, 'WORKTREE_PROVIDER')[0]!.payload.provider).toBe('worktrunk');
      expect(existsSync(run.worktreePath)).toBe(true);
    } finally {
      process.env.PATH = oldPath;
      delete process.env.WT_STUB_LOG;
    }
  });
});
