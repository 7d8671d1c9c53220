import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isChecklistHeading, parsePlan, planDigest } from '../../core/plan.js';

const lines = (...ls: string[]) => ls.join('\n');

describe('parsePlan: markers', () => {
  it('recognises every marker', () => {
    const { tasks, counts } = parsePlan(lines('- [ ] a', '- [~] b', '- [x] c', '- [X] d', '- [R] e'));
    expect(tasks.map((t) => [t.marker, t.text])).toEqual([
      ['pending', 'a'],
      ['blocked', 'b'],
      ['done', 'c'],
      ['done', 'd'],
      ['reviewed', 'e'],
    ]);
    expect(counts).toEqual({ pending: 1, blocked: 1, done: 2, reviewed: 1, total: 5, open: 2 });
  });

  it('gives 0-based line numbers', () => {
    const { tasks } = parsePlan(lines('# Plan', '', '- [ ] first', 'prose', '- [x] second'));
    expect(tasks.map((t) => t.line)).toEqual([2, 4]);
  });

  it('ignores manual QA items `[ ]?`', () => {
    const { tasks, counts } = parsePlan(lines('- [ ]? click around the UI', '- [ ] real task', '- [x]? checked by a human'));
    expect(tasks.map((t) => t.text)).toEqual(['real task']);
    expect(counts.total).toBe(1);
  });

  it('ignores unknown markers and lower-case r', () => {
    expect(parsePlan(lines('- [r] a', '- [?] b', '- [xx] c', '- [] d', '- [-] e')).tasks).toEqual([]);
  });

  it('requires whitespace after the checkbox', () => {
    expect(parsePlan('- [x]glued').tasks).toEqual([]);
    expect(parsePlan('- [x]\tTabbed').tasks.map((t) => t.text)).toEqual(['Tabbed']);
  });

  it('counts an empty checkbox item as a task', () => {
    expect(parsePlan('- [ ]').tasks).toEqual([{ line: 0, marker: 'pending', text: '', heading: null }]);
    expect(parsePlan('- [ ]   ').counts.pending).toBe(1);
  });

  it('trims the task text', () => {
    expect(parsePlan('- [ ]    spaced out   ').tasks[0]?.text).toBe('spaced out');
  });

  it('keeps inline markdown in the text', () => {
    expect(parsePlan('- [ ] add `foo()` to **bar** [link](x)').tasks[0]?.text).toBe('add `foo()` to **bar** [link](x)');
  });

  it('gives zero counts for an empty plan', () => {
    expect(parsePlan('')).toEqual({
      tasks: [],
      counts: { pending: 0, blocked: 0, done: 0, reviewed: 0, total: 0, open: 0 },
    });
  });
});

describe('parsePlan: list syntax', () => {
  it('accepts -, * and + bullets', () => {
    expect(parsePlan(lines('- [ ] a', '* [x] b', '+ [~] c')).counts).toMatchObject({ pending: 1, done: 1, blocked: 1 });
  });

  it('accepts ordered items with . and )', () => {
    expect(parsePlan(lines('1. [ ] a', '2) [x] b', '10. [R] c')).tasks.map((t) => t.text)).toEqual(['a', 'b', 'c']);
  });

  it('counts indented sub-items as tasks', () => {
    const { tasks } = parsePlan(lines('- [ ] parent', '  - [x] child', '    - [ ] grandchild', '\t- [~] tabbed child'));
    expect(tasks.map((t) => [t.marker, t.text])).toEqual([
      ['pending', 'parent'],
      ['done', 'child'],
      ['pending', 'grandchild'],
      ['blocked', 'tabbed child'],
    ]);
  });

  it('ignores checkboxes that are not list items', () => {
    expect(parsePlan(lines('[ ] bare', 'text - [ ] inline', '> - [ ] quoted', '-[ ] no space', '1.[ ] no space')).tasks).toEqual([]);
  });

  it('ignores plain list items without a checkbox', () => {
    expect(parsePlan(lines('- just a note', '1. step')).tasks).toEqual([]);
  });
});

describe('parsePlan: headings', () => {
  it('records the nearest heading', () => {
    const { tasks } = parsePlan(lines('- [ ] orphan', '# Plan', '- [ ] a', '## Phase 1 ##', '- [ ] b', '### Sub', '- [ ] c'));
    expect(tasks.map((t) => t.heading)).toEqual([null, 'Plan', 'Phase 1', 'Sub']);
  });

  it('excludes items under a Verification heading', () => {
    const { tasks } = parsePlan(lines('## Tasks', '- [ ] a', '## Verification', '- [ ] run it', '- [x] check it'));
    expect(tasks.map((t) => t.text)).toEqual(['a']);
  });

  it('excludes items under a QA heading, case-insensitively', () => {
    const text = lines('# Plan', '- [ ] a', '## Manual qa', '- [ ] click', '## qa-checks', '- [ ] b', '## Post-verification steps', '- [ ] c');
    expect(parsePlan(text).tasks.map((t) => t.text)).toEqual(['a']);
  });

  it('does not treat "qa" inside a word as QA', () => {
    expect(parsePlan(lines('## Iraqi locale', '- [ ] a')).tasks.map((t) => t.text)).toEqual(['a']);
  });

  it('resumes counting at the next heading of the same level', () => {
    const { tasks } = parsePlan(lines('## Verification', '- [ ] no', '## Phase 2', '- [ ] yes'));
    expect(tasks.map((t) => [t.text, t.heading])).toEqual([['yes', 'Phase 2']]);
  });

  it('resumes counting at a higher-level heading', () => {
    const { tasks } = parsePlan(lines('# A', '### QA', '- [ ] no', '## B', '- [ ] yes'));
    expect(tasks.map((t) => t.text)).toEqual(['yes']);
  });

  it('keeps excluding through deeper sub-headings', () => {
    const { tasks } = parsePlan(lines('## Verification', '### Unit', '- [ ] no', '#### Deep', '- [ ] no2', '## Next', '- [ ] yes'));
    expect(tasks.map((t) => t.text)).toEqual(['yes']);
  });

  it('excludes a sub-section only until its sibling', () => {
    const { tasks } = parsePlan(lines('## Phase', '- [ ] a', '### QA', '- [ ] no', '### Build', '- [ ] b', '- [ ]? manual'));
    expect(tasks.map((t) => t.text)).toEqual(['a', 'b']);
  });

  it('excludes sub-items under an excluded heading too', () => {
    expect(parsePlan(lines('# Verification', '- [ ] a', '  - [ ] b')).tasks).toEqual([]);
  });

  it('needs a space after the hashes', () => {
    const { tasks } = parsePlan(lines('#Verification', '- [ ] counted'));
    expect(tasks.map((t) => [t.text, t.heading])).toEqual([['counted', null]]);
  });

  it('does not treat 7 hashes or a 4-space indent as a heading', () => {
    const { tasks } = parsePlan(lines('####### Verification', '    # QA', '- [ ] counted'));
    expect(tasks).toHaveLength(1);
  });
});

describe('parsePlan: code fences', () => {
  it('ignores lines inside ``` fences', () => {
    const { tasks } = parsePlan(lines('- [ ] a', '```md', '- [ ] example', '# Verification', '```', '- [ ] b'));
    expect(tasks.map((t) => t.text)).toEqual(['a', 'b']);
    expect(tasks[1]?.heading).toBeNull();
  });

  it('ignores lines inside ~~~ fences', () => {
    expect(parsePlan(lines('~~~', '- [ ] no', '~~~', '- [ ] yes')).tasks.map((t) => t.text)).toEqual(['yes']);
  });

  it('handles indented fences inside list items', () => {
    const { tasks } = parsePlan(lines('- [ ] a', '  ```bash', '  - [ ] not a task', '  ```', '- [ ] b'));
    expect(tasks.map((t) => t.text)).toEqual(['a', 'b']);
  });

  it('needs a closing fence of the same kind and at least the same length', () => {
    const text = lines('````', '```', '- [ ] still code', '~~~', '````', '- [ ] yes');
    expect(parsePlan(text).tasks.map((t) => t.text)).toEqual(['yes']);
  });

  it('treats an unclosed fence as running to the end', () => {
    expect(parsePlan(lines('- [ ] a', '```', '- [ ] b')).tasks.map((t) => t.text)).toEqual(['a']);
  });

  it('does not open a fence for inline triple backticks', () => {
    expect(parsePlan(lines('```inline``` text', '- [ ] yes')).tasks.map((t) => t.text)).toEqual(['yes']);
  });

  it('does not close a fence on a line with an info string', () => {
    expect(parsePlan(lines('```', '```js', '- [ ] no', '```', '- [ ] yes')).tasks.map((t) => t.text)).toEqual(['yes']);
  });
});

describe('parsePlan: line endings', () => {
  it('handles CRLF', () => {
    const { tasks } = parsePlan('# Plan\r\n- [ ] a\r\n## QA\r\n- [ ] no\r\n## Next\r\n- [x] b\r\n');
    expect(tasks).toEqual([
      { line: 1, marker: 'pending', text: 'a', heading: 'Plan' },
      { line: 5, marker: 'done', text: 'b', heading: 'Next' },
    ]);
  });

  it('handles CRLF inside fences', () => {
    expect(parsePlan('```\r\n- [ ] no\r\n```\r\n- [ ] yes\r\n').tasks.map((t) => t.text)).toEqual(['yes']);
  });

  it('handles a missing final newline', () => {
    expect(parsePlan('- [ ] a\n- [x] b').counts.total).toBe(2);
  });
});

describe('planDigest', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  it('is a sha256 hex digest', () => {
    expect(planDigest('- [ ] a')).toMatch(/^[0-9a-f]{64}$/);
    expect(planDigest('')).toBe(sha(''));
  });

  it('changes when a marker changes', () => {
    expect(planDigest('- [ ] a')).not.toBe(planDigest('- [x] a'));
    expect(planDigest('- [x] a')).not.toBe(planDigest('- [R] a'));
    expect(planDigest('- [ ] a')).not.toBe(planDigest('- [~] a'));
  });

  it('treats [x] and [X] alike', () => {
    expect(planDigest('- [x] a')).toBe(planDigest('- [X] a'));
  });

  it('changes when a task is added, removed or renamed', () => {
    const base = planDigest('- [ ] a\n- [ ] b');
    expect(planDigest('- [ ] a')).not.toBe(base);
    expect(planDigest('- [ ] a\n- [ ] b\n- [ ] c')).not.toBe(base);
    expect(planDigest('- [ ] a\n- [ ] B')).not.toBe(base);
  });

  it('changes when tasks are reordered', () => {
    expect(planDigest('- [ ] a\n- [ ] b')).not.toBe(planDigest('- [ ] b\n- [ ] a'));
  });

  it('ignores prose, headings, bullets, indentation, whitespace and line endings', () => {
    const a = '# Plan\n\nSome prose.\n- [ ] a\n- [x] b\n';
    const b = '# Renamed\r\n\r\nOther prose.\r\n*   [ ]   a  \r\n  1. [x] b\r\n## Verification\r\n- [ ] check\r\n```\r\n- [ ] code\r\n```\r\n- [ ]? manual\r\n';
    expect(planDigest(a)).toBe(planDigest(b));
  });
});

describe('isChecklistHeading: real-world headings', () => {
  const excluded = [
    'Verification',
    'Manual QA',
    'QA checklist',
    'QA',
    'Verification checklist',
    'Manual verification',
    'Manual verification steps',
    'Final verification',
    'Post-verification steps',
    'qa-checks',
    'Manual testing',
    'Manual test checklist',
    '5. Verification',
    'Phase 6: QA',
    'Verify',
    'Acceptance & QA',
    'Smoke tests and verification',
  ];
  const kept = [
    'Phase 4: Reviewer, Verification, Watchdog',
    'Verification of the plan parser',
    'Build the verification runner',
    'Tasks',
    'Testing',
    'Tests',
    'Checklist',
    'Phase 2: QA dashboard',
    'Iraqi locale',
    'Implementation steps',
    'Reviewer and verification phases',
    'Step 3: verify_cmds support',
  ];
  it.each(excluded)('"%s" is a checklist section', (h) => expect(isChecklistHeading(h)).toBe(true));
  it.each(kept)('"%s" is a work section', (h) => expect(isChecklistHeading(h)).toBe(false));

  it('counts the tasks of "## Phase 4: Reviewer, Verification, Watchdog" (finding 8)', () => {
    const plan = lines(
      '# Plan',
      '## Phase 3: Loop',
      '- [x] dispatcher',
      '## Phase 4: Reviewer, Verification, Watchdog',
      '- [ ] reviewer step',
      '- [ ] verification step',
      '- [ ] watchdog step',
      '## Verification',
      '- [ ] npm test passes',
      '### Manual QA',
      '- [ ] click through the dashboard',
    );
    const { tasks, counts } = parsePlan(plan);
    expect(tasks.map((t) => t.text)).toEqual(['dispatcher', 'reviewer step', 'verification step', 'watchdog step']);
    expect(counts.open).toBe(3);
    expect(tasks[1]!.heading).toBe('Phase 4: Reviewer, Verification, Watchdog');
  });

  it('ends a QA checklist sub-section at its sibling and keeps nested items of work sections', () => {
    const plan = lines(
      '## Phase 1',
      '- [ ] parent task',
      '  - [ ] nested step a',
      '    - [x] deeper step',
      '### QA checklist',
      '- [ ] looks right',
      '  - [ ] nested QA item',
      '### Phase 1b',
      '1. [ ] ordered task',
      '   ```sh',
      '   - [ ] inside an indented fence',
      '   ```',
      '- [ ] after the fence',
    );
    expect(parsePlan(plan).tasks.map((t) => t.text)).toEqual(['parent task', 'nested step a', 'deeper step', 'ordered task', 'after the fence']);
  });

  it('never counts checkboxes in fenced code, with ~~~ or longer fences', () => {
    const plan = lines('- [ ] real', '~~~~', '- [ ] example', '~~~', '- [ ] still inside', '~~~~', '````md', '```', '- [ ] nested fence text', '```', '````', '- [ ] real 2');
    expect(parsePlan(plan).tasks.map((t) => t.text)).toEqual(['real', 'real 2']);
  });
});
