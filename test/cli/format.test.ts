// Pure output helpers of the CLI.
import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration, formatTime, parseErrorMessage, summarizePayload, validationMessage } from '../../cli/base.js';
import { pauseReasonText } from '../../cli/commands/inspect.js';
import { shortIdLength } from '../../cli/commands/list.js';

describe('formatting', () => {
  it('turns zod issue JSON from the server into one line', () => {
    const msg = JSON.stringify([{ code: 'too_small', path: ['run'], message: 'a run id is required' }], null, 2);
    expect(validationMessage(msg)).toBe('invalid request: run: a run id is required');
    expect(validationMessage('no run matches "x"')).toBeNull();
  });

  it('summarizes payloads compactly', () => {
    expect(summarizePayload({ phase: 'review', iteration: 2, ok: true, note: 'two words', skip: null })).toBe(
      'phase=review iteration=2 ok=true note="two words"',
    );
    expect(summarizePayload({ text: 'x'.repeat(500) }, 20)).toHaveLength(20);
  });

  it("turns oclif's multi-line flag errors into one line", () => {
    expect(parseErrorMessage('Parsing --iterations \n\tExpected an integer greater than or equal to 1 but received: 0\nSee more help with --help')).toBe(
      'Parsing --iterations: Expected an integer greater than or equal to 1 but received: 0 (see --help)',
    );
    expect(parseErrorMessage('Expected --merge-strategy=x to be one of: none, merge, squash\nSee more help with --help')).toBe(
      'Expected --merge-strategy=x to be one of: none, merge, squash (see --help)',
    );
  });

  it('explains why a run is paused', () => {
    expect(pauseReasonText('budget_exceeded')).toBe('budget_exceeded: cost reached max_cost_usd');
    expect(pauseReasonText('user')).toBe('user: paused by request');
    expect(pauseReasonText('something_else')).toBe('something_else');
    expect(pauseReasonText(null)).toBe('no reason recorded');
  });

  it('formats ages and durations', () => {
    expect(formatAge(5_000)).toBe('5s');
    expect(formatAge(3 * 60_000)).toBe('3m');
    expect(formatAge(5 * 3_600_000)).toBe('5h');
    expect(formatAge(3 * 86_400_000)).toBe('3d');
    expect(formatDuration(3_723_000)).toBe('1h 02m 03s');
    expect(formatDuration(59_000)).toBe('59s');
    // Sub-second steps are not "0s".
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(349.6)).toBe('350ms');
    expect(formatDuration(999)).toBe('999ms');
    expect(formatDuration(1000)).toBe('1s');
  });

  it('prints times in one format: local YYYY-MM-DD HH:MM:SS', () => {
    expect(formatTime(new Date(2026, 10, 30, 4, 5, 9, 700).getTime())).toBe('2026-11-30 04:05:09');
  });

  it('shows longer id prefixes only when 8 characters would be ambiguous', () => {
    expect(shortIdLength(['01a2011a-aaaa', '01a2011b-bbbb'])).toBe(8);
    expect(shortIdLength(['01a2011b-1ef8-7', '01a2011b-dce7-7'])).toBe(10);
    expect(shortIdLength([])).toBe(8);
  });
});

describe('renderTable', () => {
  it('aligns plain ASCII exactly as cli-table3 does', async () => {
    const { renderTable } = await import('../../cli/format.js');
    const { default: Table } = await import('cli-table3');
    const none = {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    };
    const cases: (string | number)[][][] = [
      [['ID', 'NAME', 'X'], ['abc', 'a longer name', 3], ['', 'x', ''], ['abcdefgh', '', 12]],
      [['A', 'B']],
      [['STEP', 'ERROR'], [1, 'exit 1: boom (see iter-01.log)'], [22, '']],
      [['ID', 'STATUS', 'X'], ['a', '\u001b[32mCOMPLETED\u001b[39m', 'x'], ['bb', '\u001b[31mFAILED\u001b[39m', '']],
    ];
    for (const [head, ...rows] of cases) {
      const t = new Table({ head: head!.map(String), chars: none, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
      for (const r of rows) t.push(r);
      const expected = t.toString().split('\n').map((l) => l.trimEnd()).join('\n');
      expect(await renderTable(head!.map(String), rows)).toBe(expected);
    }
  });
});
