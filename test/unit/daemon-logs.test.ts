import { appendFileSync, mkdtempSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followLog, lastLogLines } from '../../cli/daemon-logs.js';

const temp = () => realpathSync(mkdtempSync(join(tmpdir(), 'loopd-logs-')));

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('lastLogLines', () => {
  it('takes the last lines of the live file, reaching into the newest rotated one when it is short', () => {
    const file = join(temp(), 'loopd.log');
    writeFileSync(`${file}.1`, 'a\nb\nc\n');
    writeFileSync(file, 'd\n\ne\n');
    expect(lastLogLines(file, 1)).toEqual(['e']);
    expect(lastLogLines(file, 2)).toEqual(['d', 'e']);
    expect(lastLogLines(file, 4)).toEqual(['b', 'c', 'd', 'e']);
    expect(lastLogLines(file)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(lastLogLines(join(temp(), 'none.log'), 5)).toEqual([]);
  });
});

describe('followLog', () => {
  it('prints only new lines, whole lines only, and loses none across a rotation', async () => {
    const file = join(temp(), 'loopd.log');
    writeFileSync(file, 'old\n');
    const got: string[] = [];
    const abort = new AbortController();
    // followLog takes its start position before it returns: anything written after must arrive.
    const done = followLog(file, (l) => got.push(l), abort.signal, 5);
    appendFileSync(file, 'one\ntw');
    await until(() => got.length === 1);
    appendFileSync(file, 'o\n');
    await until(() => got.length === 2);
    // Rotation: a last line lands in the old file after the rename, then the new file starts.
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, 'three\n');
    writeFileSync(file, 'four\n');
    await until(() => got.length === 4);
    abort.abort();
    await done;
    expect(got).toEqual(['one', 'two', 'three', 'four']);
  });

  it('waits for a log that does not exist yet', async () => {
    const file = join(temp(), 'loopd.log');
    const got: string[] = [];
    const abort = new AbortController();
    const done = followLog(file, (l) => got.push(l), abort.signal, 5);
    writeFileSync(file, 'first\n');
    await until(() => got.length === 1);
    abort.abort();
    await done;
    expect(got).toEqual(['first']);
  });
});
