import { describe, expect, it } from 'vitest';
import { buildPrompt, type PromptInput } from '../../core/prompt.js';
import { COMPLETION_TOKEN } from '../../core/types.js';

const base: PromptInput = {
  specPath: 'specs/login.md',
  planPath: 'specs/planning/login-plan.md',
  completionMode: 'trailing',
  iteration: 3,
};

describe('buildPrompt: default body', () => {
  const p = buildPrompt(base);

  it('names the spec and plan paths', () => {
    expect(p).toContain('specs/login.md');
    expect(p).toContain('specs/planning/login-plan.md');
  });

  it('mentions the worktree and the iteration', () => {
    expect(p).toMatch(/git worktree/);
    expect(p).toContain('iteration 3');
  });

  it('asks for exactly one open task, verification, [x] and a commit', () => {
    expect(p).toMatch(/exactly ONE open task/);
    expect(p).toContain('`[ ]`');
    expect(p).toMatch(/verify/i);
    expect(p).toContain('Mark that task `[x]`');
    expect(p).toMatch(/Commit all changes with a descriptive message/);
  });

  it('says what the agent may do in the plan and spec, and forbids [R], [~] and history rewrites', () => {
    expect(p).toMatch(/The spec is read-only/);
    expect(p).toMatch(/never write `\[R\]` or `\[~\]` \(only the reviewer marks tasks reviewed\)/);
    expect(p).toMatch(/leave it `\[ \]` and write the reason/);
    expect(p).toMatch(/never reset, rebase, amend or switch branches/);
    expect(p).toMatch(/A tick needs the work/);
  });

  it('explains the token in trailing mode', () => {
    expect(p).toContain(`print ${COMPLETION_TOKEN} on its own as the very last line`);
    expect(p).toMatch(/only when, no open tasks/);
    expect(p).toContain(`Never print ${COMPLETION_TOKEN} in any other case`);
  });

  it('explains the token in exact mode', () => {
    const e = buildPrompt({ ...base, completionMode: 'exact' });
    expect(e).toContain(`your entire output must be exactly ${COMPLETION_TOKEN} and nothing else`);
    expect(e).not.toContain('very last line');
  });

  it('does not end with the token itself, so echoing the prompt is not a claim', () => {
    const lines = p.trim().split('\n');
    expect(lines.at(-1)?.trim()).not.toBe(COMPLETION_TOKEN);
    expect(p.trim()).not.toBe(COMPLETION_TOKEN);
  });

  it('ends with exactly one newline', () => {
    expect(p.endsWith('\n')).toBe(true);
    expect(p.endsWith('\n\n')).toBe(false);
  });

  it('has no optional sections when none are given', () => {
    expect(p).not.toContain('Watchdog');
    expect(p).not.toContain('Context files');
    expect(p).not.toContain('Notes from the last verification');
    expect(p).not.toContain('The reviewer asked for changes');
  });
});

describe('buildPrompt: no plan', () => {
  const p = buildPrompt({ ...base, planPath: null });

  it('asks to implement the spec simply', () => {
    expect(p).toContain('Read the spec at specs/login.md and implement it');
    expect(p).toMatch(/Keep it simple/);
    expect(p).toMatch(/Commit all your changes/);
  });

  it('does not talk about plan tasks', () => {
    expect(p).not.toContain('PLAN_PATH');
    expect(p).not.toMatch(/open task/);
    expect(p).not.toContain('null');
  });

  it('still explains the token', () => {
    expect(p).toMatch(/only when, the spec is fully implemented/);
    expect(p).toContain(COMPLETION_TOKEN);
  });
});

describe('buildPrompt: template', () => {
  it('replaces the default body and substitutes bare placeholders', () => {
    const p = buildPrompt({ ...base, template: 'Do SPEC_PATH using PLAN_PATH.\n' });
    expect(p).toBe('Do specs/login.md using specs/planning/login-plan.md.\n');
  });

  it('substitutes braced placeholders with optional spaces', () => {
    const p = buildPrompt({ ...base, template: '{{SPEC_PATH}} {{ PLAN_PATH }} {{ITERATION}}' });
    expect(p).toBe('specs/login.md specs/planning/login-plan.md 3\n');
  });

  it('substitutes every occurrence', () => {
    expect(buildPrompt({ ...base, template: 'SPEC_PATH SPEC_PATH' })).toBe('specs/login.md specs/login.md\n');
  });

  it('does not substitute inside longer identifiers', () => {
    expect(buildPrompt({ ...base, template: 'MY_SPEC_PATH SPEC_PATHS' })).toBe('MY_SPEC_PATH SPEC_PATHS\n');
  });

  it('keeps $ in paths literal', () => {
    expect(buildPrompt({ ...base, specPath: 'specs/$&.md', template: 'SPEC_PATH' })).toBe('specs/$&.md\n');
  });

  it('marks a missing plan', () => {
    expect(buildPrompt({ ...base, planPath: null, template: 'plan: PLAN_PATH' })).toBe('plan: (no plan file)\n');
  });

  it('falls back to the default for an empty or blank template', () => {
    expect(buildPrompt({ ...base, template: '' })).toBe(buildPrompt(base));
    expect(buildPrompt({ ...base, template: '  \n ' })).toBe(buildPrompt(base));
    expect(buildPrompt({ ...base, template: null })).toBe(buildPrompt(base));
  });

  it('still appends the extra sections', () => {
    const p = buildPrompt({ ...base, template: 'T', reviewNotesPath: '/r/notes.md', rewrite: 'Stop looping.' });
    expect(p.indexOf('Stop looping.')).toBeLessThan(p.indexOf('T\n'));
    expect(p).toContain('The reviewer asked for changes: read /r/notes.md');
  });
});

describe('buildPrompt: appended sections', () => {
  it('appends context files under their path headings', () => {
    const p = buildPrompt({
      ...base,
      contextFiles: [
        { path: 'README.md', content: '# Readme\nhello\n' },
        { path: 'docs/api.md', content: 'no newline' },
      ],
    });
    expect(p).toContain('## Context files');
    expect(p).toContain('### README.md\n\n```\n# Readme\nhello\n```');
    expect(p).toContain('### docs/api.md\n\n```\nno newline\n```');
    expect(p.indexOf('README.md')).toBeLessThan(p.indexOf('docs/api.md'));
  });

  it('uses a fence longer than any backtick run in the content', () => {
    const p = buildPrompt({ ...base, contextFiles: [{ path: 'a.md', content: 'x\n```js\ny\n```\n' }] });
    expect(p).toContain('### a.md\n\n````\nx\n```js\ny\n```\n````');
  });

  it('omits the context section for an empty list', () => {
    expect(buildPrompt({ ...base, contextFiles: [] })).toBe(buildPrompt(base));
  });

  it('points to runner notes', () => {
    const p = buildPrompt({ ...base, runnerNotesPath: '/runs/run-1/runner-notes.txt' });
    expect(p).toContain('Notes from the last verification: read /runs/run-1/runner-notes.txt');
  });

  it('points to review notes', () => {
    const p = buildPrompt({ ...base, reviewNotesPath: '/runs/run-1/review-2.txt' });
    expect(p).toContain('The reviewer asked for changes: read /runs/run-1/review-2.txt');
  });

  it('ignores null and empty notes paths', () => {
    expect(buildPrompt({ ...base, runnerNotesPath: null, reviewNotesPath: '' })).toBe(buildPrompt(base));
  });

  it('puts the watchdog rewrite first', () => {
    const p = buildPrompt({ ...base, rewrite: '  You keep redoing task 2. Pick task 3.  \n' });
    expect(p.startsWith('## Watchdog intervention (read this first)\n\nYou keep redoing task 2. Pick task 3.\n\n')).toBe(true);
  });

  it('ignores a blank rewrite', () => {
    expect(buildPrompt({ ...base, rewrite: '   ' })).toBe(buildPrompt(base));
  });

  it('orders sections: rewrite, body, context, verification notes, review notes', () => {
    const p = buildPrompt({
      ...base,
      rewrite: 'REWRITE',
      contextFiles: [{ path: 'CTX.md', content: 'c' }],
      runnerNotesPath: 'RUNNER',
      reviewNotesPath: 'REVIEW',
    });
    const order = ['REWRITE', 'exactly ONE open task', 'CTX.md', 'RUNNER', 'REVIEW'].map((s) => p.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('is deterministic', () => {
    const input: PromptInput = { ...base, contextFiles: [{ path: 'a', content: 'b' }], runnerNotesPath: 'n' };
    expect(buildPrompt(input)).toBe(buildPrompt(input));
  });
});
