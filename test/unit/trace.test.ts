import { afterEach, describe, expect, it } from 'vitest';
import { setTraceRecorder, traceMark, type TraceMark } from '../../core/trace.js';

afterEach(() => setTraceRecorder(null));

describe('trace marks', () => {
  it('go to the installed recorder with the step, the name and a wall time, and nowhere without one', () => {
    const marks: TraceMark[] = [];
    traceMark(1, 'before any recorder');
    setTraceRecorder((m) => marks.push(m));
    const t0 = Date.now();
    traceMark(7, 'claimed');
    traceMark(7, 'spawned');
    setTraceRecorder(null);
    traceMark(7, 'after removal');
    expect(marks.map((m) => [m.stepId, m.name])).toEqual([
      [7, 'claimed'],
      [7, 'spawned'],
    ]);
    // Wall time in ms (comparable with Date.now() and the agent's own clock), in order.
    expect(Math.abs(marks[0]!.at - t0)).toBeLessThan(60_000);
    expect(marks[1]!.at).toBeGreaterThanOrEqual(marks[0]!.at);
  });
});
