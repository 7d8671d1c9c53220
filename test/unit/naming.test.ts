import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dedupeName, defaultPlanPath, renderTemplate, sanitizeBranchForPath, slugify, specSlug } from '../../core/naming.js';

describe('slugify', () => {
  it.each([
    ['Hello World', 'hello-world'],
    ['  Add  OAuth  login!  ', 'add-oauth-login'],
    ['already-a-slug', 'already-a-slug'],
    ['snake_case_name', 'snake-case-name'],
    ['dots.and/slashes\\too', 'dots-and-slashes-too'],
    ['--leading and trailing--', 'leading-and-trailing'],
    ['a---b', 'a-b'],
    ['Crème brûlée', 'creme-brulee'],
    ['Ünïcödé Straße', 'unicode-strasse'],
    ['Æsir Øresund Œuvre Łódź', 'aesir-oresund-oeuvre-lodz'],
    ['v2 API 3.0', 'v2-api-3-0'],
    ['UPPER', 'upper'],
    ['emoji 🚀 rocket', 'emoji-rocket'],
  ])('%j -> %j', (input, expected) => {
    expect(slugify(input)).toBe(expected);
  });

  it.each(['', '   ', '!!!', '---', '日本語', '🚀'])('falls back to "run" for %j', (input) => {
    expect(slugify(input)).toBe('run');
  });

  it('caps the length at 60 without a trailing dash', () => {
    const long = slugify('word '.repeat(40));
    expect(long.length).toBeLessThanOrEqual(60);
    expect(long.endsWith('-')).toBe(false);
    expect(slugify('a'.repeat(100))).toBe('a'.repeat(60));
    expect(slugify(`${'a'.repeat(59)} bcd`)).toBe('a'.repeat(59));
  });

  it('only ever produces [a-z0-9-]', () => {
    for (const s of ['Ω≈ç√∫', 'tab\there', 'new\nline', 'q?u&e=r#y', '<script>']) {
      expect(slugify(s)).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
  });
});

describe('specSlug', () => {
  it.each([
    ['specs/add-login.md', 'add-login'],
    ['/abs/specs/Add Login.md', 'add-login'],
    ['specs/Feature.MD', 'feature'],
    ['specs/notes.txt', 'notes-txt'],
    ['specs/v1.2.md', 'v1-2'],
    ['specs/.md', 'run'],
    ['plain', 'plain'],
  ])('%j -> %j', (input, expected) => {
    expect(specSlug(input)).toBe(expected);
  });
});

describe('sanitizeBranchForPath', () => {
  it.each([
    ['run/my-spec', 'run-my-spec'],
    ['feature/a/b', 'feature-a-b'],
    ['Fix_Bug.2', 'Fix_Bug.2'],
    ['a b:c*d?e', 'a-b-c-d-e'],
    ['back\\slash', 'back-slash'],
    ['ünï', '-n-'],
  ])('%j -> %j', (input, expected) => {
    expect(sanitizeBranchForPath(input)).toBe(expected);
  });

  it('never yields a path component that escapes', () => {
    expect(sanitizeBranchForPath('..')).toBe('--');
    expect(sanitizeBranchForPath('.')).toBe('-');
    expect(sanitizeBranchForPath('')).toBe('-');
    expect(sanitizeBranchForPath('../../etc')).toBe('..-..-etc');
    expect(sanitizeBranchForPath('../../etc')).not.toContain('/');
  });
});

describe('dedupeName', () => {
  it('returns the base when free', () => {
    expect(dedupeName('run/x', () => false)).toBe('run/x');
  });

  it('appends -2, -3, ...', () => {
    const taken = new Set(['run/x', 'run/x-2', 'run/x-3']);
    expect(dedupeName('run/x', (c) => taken.has(c))).toBe('run/x-4');
    expect(dedupeName('a', (c) => c === 'a')).toBe('a-2');
  });

  it('asks about candidates in order', () => {
    const asked: string[] = [];
    dedupeName('n', (c) => {
      asked.push(c);
      return asked.length < 3;
    });
    expect(asked).toEqual(['n', 'n-2', 'n-3']);
  });

  it('gives up eventually instead of looping forever', () => {
    expect(() => dedupeName('n', () => true)).toThrow(/no free name left for "n"/);
  });
});

describe('renderTemplate', () => {
  const vars = { repo: 'myrepo', run_branch: 'run/My Spec' };

  it('renders the default worktree template', () => {
    expect(renderTemplate('../{{ repo }}.{{ run_branch | sanitize }}', vars)).toBe('../myrepo.run-My-Spec');
  });

  it('allows arbitrary whitespace', () => {
    expect(renderTemplate('{{repo}}/{{   repo   }}/{{run_branch|sanitize}}/{{\trun_branch \n| slug }}', vars)).toBe(
      'myrepo/myrepo/run-My-Spec/run-my-spec',
    );
  });

  it('applies the slug filter', () => {
    expect(renderTemplate('{{ run_branch | slug }}', vars)).toBe('run-my-spec');
  });

  it('chains filters left to right', () => {
    expect(renderTemplate('{{ run_branch | sanitize | slug }}', vars)).toBe('run-my-spec');
  });

  it('leaves text without placeholders alone', () => {
    expect(renderTemplate('plain/path { not } {x}', vars)).toBe('plain/path { not } {x}');
  });

  it('inserts values literally', () => {
    expect(renderTemplate('{{ repo }}', { repo: '$& $1 {{ x }}' })).toBe('$& $1 {{ x }}');
  });

  it('throws on an unknown variable, listing the known ones', () => {
    expect(() => renderTemplate('{{ branch }}', vars)).toThrow(
      'unknown template variable "branch" in "{{ branch }}"; known variables: repo, run_branch',
    );
  });

  it('throws on an unknown filter, listing the known ones', () => {
    expect(() => renderTemplate('{{ repo | upper }}', vars)).toThrow(
      'unknown template filter "upper" in "{{ repo | upper }}"; known filters: sanitize, slug',
    );
  });

  it('throws on an empty expression or empty filter', () => {
    expect(() => renderTemplate('{{ }}', vars)).toThrow(/invalid template expression/);
    expect(() => renderTemplate('{{ repo | }}', vars)).toThrow(/unknown template filter ""/);
  });

  it('throws on an unclosed placeholder', () => {
    expect(() => renderTemplate('../{{ repo }}.{{ run_branch', vars)).toThrow('unclosed "{{" in template');
  });

  it('does not resolve inherited properties as variables', () => {
    expect(() => renderTemplate('{{ toString }}', vars)).toThrow(/unknown template variable "toString"/);
    expect(() => renderTemplate('{{ repo | constructor }}', vars)).toThrow(/unknown template filter "constructor"/);
  });

  it('says "(none)" when there are no variables', () => {
    expect(() => renderTemplate('{{ a }}', {})).toThrow('known variables: (none)');
  });
});

describe('defaultPlanPath', () => {
  it('puts <spec>-plan.md in the plans dir', () => {
    expect(defaultPlanPath('specs/add-login.md', 'specs/planning')).toBe(join('specs/planning', 'add-login-plan.md'));
  });

  it('keeps the spec name unslugified', () => {
    expect(defaultPlanPath('/w/specs/Add Login.md', '/w/plans')).toBe('/w/plans/Add Login-plan.md');
  });

  it('strips .md case-insensitively and only once', () => {
    expect(defaultPlanPath('specs/A.MD', 'p')).toBe('p/A-plan.md');
    expect(defaultPlanPath('specs/a.md.md', 'p')).toBe('p/a.md-plan.md');
    expect(defaultPlanPath('specs/notes.txt', 'p')).toBe('p/notes.txt-plan.md');
  });

  it('handles an empty plans dir', () => {
    expect(defaultPlanPath('a.md', '')).toBe('a-plan.md');
  });
});
