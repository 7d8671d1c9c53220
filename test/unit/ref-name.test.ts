import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { assertBranchName, branchNameProblem } from '../../core/ref-name.js';

function gitAccepts(name: string): boolean {
  try {
    execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const VALID = ['main', 'agent/user-auth', 'run/x-2', 'feature/a.b', 'v1.2', 'a_b', 'deep/er/path', 'x@y', 'ünïcode'];
const INVALID = [
  '../../x',
  'a..b',
  'x.lock',
  'a/b.lock/c',
  'a b',
  'tab\there',
  'new\nline',
  'esc\u001b[31m',
  'a~1',
  'a^',
  'a:b',
  'a?',
  'a*',
  'a[b',
  'a\\b',
  '/x',
  'x/',
  'a//b',
  'x.',
  '.hidden',
  'a/.b',
  'a@{1}',
  '',
];

describe('branchNameProblem', () => {
  for (const name of VALID) {
    it(`accepts ${JSON.stringify(name)} like git does`, () => {
      expect(branchNameProblem(name)).toBeNull();
      expect(gitAccepts(name)).toBe(true);
    });
  }
  for (const name of INVALID) {
    it(`refuses ${JSON.stringify(name)} like git does`, () => {
      expect(branchNameProblem(name)).not.toBeNull();
      expect(gitAccepts(name)).toBe(false);
    });
  }
  it('refuses what git takes but loopd must not: a leading dash, refs/..., HEAD', () => {
    expect(branchNameProblem('-x')).toMatch(/starts with "-"/);
    expect(branchNameProblem('refs/heads/../x')).toMatch(/refs\/heads/);
    expect(branchNameProblem('refs/heads/x')).toMatch(/without refs\/heads/);
    expect(branchNameProblem('HEAD')).toMatch(/HEAD/);
    // git --branch reads "@" as the current branch.
    expect(branchNameProblem('@')).not.toBeNull();
  });
});

describe('assertBranchName', () => {
  const make = (m: string) => new Error(m);
  it('throws one line naming the setting and the value, escaping control characters', () => {
    expect(() => assertBranchName('merge_target_branch', 'a\nb', make)).toThrow(/^invalid merge_target_branch "a\\nb": it contains a space or a control character; use a git branch name/);
    expect(() => assertBranchName('merge_target_branch', 'x.lock', make)).toThrow(/ends with "\.lock"/);
  });
  it('checks a prefix as the start of a branch name', () => {
    expect(() => assertBranchName('run_branch_prefix', 'run/', make, { prefix: true })).not.toThrow();
    expect(() => assertBranchName('run_branch_prefix', '', make, { prefix: true })).not.toThrow();
    expect(() => assertBranchName('run_branch_prefix', '-run/', make, { prefix: true })).toThrow(/^invalid run_branch_prefix "-run\/": it starts with "-"/);
    expect(() => assertBranchName('run_branch_prefix', 'a..', make, { prefix: true })).toThrow(/\.\./);
  });
});
