import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../core/config.js';
import { ledgerFromPlan } from '../../core/ledger.js';
import { judgeImplementation, type JudgeInput } from '../../functions/judge.js';
import type { EventSink, RunInput } from '../../functions/types.js';
import { tempDirs } from './tmp.js';

const tmp = tempDirs('loopd-judge-');

const SPEC = '# spec\n\n- R1\n- R2\n';
const PLAN = '# Plan\n- [ ] one\n- [ ] two\n- [ ] three\n';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@l', ...args], { cwd, encoding: 'utf8' }).trim();
}

function setup() {
  const dir = tmp();
  const wt = join(dir, 'wt');
  mkdirSync(join(wt, 'specs', 'planning'), { recursive: true });
  writeFileSync(join(wt, 'specs', 'x.md'), SPEC);
  writeFileSync(join(wt, 'specs', 'planning', 'x-plan.md'), PLAN);
  git(wt, 'init', '-q', '-b', 'run/x');
  git(wt, 'add', '-A');
  git(wt, 'commit', '-q', '-m', 'snapshot');
  const run: RunInput = {
    id: 'run-1',
    name: 'x',
    workspaceRoot: wt,
    specPath: 'specs/x.md',
    planPath: 'specs/planning/x-plan.md',
    baseBranch: 'main',
    runBranch: 'run/x',
    mergeTargetBranch: null,
    mergeStrategy: 'none',
    worktreePath: wt,
    worktreeProvider: 'git',
    runDir: join(dir, 'rundir'),
    config: defaultConfig(),
    specText: SPEC,
    planText: PLAN,
  };
  mkdirSync(run.runDir, { recursive: true });
  const events: { type: string; payload: Record<string, unknown> }[] = [];
  const sink = { event: (type: string, payload: Record<string, unknown> = {}) => events.push({ type, payload }) } as unknown as EventSink;
  const input: JudgeInput = {
    run,
    worktree: wt,
    stepId: 7,
    iteration: 1,
    commitBefore: git(wt, 'rev-parse', 'HEAD'),
    planBefore: PLAN,
    ledger: ledgerFromPlan(PLAN),
    judgementPath: join(run.runDir, '.iter-01.judgement.json'),
    sink,
  };
  return { wt, run, input, events };
}

describe('judgeImplementation', () => {
  it('undoes spec edits and deleted tasks, keeps the tick with code, and is idempotent after a crash', async () => {
    const { wt, input, events } = setup();
    writeFileSync(join(wt, 'code.txt'), 'work\n');
    writeFileSync(join(wt, 'specs', 'x.md'), '# spec\n\n- R1\n');
    writeFileSync(join(wt, 'specs', 'planning', 'x-plan.md'), '# Plan\n- [x] one\n- [ ] two\n');
    const j = await judgeImplementation(input);
    expect(j).toMatchObject({ ticked: [1], codeChanged: true, specTampered: true, tampering: ['spec_tampered', 'plan_tampered'] });
    expect(readFileSync(join(wt, 'specs', 'x.md'), 'utf8')).toBe(SPEC);
    expect(git(wt, 'show', 'HEAD:specs/planning/x-plan.md')).toBe('# Plan\n- [x] one\n- [ ] two\n- [ ] three');
    expect(git(wt, 'status', '--porcelain')).toBe('');
    expect(git(wt, 'rev-parse', 'refs/loopd/runs/run-1')).toBe(git(wt, 'rev-parse', 'HEAD'));
    const signals = events.filter((e) => e.type === 'SIGNAL').map((e) => e.payload.signal);
    expect(signals).toEqual(['spec_tampered', 'plan_tampered']);
    // The daemon died before recording the step: the re-run finds the same facts, repeats no repair
    // and no signal.
    const head = git(wt, 'rev-parse', 'HEAD');
    const again = await judgeImplementation(input);
    expect(again).toEqual(j);
    expect(git(wt, 'rev-parse', 'HEAD')).toBe(head);
    expect(events.filter((e) => e.type === 'SIGNAL')).toHaveLength(2);
  });

  it('says whether it changed the worktree: not for committed work it has nothing to undo, yes for a repair or a leftover commit', async () => {
    const { wt, input } = setup();
    writeFileSync(join(wt, 'code.txt'), 'work\n');
    writeFileSync(join(wt, 'specs', 'planning', 'x-plan.md'), PLAN.replace('- [ ] one', '- [x] one'));
    git(wt, 'add', '-A');
    git(wt, 'commit', '-qm', 'task one');
    const head = git(wt, 'rev-parse', 'HEAD');
    const clean = await judgeImplementation(input);
    expect(clean).toMatchObject({ ticked: [1], tampering: [], leftover: null, finalHead: head, touched: false });
    // The saved judgement never carries it: it is about one call.
    expect(JSON.parse(readFileSync(input.judgementPath, 'utf8'))).not.toHaveProperty('touched');

    const next = setup();
    writeFileSync(join(next.wt, 'left.txt'), 'not committed\n');
    expect(await judgeImplementation(next.input)).toMatchObject({ touched: true });
    const repaired = setup();
    writeFileSync(join(repaired.wt, 'specs', 'planning', 'x-plan.md'), PLAN.replaceAll('[ ]', '[x]'));
    git(repaired.wt, 'commit', '-qam', 'all done');
    expect(await judgeImplementation(repaired.input)).toMatchObject({ untickedWithoutWork: [1, 2, 3], touched: true });
  });

  it('un-ticks tasks ticked in an iteration that changed only the plan', async () => {
    const { wt, input } = setup();
    writeFileSync(join(wt, 'specs', 'planning', 'x-plan.md'), PLAN.replaceAll('[ ]', '[x]'));
    git(wt, 'commit', '-qam', 'all done');
    const j = await judgeImplementation(input);
    expect(j).toMatchObject({ ticked: [], untickedWithoutWork: [1, 2, 3], codeChanged: false, tampering: ['tick_without_work'] });
    expect(readFileSync(join(wt, 'specs', 'planning', 'x-plan.md'), 'utf8')).toBe(PLAN);
    expect(j.ledger!.every((t) => t.state === 'open')).toBe(true);
    expect(j.notes.join('\n')).toContain('A tick needs the work');
  });

  it('puts a rewritten branch back at the recorded head and keeps the agent commits under refs/loopd', async () => {
    const { wt, input } = setup();
    writeFileSync(join(wt, 'a.txt'), 'a\n');
    git(wt, 'add', '-A');
    git(wt, 'commit', '-qm', 'iteration 1 work');
    const recorded = git(wt, 'rev-parse', 'HEAD');
    const first = git(wt, 'rev-list', '--max-parents=0', 'HEAD');
    git(wt, 'reset', '-q', '--hard', first);
    writeFileSync(join(wt, 'b.txt'), 'b\n');
    git(wt, 'add', '-A');
    git(wt, 'commit', '-qm', 'work on a rewritten base');
    const agentHead = git(wt, 'rev-parse', 'HEAD');
    const j = await judgeImplementation({ ...input, commitBefore: recorded });
    expect(j.tampering).toEqual(['history_rewritten']);
    expect(j.notes[0]).toMatch(/History is append-only/);
    expect(git(wt, 'rev-parse', 'HEAD')).toBe(recorded);
    expect(git(wt, 'symbolic-ref', '--short', 'HEAD')).toBe('run/x');
    expect(git(wt, 'rev-parse', 'refs/loopd/runs/run-1-discarded/7-head')).toBe(agentHead);
  });

  it('brings the worktree back to the run branch when the agent switched branches', async () => {
    const { wt, input } = setup();
    git(wt, 'checkout', '-q', '-b', 'elsewhere');
    writeFileSync(join(wt, 'c.txt'), 'c\n');
    const j = await judgeImplementation(input);
    expect(j.history).toMatchObject({ branch: 'elsewhere' });
    expect(git(wt, 'symbolic-ref', '--short', 'HEAD')).toBe('run/x');
    expect(git(wt, 'rev-parse', 'HEAD')).toBe(input.commitBefore);
  });

  it('recreates the run branch when the agent detached HEAD and deleted it', async () => {
    const { wt, input } = setup();
    git(wt, 'checkout', '-q', '--detach');
    git(wt, 'branch', '-D', 'run/x');
    const j = await judgeImplementation(input);
    expect(j.history).toMatchObject({ branch: null, runHead: null });
    expect(git(wt, 'symbolic-ref', '--short', 'HEAD')).toBe('run/x');
    expect(git(wt, 'rev-parse', 'run/x')).toBe(input.commitBefore);
  });
});
