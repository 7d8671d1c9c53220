import { describe, expect, it } from 'vitest';
import { conformPlan, ledgerCounts, ledgerFromPlan, pendingReview, reconcilePlan, setStates } from '../../core/ledger.js';
import { parsePlan } from '../../core/plan.js';

const lines = (...ls: string[]) => ls.join('\n');
const PLAN = lines('# Plan', '', '## Tasks', '- [ ] one', '- [ ] two', '  - [ ] two, nested', '- [ ] three', '', '## Verification', '- [ ] run it', '');
const marks = (plan: string) => parsePlan(plan).tasks.map((t) => `${t.marker}:${t.text}`);

describe('ledgerFromPlan', () => {
  it('gives stable ids, sections and order, and records what was done before the run', () => {
    const l = ledgerFromPlan(lines('## A', '- [x] done', '- [R] reviewed', '## B', '- [ ] open', '- [~] blocked'));
    expect(l.map((t) => [t.taskId, t.text, t.section, t.state, t.doneBeforeRun])).toEqual([
      [1, 'done', 'A', 'done', true],
      [2, 'reviewed', 'A', 'reviewed', true],
      [3, 'open', 'B', 'open', false],
      [4, 'blocked', 'B', 'blocked', false],
    ]);
    expect(ledgerCounts(l)).toEqual({ total: 4, open: 2, pendingReview: 0, reviewed: 0, doneBeforeRun: 2 });
  });

  it('finds no task in a binary plan', () => {
    expect(ledgerFromPlan('\0\0- [ ] a\n')).toEqual([]);
  });
});

describe('reconcilePlan', () => {
  const ledger = ledgerFromPlan(PLAN);
  const rec = (plan: string | null, fallback: string | null = PLAN) => reconcilePlan(ledger, plan, { iteration: 2, fallback });

  it('accepts a tick, a new open task and prose edits', () => {
    const agent = PLAN.replace('- [ ] one', '- [x] one').replace('## Tasks', '## Tasks\n\nNotes: did one.').replace('- [ ] three', '- [ ] three\n- [ ] four (found while doing one)');
    const r = rec(agent);
    expect(r.violations).toEqual([]);
    expect(r.plan).toBe(agent);
    expect(r.ticked).toEqual([1]);
    expect(r.added).toEqual([5]);
    const four = r.ledger.find((t) => t.taskId === 5)!;
    expect(four).toMatchObject({ text: 'four (found while doing one)', state: 'open', addedIteration: 2, section: 'Tasks' });
    expect(r.ledger.find((t) => t.taskId === 1)).toMatchObject({ state: 'done', tickedIteration: 2 });
    expect(r.ledger.map((t) => t.taskId)).toEqual([1, 2, 3, 4, 5]);
  });

  it('puts back deleted tasks where they were', () => {
    const agent = PLAN.replace('- [ ] two\n', '').replace('- [ ] three\n', '');
    const r = rec(agent);
    expect(r.violations.map((v) => [v.kind, v.taskId])).toEqual([
      ['removed', 2],
      ['removed', 4],
    ]);
    expect(r.plan).toBe(PLAN);
  });

  it('puts back every task when the agent deleted all of them', () => {
    const r = rec('# Plan\n\nAll done!\n');
    expect(r.violations).toHaveLength(4);
    expect(marks(r.plan)).toEqual(['pending:one', 'pending:two', 'pending:two, nested', 'pending:three']);
  });

  it('undoes a rewording in place', () => {
    const agent = PLAN.replace('- [ ] two\n', '- [x] two, simplified\n');
    const r = rec(agent);
    expect(r.violations.map((v) => v.kind)).toEqual(['removed']);
    expect(r.added).toEqual([]);
    expect(r.plan).toBe(PLAN);
  });

  it('refuses [R] and [~] written by the agent, and un-ticking reviewed work', () => {
    const reviewed = setStates(ledger, PLAN, [3], 'reviewed');
    const agent = reviewed.plan.replace('- [ ] one', '- [R] one').replace('- [ ] three', '- [~] three').replace('  - [R] two, nested', '  - [ ] two, nested');
    const r = reconcilePlan(reviewed.ledger, agent, { iteration: 3, fallback: reviewed.plan });
    expect(r.violations.map((v) => [v.kind, v.taskId])).toEqual([
      ['marker', 1],
      ['marker', 3],
      ['marker', 4],
    ]);
    expect(r.plan).toBe(reviewed.plan);
    expect(r.ticked).toEqual([]);
  });

  it('lets the agent take back an unreviewed tick', () => {
    const done = setStates(ledger, PLAN, [1], 'done');
    const r = reconcilePlan(done.ledger, PLAN, { iteration: 3, fallback: done.plan });
    expect(r.violations).toEqual([]);
    expect(r.ledger.find((t) => t.taskId === 1)!.state).toBe('open');
  });

  it('restores a deleted or binary plan from the plan before the step', () => {
    expect(rec(null)).toMatchObject({ plan: PLAN, violations: [{ kind: 'plan_missing' }] });
    expect(rec('\0binary').plan).toBe(PLAN);
    expect(marks(rec(null, null).plan)).toEqual(['pending:one', 'pending:two', 'pending:two, nested', 'pending:three']);
  });

  it('matches tasks by text, so reordering is free', () => {
    const agent = PLAN.replace('- [ ] one\n', '').replace('- [ ] three\n', '- [ ] three\n- [x] one\n');
    const r = rec(agent);
    expect(r.violations).toEqual([]);
    expect(r.ticked).toEqual([1]);
    expect(r.ledger.map((t) => t.taskId)).toEqual([2, 3, 4, 1]);
  });

  it('keeps duplicate task texts apart', () => {
    const plan = lines('- [ ] tests', '- [ ] tests', '');
    const l = ledgerFromPlan(plan);
    const r = reconcilePlan(l, lines('- [x] tests', ''), { iteration: 1, fallback: plan });
    expect(r.violations.map((v) => v.taskId)).toEqual([2]);
    expect(marks(r.plan)).toEqual(['done:tests', 'pending:tests']);
  });

  it('a new task written [R] or [~] joins as open', () => {
    const r = rec(PLAN.replace('- [ ] three', '- [ ] three\n- [R] sneaky'));
    expect(r.violations.map((v) => v.kind)).toEqual(['marker']);
    expect(r.ledger.find((t) => t.text === 'sneaky')!.state).toBe('open');
    expect(marks(r.plan)).toContain('pending:sneaky');
  });

  it('a reconciled plan reconciles cleanly again', () => {
    const r = rec('garbage\n- [R] one\n- [x] new\n');
    const again = reconcilePlan(r.ledger, r.plan, { iteration: 3, fallback: r.plan });
    expect(again.violations).toEqual([]);
    expect(again.plan).toBe(r.plan);
  });
});

describe('review verdicts', () => {
  it('approval marks exactly the pending tasks [R]; tasks done before the run stay [x]', () => {
    const plan = lines('- [x] old', '- [ ] a', '- [ ] b', '');
    const l = ledgerFromPlan(plan);
    const r = reconcilePlan(l, plan.replace('- [ ] a', '- [x] a'), { iteration: 1, fallback: plan });
    expect(pendingReview(r.ledger).map((t) => t.taskId)).toEqual([2]);
    const approved = setStates(r.ledger, r.plan, [2], 'reviewed');
    expect(marks(approved.plan)).toEqual(['done:old', 'reviewed:a', 'pending:b']);
    const rejected = setStates(r.ledger, r.plan, [2], 'open');
    expect(marks(rejected.plan)).toEqual(['done:old', 'pending:a', 'pending:b']);
    expect(ledgerCounts(approved.ledger)).toMatchObject({ open: 1, reviewed: 1, doneBeforeRun: 1, pendingReview: 0 });
  });

  it('conformPlan keeps CRLF endings and prose', () => {
    const plan = '# P\r\n- [ ] a\r\nprose\r\n';
    const l = ledgerFromPlan(plan);
    expect(conformPlan(setStates(l, plan, [1], 'reviewed').ledger, plan).plan).toBe('# P\r\n- [R] a\r\nprose\r\n');
  });
});

// Marking tasks reviewed or open touches only the marker character of the task's own line.
describe('setStates: byte-exact plan edits', () => {
  const mark = (plan: string, ids: number[], state: 'reviewed' | 'open' = 'reviewed') => setStates(ledgerFromPlan(plan), plan, ids, state).plan;

  it('turns [x] and [X] into [R] on the given tasks only', () => {
    expect(mark(lines('- [x] a', '- [X] b', '- [x] c'), [1, 2])).toBe(lines('- [R] a', '- [R] b', '- [x] c'));
  });

  it('preserves CRLF, spacing, mixed endings and a missing final newline', () => {
    expect(mark('# Plan\r\n\r\n  - [x]   keep   spacing  \r\n* [x] b\r\n', [1, 2])).toBe('# Plan\r\n\r\n  - [R]   keep   spacing  \r\n* [R] b\r\n');
    expect(mark('- [x] a\r\n- [x] b\n- [x] c', [1, 2, 3])).toBe('- [R] a\r\n- [R] b\n- [R] c');
  });

  it('marks the checkbox, not a look-alike in the text', () => {
    expect(mark('1. [x] see [x] here', [1])).toBe('1. [R] see [x] here');
  });

  it('never touches lines inside code fences or checklist sections', () => {
    const plan = lines('- [x] a', '```', '- [x] a', '```', '## Verification', '- [x] a');
    expect(mark(plan, [1])).toBe(lines('- [R] a', '```', '- [x] a', '```', '## Verification', '- [x] a'));
  });

  it('ignores unknown task ids and returns the same text for none', () => {
    expect(mark('- [x] a\n', [9])).toBe('- [x] a\n');
    expect(mark('- [x] a\n', [])).toBe('- [x] a\n');
  });

  it('a rejection puts the tasks back to [ ]', () => {
    expect(mark(lines('- [x] a', '- [x] b'), [2], 'open')).toBe(lines('- [x] a', '- [ ] b'));
  });
});

describe('reconcilePlan: [R] from the agent', () => {
  it('keeps [R] that loopd wrote even when the task moved', () => {
    const plan = lines('- [R] c', '- [ ] a');
    const l = setStates(ledgerFromPlan(plan.replace('[R]', '[ ]')), plan.replace('[R]', '[ ]'), [1], 'reviewed').ledger;
    const r = reconcilePlan(l, lines('# Moved', '- [x] a', '', '- [R] c'), { iteration: 2, fallback: plan });
    expect(r.violations).toEqual([]);
    expect(r.ticked).toEqual([2]);
  });

  it('matches text ignoring surrounding and repeated whitespace', () => {
    const l = ledgerFromPlan('- [ ] do  the thing');
    expect(reconcilePlan(l, '  - [x]   do the thing  ', { iteration: 1, fallback: null }).violations).toEqual([]);
  });

  it('ignores [R] inside fences and checklist sections', () => {
    const plan = lines('- [ ] a', '```', '- [R] code', '```', '## QA', '- [R] qa');
    expect(reconcilePlan(ledgerFromPlan(plan), plan, { iteration: 1, fallback: plan }).violations).toEqual([]);
  });
});

describe('reconcilePlan: notes appended to a task line', () => {
  const plan = lines('- [ ] add login', '- [ ] add tests', '- [ ] task 1', '- [ ] task 10', '');
  const ledger = ledgerFromPlan(plan);
  const rec = (agent: string) => reconcilePlan(ledger, agent, { iteration: 1, fallback: plan });

  it('a note set off by punctuation is free text, and the tick counts', () => {
    const agent = plan.replace('- [ ] add login', '- [x] add login (see auth.ts)').replace('- [ ] add tests', '- [ ] add tests: blocked on fixtures');
    const r = rec(agent);
    expect(r.violations).toEqual([]);
    expect(r.ticked).toEqual([1]);
    expect(r.plan).toBe(agent);
    expect(r.ledger.find((t) => t.taskId === 1)).toMatchObject({ text: 'add login', line: '- [x] add login (see auth.ts)' });
  });

  it('changing the words is still a rewording', () => {
    const r = rec(plan.replace('- [ ] add tests', '- [x] add tests later'));
    expect(r.violations.map((v) => [v.kind, v.taskId])).toEqual([['removed', 2]]);
    expect(r.plan).toBe(plan);
  });

  it('a longer task text is not mistaken for a note on a shorter one', () => {
    const r = rec(plan.replace('- [ ] task 1\n', '- [x] task 1 - done\n'));
    expect(r.violations).toEqual([]);
    expect(r.ticked).toEqual([3]);
    expect(r.ledger.find((t) => t.taskId === 4)!.state).toBe('open');
  });
});
