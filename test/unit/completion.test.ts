import { describe, expect, it } from 'vitest';
import { completionGate, detectCompletion, lastNonEmptyLine, type GateInput } from '../../core/completion.js';
import type { LedgerCounts } from '../../core/ledger.js';
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

describe('completionGate: plan runs (ledger)', () => {
  const all: LedgerCounts = { total: 3, open: 0, pendingReview: 0, reviewed: 2, doneBeforeRun: 1 };
  const ok: GateInput = { claimed: true, ledger: all, openTasks: 0, reviewerOn: true, lastReviewApproved: true, verificationPassed: true };

  it('completes on the facts, recording whether the agent also printed the token', () => {
    expect(completionGate(ok)).toEqual({
      complete: true,
      completion: 'complete_token',
      signal: null,
      reason: 'complete_token: all 3 tasks done, last review approved, last verification passed',
    });
    expect(completionGate({ ...ok, claimed: false })).toMatchObject({ complete: true, completion: 'complete_facts' });
  });

  it('a token with open tasks is malformed_complete; open tasks without a token are just open', () => {
    const open = { ...all, open: 2 };
    expect(completionGate({ ...ok, ledger: open })).toEqual({
      complete: false,
      completion: null,
      signal: 'malformed_complete',
      reason: 'the agent claimed completion but 2 tasks are still open',
    });
    expect(completionGate({ ...ok, claimed: false, ledger: open })).toMatchObject({ complete: false, signal: null, reason: '2 tasks open' });
  });

  it('the ledger wins over what the implementation step counted', () => {
    expect(completionGate({ ...ok, openTasks: 0, ledger: { ...all, open: 1 } }).complete).toBe(false);
    expect(completionGate({ ...ok, openTasks: 5 }).complete).toBe(true);
  });

  it('with the reviewer on, ticked tasks must be reviewed and the last review approved', () => {
    expect(completionGate({ ...ok, ledger: { ...all, pendingReview: 1 } }).reason).toBe('1 task ticked but not yet reviewed');
    expect(completionGate({ ...ok, lastReviewApproved: false }).reason).toBe('the last review did not approve');
  });

  it('with the reviewer off, ticked tasks are done', () => {
    expect(completionGate({ ...ok, reviewerOn: false, lastReviewApproved: null, ledger: { ...all, pendingReview: 3, reviewed: 0 } }).complete).toBe(true);
  });

  it('needs the last verification to have passed', () => {
    expect(completionGate({ ...ok, verificationPassed: false }).reason).toBe('the last verification failed');
    expect(completionGate({ ...ok, verificationPassed: null }).complete).toBe(true);
  });

  it('never completes an empty ledger', () => {
    expect(completionGate({ ...ok, ledger: { total: 0, open: 0, pendingReview: 0, reviewed: 0, doneBeforeRun: 0 } }).complete).toBe(false);
  });

  it('checks all combinations against the rule', () => {
    for (const claimed of [true, false])
      for (const open of [0, 1])
        for (const reviewerOn of [true, false])
          for (const pendingReview of [0, 1])
            for (const lastReviewApproved of [true, false, null])
              for (const verificationPassed of [true, false, null]) {
                const g: GateInput = { claimed, ledger: { ...all, open, pendingReview }, openTasks: 0, reviewerOn, lastReviewApproved, verificationPassed };
                const expected = open === 0 && (!reviewerOn || (pendingReview === 0 && lastReviewApproved !== false)) && verificationPassed !== false;
                const r = completionGate(g);
                expect(r.complete, JSON.stringify(g)).toBe(expected);
                expect(r.completion, JSON.stringify(g)).toBe(expected ? (claimed ? 'complete_token' : 'complete_facts') : null);
                expect(r.signal, JSON.stringify(g)).toBe(claimed && open > 0 ? 'malformed_complete' : null);
              }
  });
});

describe('completionGate: plan-less runs', () => {
  const ok: GateInput = { claimed: true, ledger: null, openTasks: 0, reviewerOn: true, lastReviewApproved: true, verificationPassed: true };

  it('needs the token', () => {
    expect(completionGate(ok)).toMatchObject({ complete: true, completion: 'complete_token' });
    expect(completionGate({ ...ok, claimed: false }).complete).toBe(false);
  });

  it('needs an approving review when the reviewer is on, and passing verification', () => {
    expect(completionGate({ ...ok, lastReviewApproved: null }).reason).toBe('no review has approved yet');
    expect(completionGate({ ...ok, lastReviewApproved: false }).complete).toBe(false);
    expect(completionGate({ ...ok, reviewerOn: false, lastReviewApproved: null }).complete).toBe(true);
    expect(completionGate({ ...ok, verificationPassed: false }).complete).toBe(false);
  });
});

describe('lastNonEmptyLine', () => {
  // What detectCompletion did before it searched from the end: split everything, keep the last.
  const bySplit = (text: string) =>
    text
      .split(/\r\n|\n|\r/)
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .at(-1);

  it('says what splitting into lines says, for every mix of separators and blanks', () => {
    const parts = ['', 'a', ' b ', '\n', '\r', '\r\n', '\n\r', '  ', '\t', T, '\u2028'];
    const texts: string[] = [];
    for (const x of parts) for (const y of parts) for (const z of parts) texts.push(x + y + z, `${x}q${y}${z}w`);
    for (const text of texts) expect([text, lastNonEmptyLine(text)]).toEqual([text, bySplit(text)]);
  });

  it('finds the last line of a long window without looking at the rest', () => {
    const text = `${'x'.repeat(64 * 1024)}\n`.repeat(64) + `${T}\r\n\r\n  \n`;
    expect(lastNonEmptyLine(text)).toBe(T);
    expect(lastNonEmptyLine('\r'.repeat(100_000))).toBeUndefined();
  });
});
