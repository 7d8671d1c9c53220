import { describe, expect, it } from 'vitest';
import { completionGate, detectCompletion, type GateInput } from '../../core/completion.js';
import { COMPLETION_TOKEN } from '../../core/types.js';

const T = COMPLETION_TOKEN;

describe('detectCompletion: exact', () => {
  it('claims when the whole output is the token', () => {
    expect(detectCompletion(T, 'exact')).toEqual({ claimed: true, malformed: false });
  });

  it('allows surrounding whitespace', () => {
    expect(detectCompletion(`\n\n  ${T}  \n`, 'exact')).toEqual({ claimed: true, malformed: false });
    expect(detectCompletion(`\r\n${T}\r\n`, 'exact').claimed).toBe(true);
  });

  it('is malformed when other text surrounds the token', () => {
    expect(detectCompletion(`All done!\n${T}`, 'exact')).toEqual({ claimed: false, malformed: true });
    expect(detectCompletion(`${T}\nbye`, 'exact')).toEqual({ claimed: false, malformed: true });
  });

  it('is neither without the token', () => {
    expect(detectCompletion('did one task', 'exact')).toEqual({ claimed: false, malformed: false });
    expect(detectCompletion('', 'exact')).toEqual({ claimed: false, malformed: false });
  });
});

describe('detectCompletion: trailing', () => {
  it('claims when the last non-empty line is the token', () => {
    expect(detectCompletion(`work work\n${T}`, 'trailing')).toEqual({ claimed: true, malformed: false });
    expect(detectCompletion(`work\n${T}\n\n   \n`, 'trailing')).toEqual({ claimed: true, malformed: false });
    expect(detectCompletion(T, 'trailing').claimed).toBe(true);
  });

  it('trims the last line', () => {
    expect(detectCompletion(`work\n   ${T}\t`, 'trailing').claimed).toBe(true);
  });

  it('handles CRLF and CR', () => {
    expect(detectCompletion(`work\r\n${T}\r\n`, 'trailing').claimed).toBe(true);
    expect(detectCompletion(`work\r${T}\r`, 'trailing').claimed).toBe(true);
  });

  it('is malformed when the token is mid-output', () => {
    expect(detectCompletion(`${T}\nthen more work`, 'trailing')).toEqual({ claimed: false, malformed: true });
  });

  it('is malformed when the token shares its line with other text', () => {
    expect(detectCompletion(`Done: ${T}`, 'trailing')).toEqual({ claimed: false, malformed: true });
    expect(detectCompletion(`\`${T}\``, 'trailing')).toEqual({ claimed: false, malformed: true });
    expect(detectCompletion(`**${T}**`, 'trailing')).toEqual({ claimed: false, malformed: true });
  });

  it('still claims when the token was also quoted earlier', () => {
    expect(detectCompletion(`I must print ${T} at the end\n${T}`, 'trailing')).toEqual({ claimed: true, malformed: false });
  });

  it('is neither without the token', () => {
    expect(detectCompletion('nothing to see\n', 'trailing')).toEqual({ claimed: false, malformed: false });
    expect(detectCompletion('', 'trailing')).toEqual({ claimed: false, malformed: false });
    expect(detectCompletion('\n\n', 'trailing')).toEqual({ claimed: false, malformed: false });
  });
});

describe('detectCompletion: near misses and decoration', () => {
  it.each(['<promise>complete</promise>', '<promise> COMPLETE </promise>', '<PROMISE>Complete</PROMISE>'])(
    'treats %j as malformed in both modes',
    (near) => {
      expect(detectCompletion(near, 'exact')).toEqual({ claimed: false, malformed: true });
      expect(detectCompletion(`x\n${near}`, 'trailing')).toEqual({ claimed: false, malformed: true });
    },
  );

  it('ignores unrelated promise tags', () => {
    expect(detectCompletion('<promise>DONE</promise>', 'trailing')).toEqual({ claimed: false, malformed: false });
  });

  it('strips ANSI colour codes before checking', () => {
    expect(detectCompletion(`\u001b[32m${T}\u001b[0m`, 'exact').claimed).toBe(true);
    expect(detectCompletion(`work\n\u001b[1m${T}\u001b[0m\n`, 'trailing').claimed).toBe(true);
  });
});

describe('completionGate', () => {
  const ok: GateInput = {
    claimed: true,
    openTasks: 0,
    reviewerOn: true,
    unreviewedTasks: 0,
    lastReviewApproved: true,
    verificationPassed: true,
  };

  it('completes when everything agrees', () => {
    const r = completionGate(ok);
    expect(r.complete).toBe(true);
    expect(r.signal).toBeNull();
    expect(r.reason).toBe('complete: no open tasks, review approved, verification passed');
  });

  it('does not complete without a claim, even if the facts agree', () => {
    expect(completionGate({ ...ok, claimed: false })).toEqual({
      complete: false,
      signal: null,
      reason: 'the agent did not claim completion',
    });
  });

  it('does not signal anything for an unclaimed iteration with open tasks', () => {
    expect(completionGate({ ...ok, claimed: false, openTasks: 3 }).signal).toBeNull();
  });

  it('signals malformed_complete for a claim with open tasks', () => {
    expect(completionGate({ ...ok, openTasks: 1 })).toEqual({
      complete: false,
      signal: 'malformed_complete',
      reason: 'the agent claimed completion but 1 task is still open',
    });
    expect(completionGate({ ...ok, openTasks: 4 }).reason).toBe('the agent claimed completion but 4 tasks are still open');
  });

  it('needs an approving review when the reviewer is on', () => {
    expect(completionGate({ ...ok, lastReviewApproved: false })).toEqual({
      complete: false,
      signal: null,
      reason: 'claimed, but the last review did not approve',
    });
    expect(completionGate({ ...ok, lastReviewApproved: null }).reason).toBe('claimed, but no review has approved yet');
  });

  it('needs every task reviewed when the reviewer is on', () => {
    const r = completionGate({ ...ok, unreviewedTasks: 2 });
    expect(r.complete).toBe(false);
    expect(r.signal).toBeNull();
    expect(r.reason).toBe('claimed, but 2 tasks not yet reviewed');
  });

  it('ignores review state when the reviewer is off', () => {
    const r = completionGate({ ...ok, reviewerOn: false, lastReviewApproved: null, unreviewedTasks: 5 });
    expect(r.complete).toBe(true);
    expect(r.reason).toBe('complete: no open tasks, verification passed');
  });

  it('fails on failed verification', () => {
    expect(completionGate({ ...ok, verificationPassed: false })).toEqual({
      complete: false,
      signal: null,
      reason: 'claimed, but verification failed',
    });
  });

  it('completes with no verification commands', () => {
    const r = completionGate({ ...ok, verificationPassed: null });
    expect(r.complete).toBe(true);
    expect(r.reason).toBe('complete: no open tasks, review approved');
  });

  it('lists every blocker', () => {
    expect(completionGate({ ...ok, lastReviewApproved: false, unreviewedTasks: 1, verificationPassed: false }).reason).toBe(
      'claimed, but the last review did not approve; 1 task not yet reviewed; verification failed',
    );
  });

  it('checks all combinations against the rule', () => {
    for (const claimed of [true, false])
      for (const openTasks of [0, 1])
        for (const reviewerOn of [true, false])
          for (const unreviewedTasks of [0, 1])
            for (const lastReviewApproved of [true, false, null])
              for (const verificationPassed of [true, false, null]) {
                const g = { claimed, openTasks, reviewerOn, unreviewedTasks, lastReviewApproved, verificationPassed };
                const expected =
                  claimed &&
                  openTasks === 0 &&
                  (!reviewerOn || (lastReviewApproved === true && unreviewedTasks === 0)) &&
                  verificationPassed !== false;
                const r = completionGate(g);
                expect(r.complete, JSON.stringify(g)).toBe(expected);
                expect(r.signal, JSON.stringify(g)).toBe(claimed && openTasks > 0 ? 'malformed_complete' : null);
                expect(r.reason.length).toBeGreaterThan(0);
              }
  });
});
