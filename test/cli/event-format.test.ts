// One line per event for `run --wait` and `loopctl events`.
import { describe, expect, it } from 'vitest';
import {
  describeEvent,
  EventColumns,
  eventLine,
  eventSummary,
  formatLocalTime,
  formatUsd,
  isRoutine,
  workspaceEventLine,
} from '../../cli/event-format.js';
import { palette } from '../../cli/text.js';
import type { EventView } from '../../router/index.js';

// Local times, so the expected clock strings do not depend on the machine's time zone.
const T0 = new Date(2025, 0, 1, 12, 0, 0).getTime();

function ev(type: string, payload: Record<string, unknown> = {}, ts = T0): EventView {
  // Any type and payload, as an older or newer daemon may send: the formatter must cope.
  return { seq: 42, runId: 'r', runShortId: 'r', stepId: 7, type, ts, payload } as EventView;
}
const line = (type: string, payload: Record<string, unknown> = {}) => eventSummary(ev(type, payload));

describe('event summaries', () => {
  it('STEP_STARTED and STEP_FINISHED say where in the loop, the outcome and the error', () => {
    expect(line('STEP_STARTED', { phase: 'implementation', iteration: 3, attempt: 1 })).toBe('iter 3 implementation');
    expect(line('STEP_STARTED', { phase: 'review', iteration: 3, attempt: 2 })).toBe('iter 3 review attempt 2');
    expect(line('STEP_FINISHED', { phase: 'implementation', iteration: 3, attempt: 1, status: 'SUCCEEDED', exitCode: 0, error: null })).toBe(
      'iter 3 implementation SUCCEEDED',
    );
    expect(
      line('STEP_FINISHED', {
        phase: 'implementation',
        iteration: 2,
        attempt: 2,
        status: 'FAILED',
        exitCode: 1,
        error: 'agent exited with code 1\nstack trace...',
        transientError: true,
      }),
    ).toBe('iter 2 implementation attempt 2 FAILED (exit 1, transient error): agent exited with code 1');
  });

  it('STEP_FINISHED puts the result digest into words', () => {
    expect(
      line('STEP_FINISHED', {
        phase: 'implementation', iteration: 1, attempt: 1, status: 'SUCCEEDED', exitCode: 0, error: null,
        claimed: true, openTasks: 0, tasksDone: 3, tasksTotal: 3, commits: 1, timedOut: false,
      }),
    ).toBe('iter 1 implementation SUCCEEDED (claims complete, tasks 3/3, 1 commit)');
    expect(line('STEP_FINISHED', { phase: 'review', iteration: 1, status: 'SUCCEEDED', approved: false, commits: 0 })).toBe(
      'iter 1 review SUCCEEDED (changes requested, no commits)',
    );
    expect(line('STEP_FINISHED', { phase: 'merge', iteration: 4, status: 'SUCCEEDED', mergeStatus: 'merged', commit: '4a4ccd043caa2098' })).toBe(
      'iter 4 merge SUCCEEDED (merge merged, commit 4a4ccd043)',
    );
    expect(line('STEP_FINISHED', { phase: 'implementation', iteration: 1, status: 'SUCCEEDED', newThing: 'x' })).toBe(
      'iter 1 implementation SUCCEEDED (newThing=x)',
    );
  });

  it('WORKTREE_READY gives the path and provider, and what loopd repaired after a crash', () => {
    expect(line('WORKTREE_READY', { path: '/r.run-x', branch: 'run/x', base: 'main', provider: 'git' })).toBe('/r.run-x (git)');
    expect(line('WORKTREE_READY', { path: '/r.run-x', branch: 'run/x', base: 'main', provider: 'git', repaired: 'removed the stale /r/.git/refs/heads/run/x.lock' })).toBe(
      '/r.run-x (git): repaired: removed the stale /r/.git/refs/heads/run/x.lock',
    );
  });

  it('SIGNAL names the signal', () => {
    expect(line('SIGNAL', { signal: 'no_progress' })).toBe('no_progress');
    expect(line('SIGNAL', { signal: 'spec_tampered', iteration: 2, spec: 'specs/x.md' })).toBe('iter 2: spec_tampered');
    expect(line('SIGNAL', { signal: 'plan_tampered', iteration: 2, changes: ['task 3 "x" was removed or reworded; put back as it was', 'two'] })).toBe(
      'iter 2: plan_tampered: task 3 "x" was removed or reworded; put back as it was (+1 more)',
    );
    expect(line('SIGNAL', { signal: 'tick_without_work', iteration: 1, tasks: [1, 2] })).toBe('iter 1: tick_without_work: tasks 1, 2 un-ticked');
  });

  it('WATCHDOG_REWRITE gives the signal and the rewritten prompt', () => {
    expect(line('WATCHDOG_REWRITE', { signal: 'repeated_task', promptPath: '/r/prompt.txt', rewritePath: '/r/prompt.rewrite.1.txt' })).toBe(
      'after repeated_task, prompt rewritten -> /r/prompt.rewrite.1.txt',
    );
    expect(
      line('WATCHDOG_REWRITE', {
        signal: 'no_progress', signals: ['no_progress', 'verification_failed'], iteration: 4,
        promptPath: '/r/prompt.txt', rewritePath: '/r/prompt.rewrite.2.txt', rewrite: 2,
      }),
    ).toBe('iter 4: after no_progress+verification_failed, prompt rewrite #2 -> /r/prompt.rewrite.2.txt');
  });

  it('REVIEW_APPROVED and REVIEW_REJECTED give the iteration and the notes', () => {
    expect(line('REVIEW_REJECTED', { iteration: 2, notesPath: '/r/review-02.md' })).toBe('iter 2: notes /r/review-02.md');
    expect(line('REVIEW_APPROVED', { iteration: 2, notesPath: '/r/review-02.md' })).toBe('iter 2: notes /r/review-02.md');
    expect(line('REVIEW_APPROVED', { iteration: 3, reviewed: 2 })).toBe('iter 3: 2 tasks marked [R]');
    expect(line('REVIEW_APPROVED', { iteration: 3, reviewed: 0 })).toBe('iter 3');
  });

  it('VERIFY_FAILED and VERIFY_PASSED give the command and its exit code', () => {
    expect(line('VERIFY_FAILED', { command: 'npm test', exitCode: 1 })).toBe('"npm test" exited 1');
    expect(line('VERIFY_FAILED', { iteration: 2, index: 1, command: 'npm test', exitCode: null, timedOut: true })).toBe(
      'iter 2: "npm test" timed out',
    );
    expect(line('VERIFY_FAILED', { command: 'npm test', exitCode: null })).toBe('"npm test" failed (no exit code)');
    expect(line('VERIFY_PASSED', { command: 'npm run lint', exitCode: 0 })).toBe('"npm run lint" passed');
    expect(line('VERIFY_PASSED', { iteration: 2, commands: 2 })).toBe('iter 2: 2 commands passed');
    expect(line('VERIFY_STARTED', { iteration: 2, index: 1, command: 'npm test', log: '/r/verify-02-1.log' })).toBe('iter 2: #1 "npm test"');
  });

  it('RATE_LIMIT_WAIT gives the agent and the local time the limit lifts', () => {
    const until = new Date(2025, 0, 1, 12, 25, 30).getTime();
    expect(eventSummary(ev('RATE_LIMIT_WAIT', { agent: 'claude', until }))).toBe('claude rate-limited until 12:25:30 (25m 30s)');
    const tomorrow = new Date(2025, 0, 2, 9, 5, 0).getTime();
    expect(eventSummary(ev('RATE_LIMIT_WAIT', { agent: 'codex', until: tomorrow }))).toBe('codex rate-limited until 2025-01-02 09:05:00 (21h 05m 00s)');
    expect(eventSummary(ev('RATE_LIMIT_WAIT', { agent: 'claude' }))).toBe('claude rate-limited');
  });

  it('STEP_RETRY_QUEUED gives the delay and the reason', () => {
    expect(line('STEP_RETRY_QUEUED', { phase: 'implementation', iteration: 2, attempt: 2, delayMs: 5000, reason: 'rate limited' })).toBe(
      'iter 2 implementation attempt 2 in 5s: rate limited',
    );
    expect(line('STEP_RETRY_QUEUED', { phase: 'review', iteration: 1, attempt: 3, delayMs: 90_000 })).toBe('iter 1 review attempt 3 in 1m 30s');
    expect(line('STEP_RETRY_QUEUED', { delayMs: 0, reason: 'transient' })).toBe('now: transient');
  });

  it('RUN_PAUSED, RUN_RESUMED and BUDGET_EXCEEDED', () => {
    expect(line('RUN_PAUSED', { reason: 'budget_exceeded' })).toBe('budget_exceeded');
    expect(line('RUN_PAUSED', { reason: 'user' })).toBe('user');
    expect(line('RUN_RESUMED', {})).toBe('');
    expect(line('BUDGET_EXCEEDED', { costUsd: 5.0123, maxCostUsd: 5 })).toBe('spent $5.01, max $5.00');
    expect(line('BUDGET_EXCEEDED', { costUsd: 0.0512, maxCostUsd: 0.05 })).toBe('spent $0.0512, max $0.0500');
  });

  it('run endings give the reason and a different error', () => {
    expect(line('RUN_COMPLETED', { status: 'COMPLETED', reason: 'complete_plan', error: null })).toBe('complete_plan');
    expect(line('RUN_FAILED', { status: 'FAILED', reason: 'iterations_exhausted', error: 'agent failed twice' })).toBe(
      'iterations_exhausted (agent failed twice)',
    );
  });

  it('trigger events name the spec, the run, the reason and the plan', () => {
    const runId = '01934f2a-7b3c-7def-8000-000000000001';
    expect(eventSummary({ ...ev('TRIGGER_FIRED', { spec: 'specs/x.md', runId, reason: 'new spec', plan: 'specs/planning/x-plan.md' }), runId, runShortId: null })).toBe(
      'specs/x.md -> run 01934f2a (new spec, specs/planning/x-plan.md)',
    );
    expect(eventSummary({ ...ev('TRIGGER_FIRED', { spec: 'specs/x.md', reason: 'plan wait over' }), runId, runShortId: null })).toBe(
      'specs/x.md -> run 01934f2a (plan wait over, no plan)',
    );
    expect(line('TRIGGER_SKIPPED', { spec: 'specs/x.md', reason: 'status: draft' })).toBe('specs/x.md: status: draft');
    const until = new Date(2025, 0, 1, 12, 0, 30).getTime();
    expect(line('TRIGGER_WAITING', { spec: 'specs/x.md', plan: 'specs/planning/x-plan.md', until })).toBe(
      'specs/x.md: waiting for specs/planning/x-plan.md until 12:00:30',
    );
  });

  it('falls back to key=value for event types it does not know', () => {
    expect(line('SOMETHING_NEW', { phase: 'review', iteration: 2, detail: 'two words', n: 3 })).toBe('iter 2 review detail="two words" n=3');
    expect(line('SOMETHING_NEW', { a: 1 })).toBe('a=1');
  });

  it('never spans lines', () => {
    const multi = 'first\nsecond\nthird';
    for (const type of ['STEP_FINISHED', 'STEP_RETRY_QUEUED', 'RUN_FAILED', 'VERIFY_FAILED', 'SOMETHING_NEW']) {
      expect(line(type, { error: multi, reason: multi, command: multi, status: 'FAILED' })).not.toContain('\n');
    }
  });
});

describe('event lines', () => {
  // One time format for events and run --wait: local "YYYY-MM-DD HH:MM:SS".
  const at = '2025-01-01 12:00:00';

  it('run --wait: local time, padded type, summary', () => {
    expect(describeEvent(ev('STEP_FINISHED', { phase: 'implementation', iteration: 3, status: 'SUCCEEDED' }))).toBe(
      `${at}  STEP_FINISHED         iter 3 implementation SUCCEEDED`,
    );
    expect(describeEvent(ev('RUN_STARTED', { status: 'RUNNING' }))).toBe(`${at}  RUN_STARTED`);
  });

  it('events: sequence number, local time, type, summary', () => {
    expect(eventLine(ev('SIGNAL', { signal: 'no_progress' }))).toBe(`    42  ${at}  SIGNAL                no_progress`);
  });

  it('events --workspace: the shortest unique run id prefix after the time, "-" for events of no run', () => {
    const runId = '01934f2a-7b3c-7def-8000-000000000001';
    expect(workspaceEventLine({ ...ev('RUN_STARTED'), runId, runShortId: '01934f2a' })).toBe(`    42  ${at}  01934f2a  RUN_STARTED`);
    expect(workspaceEventLine({ ...ev('TRIGGER_SKIPPED', { spec: 'specs/x.md', reason: 'already ran' }), runId: null, runShortId: null })).toBe(
      `    42  ${at}  -         TRIGGER_SKIPPED       specs/x.md: already ran`,
    );
  });

  it('TRIGGER_FIRED names the run by the prefix the daemon says is unique', () => {
    const runId = '01a22a1b-0000-7000-8000-000000000001';
    const fired = { ...ev('TRIGGER_FIRED', { spec: 'specs/x.md', runId, reason: 'new spec' }), runId, runShortId: '01a22a1b-0' };
    expect(eventSummary(fired)).toBe('specs/x.md -> run 01a22a1b-0 (new spec, no plan)');
  });

  it('keeps the columns aligned when a type or a run id prefix is longer than usual', () => {
    const cols = new EventColumns();
    const long = { ...ev('A_VERY_LONG_EVENT_TYPE_NAME', { detail: 'x' }), runId: 'abc', runShortId: '01a22a1b-07' };
    const short = { ...ev('SIGNAL', { signal: 'no_progress' }), runId: 'def', runShortId: '01a22a1b' };
    const lines = cols.fit([long, short]).workspaceLine(long) + '\n' + cols.workspaceLine(short);
    const [a, b] = lines.split('\n') as [string, string];
    expect(a.indexOf('detail=x')).toBe(b.indexOf('no_progress'));
    expect(a.indexOf('A_VERY')).toBe(b.indexOf('SIGNAL'));
    // Without fit, a stream widens from the long line on.
    const stream = new EventColumns();
    const before = stream.runLine(short);
    stream.runLine(long);
    expect(stream.runLine(short).length).toBeGreaterThan(before.length);
  });

  it('colours event types by outcome only when given a palette, with padding outside the codes', () => {
    const colored = new EventColumns(palette(true)).runLine(ev('RUN_FAILED', { reason: 'failed' }));
    expect(colored).toContain('\u001b[31mRUN_FAILED\u001b[39m');
    expect(colored.replace(/\u001b\[[0-9;]*m/g, '')).toBe(new EventColumns().runLine(ev('RUN_FAILED', { reason: 'failed' })));
    expect(new EventColumns(palette(false)).runLine(ev('RUN_FAILED'))).not.toContain('\u001b');
  });

  it('escapes control characters an agent or a file name slipped into a payload', () => {
    const s = eventSummary(ev('RUN_CREATED', { name: 'evil\u001b[31mred\u0007', runBranch: 'run/x' }));
    expect(s).toBe('evil\\e[31mred\\x07, branch run/x');
    expect(s).not.toMatch(/[\u0000-\u001f]/);
  });

  it('run --wait leaves out steps queued to start at once', () => {
    expect(isRoutine(ev('STEP_QUEUED', { phase: 'review', iteration: 1, attempt: 1, delayMs: 0 }))).toBe(true);
    expect(isRoutine(ev('STEP_QUEUED', { phase: 'review', iteration: 1, attempt: 1, delayMs: 3000 }))).toBe(false);
    expect(isRoutine(ev('STEP_RETRY_QUEUED', { delayMs: 0 }))).toBe(false);
  });

  it('formats money and local times', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(0.0123)).toBe('$0.0123');
    expect(formatUsd(12.345)).toBe('$12.35');
    expect(formatLocalTime(new Date(2025, 5, 1, 8, 0, 0).getTime(), new Date(2025, 5, 1, 23, 0, 0).getTime())).toBe('08:00:00');
  });
});
