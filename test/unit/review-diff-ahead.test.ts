import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../core/config.js';
import { diffSince } from '../../core/git.js';
import { diffAheadPath, keepDiffAhead, startDiffAhead, takeDiffAhead } from '../../functions/review-diff-ahead.js';
import type { RunInput } from '../../functions/types.js';
import { g, initRepo, tempDirs } from './tmp.js';

const tmp = tempDirs('loopd-diff-ahead-');

function setup(config: Partial<RunInput['config']> = {}) {
  const dir = tmp();
  const wt = join(dir, 'wt');
  initRepo(wt);
  writeFileSync(join(wt, 'a.txt'), 'a\n');
  g(wt, 'add', '-A');
  g(wt, 'commit', '-q', '-m', 'start');
  const start = g(wt, 'rev-parse', 'HEAD').trim();
  writeFileSync(join(wt, 'b.txt'), 'the work\n');
  g(wt, 'add', '-A');
  g(wt, 'commit', '-q', '-m', 'work');
  const head = g(wt, 'rev-parse', 'HEAD').trim();
  const run = { worktreePath: wt, runDir: join(dir, 'rundir'), config: { ...defaultConfig(), reviewer: true, verify_cmds: [], ...config } } as unknown as RunInput;
  return { wt, run, start, head, file: diffAheadPath(run.runDir, 1) };
}

describe('the reviewer diff taken ahead by the implementation', () => {
  it('is the diff the review would take, kept when the step ended clean at that head and taken back only for the same commits and content', async () => {
    const { wt, run, start, head, file } = setup();
    const started = startDiffAhead(run, null, start)!;
    expect(started).toMatchObject({ from: start, to: head });
    const kept = (await keepDiffAhead(started, head, file))!;
    const own = await diffSince(wt, start);
    expect(takeDiffAhead(kept, start, head, file)).toBe(own);
    expect(own).toContain('+the work');
    // Other commits, a changed file, a missing file or no record: the review diffs itself.
    expect(takeDiffAhead(kept, head, head, file)).toBeNull();
    expect(takeDiffAhead(kept, start, start, file)).toBeNull();
    expect(takeDiffAhead(undefined, start, head, file)).toBeNull();
    writeFileSync(file, own.replace('the work', 'other work'));
    expect(takeDiffAhead(kept, start, head, file)).toBeNull();
  });

  it('is not kept when the step did not end clean at the commit it was taken for, and not taken when no review follows at once', async () => {
    const { run, start, file } = setup();
    expect(await keepDiffAhead(startDiffAhead(run, null, start), null, file)).toBeNull();
    expect(await keepDiffAhead(startDiffAhead(run, null, start), start, file)).toBeNull();
    expect(existsSync(file)).toBe(false);
    expect(startDiffAhead(setup({ reviewer: false }).run, null, start)).toBeNull();
    expect(startDiffAhead(setup({ verify_cmds: ['true'] }).run, null, start)).toBeNull();
    // Nothing to diff: HEAD is the base.
    const same = setup();
    expect(startDiffAhead(same.run, same.head, same.start)).toBeNull();
  });
});
