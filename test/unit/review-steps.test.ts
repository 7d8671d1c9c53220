import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordedClean } from '../../functions/review-steps.js';
import type { HandlerInput } from '../../functions/types.js';
import { g, initRepo, tempDirs } from './tmp.js';

const tmp = tempDirs('loopd-review-steps-');

function setup() {
  const wt = join(tmp(), 'wt');
  initRepo(wt);
  writeFileSync(join(wt, 'a.txt'), 'a\n');
  g(wt, 'add', '-A');
  g(wt, 'commit', '-q', '-m', 'work');
  g(wt, 'checkout', '-q', '-b', 'run/x');
  const head = g(wt, 'rev-parse', 'HEAD').trim();
  const run = { worktreePath: wt, runBranch: 'run/x' } as HandlerInput['run'];
  const impl = { phase: 'implementation', status: 'SUCCEEDED', iteration: 1, attempt: 1, result: { commitAfter: head, cleanAt: head } } as HandlerInput['history'][number];
  return { wt, run, head, impl };
}

describe('recordedClean: the worktree state a review takes from the implementation before it', () => {
  it('is the recorded clean state while HEAD is still that commit on the run branch', () => {
    const { run, head, impl } = setup();
    expect(recordedClean({ run, history: [impl], adopt: null })).toEqual({ head, branch: 'run/x', dirty: false });
  });

  it('is null whenever the record does not prove the state now: a git status is taken instead', () => {
    const { wt, run, head, impl } = setup();
    // No clean tree recorded, a failed implementation, another step since, a re-adopted reviewer.
    expect(recordedClean({ run, history: [{ ...impl, result: { commitAfter: head, cleanAt: null } }], adopt: null })).toBeNull();
    expect(recordedClean({ run, history: [{ ...impl, status: 'FAILED' }], adopt: null })).toBeNull();
    const verification = { phase: 'verification', status: 'SUCCEEDED', iteration: 1, attempt: 1, result: { passed: true } } as HandlerInput['history'][number];
    expect(recordedClean({ run, history: [impl, verification], adopt: null })).toBeNull();
    expect(recordedClean({ run, history: [], adopt: null })).toBeNull();
    const adopt = { pid: 1, pgid: 1, startTime: '1', nonce: 'n', logPath: '', exitPath: '', commitBefore: head, planBefore: null, startedAt: 0 };
    expect(recordedClean({ run, history: [impl], adopt })).toBeNull();
    // HEAD moved since (a commit), or the worktree is on another branch.
    writeFileSync(join(wt, 'b.txt'), 'b\n');
    g(wt, 'add', '-A');
    g(wt, 'commit', '-q', '-m', 'more');
    expect(recordedClean({ run, history: [impl], adopt: null })).toBeNull();
    g(wt, 'checkout', '-q', '-b', 'elsewhere', head);
    expect(recordedClean({ run, history: [impl], adopt: null })).toBeNull();
  });
});
