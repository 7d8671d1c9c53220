// Pure output helpers of the CLI.
import { describe, expect, it } from 'vitest';
import { describeEvent, formatAge, formatDuration, summarizePayload, validationMessage } from '../../cli/base.js';
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

  it('puts iteration and phase first in --wait lines', () => {
    const line = describeEvent({
      seq: 4,
      runId: 'r',
      stepId: 1,
      type: 'STEP_FINISHED',
      ts: Date.UTC(2025, 0, 1, 12, 0, 0),
      payload: { phase: 'implementation', iteration: 3, status: 'SUCCEEDED' },
    });
    expect(line).toMatch(/^\d\d:\d\d:\d\d {2}iter 3 {2}implementation {2}STEP_FINISHED {2}status=SUCCEEDED$/);
  });

  it('formats ages and durations', () => {
    expect(formatAge(5_000)).toBe('5s');
    expect(formatAge(3 * 60_000)).toBe('3m');
    expect(formatAge(5 * 3_600_000)).toBe('5h');
    expect(formatAge(3 * 86_400_000)).toBe('3d');
    expect(formatDuration(3_723_000)).toBe('1h 02m 03s');
    expect(formatDuration(59_000)).toBe('59s');
  });

  it('shows longer id prefixes only when 8 characters would be ambiguous', () => {
    expect(shortIdLength(['01a2011a-aaaa', '01a2011b-bbbb'])).toBe(8);
    expect(shortIdLength(['01a2011b-1ef8-7', '01a2011b-dce7-7'])).toBe(10);
    expect(shortIdLength([])).toBe(8);
  });
});
