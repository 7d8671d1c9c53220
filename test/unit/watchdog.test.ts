import { describe, expect, it } from 'vitest';
import { WATCHDOG_SIGNALS } from '../../core/types.js';
import { intervention } from '../../functions/watchdog.js';

describe('watchdog interventions', () => {
  it.each(WATCHDOG_SIGNALS)('%s never sends the agent to pick a task when none is open', (signal) => {
    const text = intervention(signal, { noProgressIterations: 2, openTasks: 0 });
    expect(text).not.toMatch(/pick (another|a|the next)|next open task|another open task|another task|new task now/i);
    expect(text.length).toBeGreaterThan(40);
  });

  it('with open tasks, a stuck agent is pointed at them', () => {
    expect(intervention('repeated_task', { noProgressIterations: 2, openTasks: 2 })).toMatch(/pick another open task/);
    expect(intervention('malformed_complete', { noProgressIterations: 2, openTasks: 1 })).toMatch(/next open task/);
  });

  it('never tells the agent to write [~]', () => {
    for (const s of WATCHDOG_SIGNALS) for (const openTasks of [0, 3]) expect(intervention(s, { noProgressIterations: 2, openTasks })).not.toMatch(/mark it \[~\]/);
  });
});
