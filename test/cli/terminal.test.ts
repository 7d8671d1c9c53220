// Terminal output: escaping, colour decisions, the live status line of run --wait (driven through
// a fake terminal stream), and the --last/--since parsers.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../cli/base.js';
import { eventWindow, FOLLOW_DEFAULT_LAST, parseLast, parseSince } from '../../cli/event-window.js';
import { LiveProgress, progressLine, taskBar, type ProgressState } from '../../cli/progress.js';
import { colorEnabled, escapeControls, palette, runStatusLine, terminalSafe, visibleLength } from '../../cli/text.js';

describe('escapeControls', () => {
  it('makes newlines, ANSI sequences, other controls and bidi overrides visible and inert', () => {
    expect(escapeControls('plain name-2')).toBe('plain name-2');
    expect(escapeControls('a\nb')).toBe('a\\nb');
    expect(escapeControls('\u001b[2J\u001b[31mred')).toBe('\\e[2J\\e[31mred');
    expect(escapeControls('tab\there\r')).toBe('tab\\there\\r');
    expect(escapeControls('bell\u0007 del\u007f c1\u009b')).toBe('bell\\x07 del\\x7f c1\\x9b');
    expect(escapeControls('abc\u202edcba')).toBe('abc\\u202edcba');
    // A backslash is doubled only where escapes appear, so the result cannot be misread.
    expect(escapeControls('C:\\dir')).toBe('C:\\dir');
    expect(escapeControls('\\n\n')).toBe('\\\\n\\n');
  });
});

describe('terminalSafe (rendered tail output)', () => {
  it('keeps lines and tabs, drops colours, escapes what could drive the terminal', () => {
    expect(terminalSafe('ok\n\tindented\r\nnext\n')).toBe('ok\n\tindented\nnext\n');
    expect(terminalSafe('\u001b[32mPASS\u001b[0m 3 tests')).toBe('PASS 3 tests');
    expect(terminalSafe('\u001b[2J\u001b]0;title\u0007x')).toBe('\\e[2J\\e]0;title\\x07x');
    expect(terminalSafe('50%\r100%')).toBe('50%\\r100%');
  });
});

describe('colour', () => {
  it('only on a terminal, never with NO_COLOR, FORCE_COLOR for one the check cannot see', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
  });

  it('colours statuses by meaning, and leaves text alone when disabled', () => {
    const on = palette(true);
    expect(on.status('COMPLETED')).toBe('\u001b[32mCOMPLETED\u001b[39m');
    expect(on.status('FAILED')).toBe('\u001b[31mFAILED\u001b[39m');
    expect(on.status('SOMETHING')).toBe('SOMETHING');
    expect(palette(false).status('FAILED')).toBe('FAILED');
    expect(runStatusLine({ id: 'id-1', name: 'x\ny', status: 'PAUSED' }, palette(false))).toBe('run id-1 (x\\ny) is PAUSED');
  });
});

const state = (over: Partial<ProgressState> = {}): ProgressState => ({
  name: 'user-auth',
  status: 'RUNNING',
  phase: 'implementation',
  iteration: 3,
  tasksDone: 3,
  tasksTotal: 5,
  tasksReviewed: 2,
  costUsd: 0.0123,
  createdAt: 1_000,
  startedAt: 1_000,
  endedAt: null,
  ...over,
});

describe('the run --wait status line', () => {
  it('draws reviewed, done and open tasks as a bar', () => {
    expect(taskBar(2, 3, 5, 10)).toBe('████▓▓░░░░');
    expect(taskBar(5, 5, 5, 10)).toBe('██████████');
    expect(taskBar(0, 0, 5, 10)).toBe('░░░░░░░░░░');
    // Any progress shows, however long the plan.
    expect(taskBar(0, 1, 100, 10)).toBe('▓░░░░░░░░░');
    expect(taskBar(0, 0, 0, 4)).toBe('░░░░');
  });

  it('shows status, phase, iteration, the bar, counts, elapsed time and cost', () => {
    expect(progressLine(state(), 66_000, palette(false), 120)).toBe(
      'RUNNING  implementation iter 3  [█████▓▓░░░░░]  3/5 done, 2 reviewed  1m 05s  $0.0123  user-auth',
    );
    expect(progressLine(state({ tasksTotal: null, tasksDone: null, phase: null, iteration: 0, status: 'PENDING' }), 1_500, palette(false))).toBe(
      'PENDING  waiting  tasks -  500ms  $0.0123  user-auth',
    );
  });

  it('never wraps: drops the least important parts to fit the terminal, and escapes the name', () => {
    const narrow = progressLine(state(), 66_000, palette(false), 40);
    expect(narrow.length).toBeLessThan(40);
    expect(narrow.startsWith('RUNNING  implementation iter 3')).toBe(true);
    const colored = progressLine(state({ name: 'a\u001b[2Jb' }), 66_000, palette(true), 200);
    expect(visibleLength(colored)).toBeLessThan(200);
    expect(colored).toContain('a\\e[2Jb');
  });

  it('on a fake terminal: redraws in place, prints event lines above the status line, and clears it at the end', () => {
    let written = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          written += String(chunk);
          cb();
        },
      }),
      { isTTY: true, columns: 100 },
    );
    let now = 2_000;
    const live = new LiveProgress(tty, palette(false), () => now);
    live.update(state());
    live.log('2025-01-01 12:00:00  STEP_STARTED          iter 3 implementation');
    now = 9_000;
    live.update(state({ tasksDone: 4, tasksReviewed: 3 }));
    live.stop();
    live.update(state({ status: 'COMPLETED' }));

    const CLEAR = '\r\u001b[2K';
    const frames = written.split(CLEAR).filter((f) => f !== '');
    expect(frames).toEqual([
      expect.stringMatching(/^RUNNING  implementation iter 3 .* 1s /),
      '2025-01-01 12:00:00  STEP_STARTED          iter 3 implementation\n',
      expect.stringMatching(/^RUNNING .* 3\/5 done, 2 reviewed  1s /),
      expect.stringMatching(/^RUNNING .* 4\/5 done, 3 reviewed  8s /),
    ]);
    // Cleared at the end, and nothing drawn after stop().
    expect(written.endsWith(CLEAR)).toBe(true);
    expect(written).not.toContain('COMPLETED');
  });
});

describe('--last and --since', () => {
  const now = new Date(2026, 10, 30, 14, 0, 0).getTime();

  it('reads durations back from now, times of day, dates and ISO timestamps', () => {
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('1h30m', now)).toBe(now - 5_400_000);
    expect(parseSince('2d', now)).toBe(now - 172_800_000);
    expect(parseSince('500ms', now)).toBe(now - 500);
    expect(parseSince('09:30', now)).toBe(new Date(2026, 10, 30, 9, 30).getTime());
    // A time of day still to come today means yesterday.
    expect(parseSince('15:00', now)).toBe(new Date(2026, 10, 29, 15, 0).getTime());
    expect(parseSince('2026-11-29', now)).toBe(new Date(2026, 10, 29).getTime());
    expect(parseSince('2026-11-29 08:15', now)).toBe(new Date(2026, 10, 29, 8, 15).getTime());
    expect(parseSince('2026-11-29T08:15:00Z', now)).toBe(Date.UTC(2026, 10, 29, 8, 15));
  });

  it('refuses anything else in one line that says what to give', () => {
    for (const bad of ['yesterday', '10 minutes', '25:00', '-5m', '']) {
      expect(() => parseSince(bad, now), bad).toThrow(UserError);
    }
    expect(() => parseSince('soon', now)).toThrow(/invalid --since "soon": give a duration back from now \(90s, 10m, 1h30m, 2d\) or a time/);
    expect(parseLast('all')).toBe('all');
    expect(parseLast('15')).toBe(15);
    expect(() => parseLast('-3')).toThrow(/invalid --last "-3"/);
  });

  it('-f starts with recent history unless told otherwise; without -f everything', () => {
    expect(eventWindow({ follow: true })).toEqual({ last: FOLLOW_DEFAULT_LAST });
    expect(eventWindow({ follow: true, last: 'all' })).toEqual({});
    expect(eventWindow({ follow: true, since: 5 })).toEqual({ since: 5 });
    expect(eventWindow({ follow: false })).toEqual({});
    expect(eventWindow({ follow: false, last: 3, since: 5 })).toEqual({ last: 3, since: 5 });
  });
});
