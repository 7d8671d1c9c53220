import { describe, expect, it } from 'vitest';
import { attemptSuffix, implementationFiles, iterName, promptRewriteFile, reviewFiles, runFiles, verifyFiles } from '../../core/artifact-names.js';

const dir = '/data/runs/run-1';

describe('artifact names', () => {
  it('pads iterations so listings sort, and marks retries only', () => {
    expect([1, 9, 10, 123].map(iterName)).toEqual(['01', '09', '10', '123']);
    expect(attemptSuffix(1)).toBe('');
    expect(attemptSuffix(3)).toBe('.attempt-3');
  });

  it('names the run files', () => {
    expect(runFiles(dir)).toEqual({
      prompt: `${dir}/prompt.txt`,
      runnerNotes: `${dir}/runner-notes.txt`,
      report: `${dir}/report.tsv`,
      summary: `${dir}/summary.json`,
    });
    expect(promptRewriteFile(dir, 2)).toBe(`${dir}/prompt.rewrite.2.txt`);
  });

  it('names an implementation attempt; the tail is per iteration', () => {
    expect(implementationFiles(dir, 3, 1)).toEqual({
      log: `${dir}/iter-03.log`,
      exit: `${dir}/.iter-03.exit`,
      prompt: `${dir}/iter-03.prompt.txt`,
      judgement: `${dir}/.iter-03.judgement.json`,
      tail: `${dir}/iter-03.tail.txt`,
    });
    expect(implementationFiles(dir, 3, 2)).toMatchObject({ log: `${dir}/iter-03.attempt-2.log`, exit: `${dir}/.iter-03.attempt-2.exit`, tail: `${dir}/iter-03.tail.txt` });
  });

  it('names a review attempt; diff and notes are per iteration', () => {
    expect(reviewFiles(dir, 12, 2)).toEqual({
      log: `${dir}/review-12.attempt-2.log`,
      exit: `${dir}/.review-12.attempt-2.exit`,
      prompt: `${dir}/review-12.attempt-2.prompt.txt`,
      diff: `${dir}/review-12.diff`,
      notes: `${dir}/review-12.md`,
    });
  });

  it('names each verification command of an iteration', () => {
    expect(verifyFiles(dir, 4, 2)).toEqual({ log: `${dir}/verify-04-2.log`, exit: `${dir}/.verify-04-2.exit` });
  });

  it('keeps the hidden files (exit status, judgement) out of the visible names', () => {
    const visible = [implementationFiles(dir, 1, 2), reviewFiles(dir, 1, 2), verifyFiles(dir, 1, 1)].flatMap((f) => [f.log]);
    for (const p of visible) expect(p.split('/').pop()!.startsWith('.')).toBe(false);
  });
});
