// The repeated_task similarity compares only the ends of two outputs (SIMILARITY_WINDOW_BYTES), cut
// on a line boundary the way readTail cuts a log, so its cost at a step end stays bounded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTail } from '../../core/logfile.js';
import { outputSimilarity, SIMILARITY_WINDOW_BYTES, textTail } from '../../core/signals.js';
import { tempDirs } from './tmp.js';

const tmpDir = tempDirs('text-tail-');

const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} line ${i}`).join('\n') + '\n';

describe('textTail', () => {
  it('returns a text within the window whole', () => {
    expect(textTail('a\nb\n', 4)).toBe('a\nb\n');
    expect(textTail('', 4)).toBe('');
  });

  it('drops the partial first line when it cuts', () => {
    expect(textTail('first line\nsecond\nthird\n', 12)).toBe('third\n');
    // A window that starts on a newline drops it, as readTail does.
    expect(textTail('first line\nsecond\nthird\n', 14)).toBe('second\nthird\n');
    expect(textTail('xxxxxxxx\nabc\n', 5)).toBe('abc\n');
  });

  it('keeps the cut text when the window holds no newline', () => {
    expect(textTail('abcdefgh', 3)).toBe('fgh');
    expect(textTail('abc\n', 1)).toBe('\n');
  });

  it('counts UTF-8 bytes and never splits a character', () => {
    // é is 2 bytes, € 3, 😀 4 (a surrogate pair in the string).
    expect(textTail('aé€😀', 7)).toBe('€😀');
    expect(textTail('aé€😀', 6)).toBe('😀');
    expect(textTail('aé€😀', 3)).toBe('');
    expect(textTail('aé€😀', 10)).toBe('aé€😀');
  });

  it('cuts a text where readTail cuts the same bytes in a file', () => {
    const dir = tmpDir();
    const text = `${'ünïcødé '.repeat(50)}\n${lines('mixed €', 2000)}${'😀'.repeat(100)} last words without a newline`;
    const path = join(dir, 'log');
    writeFileSync(path, text);
    for (const window of [1000, 4096, 10_000, 65_536]) expect(textTail(text, window)).toBe(readTail(path, window).text);
  });
});

describe('outputSimilarity', () => {
  it('compares whole outputs that fit the window', () => {
    expect(outputSimilarity(lines('same', 10), lines('same', 10))).toBe(1);
    expect(outputSimilarity(lines('one', 10), lines('other', 10))).toBe(0);
    expect(outputSimilarity('', lines('x', 3))).toBe(0);
  });

  it('reads only the last SIMILARITY_WINDOW_BYTES of each side', () => {
    const shared = lines('the same last words', Math.ceil(SIMILARITY_WINDOW_BYTES / 20));
    expect(Buffer.byteLength(shared)).toBeGreaterThan(SIMILARITY_WINDOW_BYTES);
    // Two outputs that differ only before their last window are a repeat.
    const a = lines('an early difference', 50_000) + shared;
    const b = lines('another early start', 50_000) + shared;
    expect(outputSimilarity(a, b)).toBe(1);
    // Unbounded, the early lines would count: the same pair compared whole is mostly different.
    expect(outputSimilarity(a, b, Buffer.byteLength(a) + Buffer.byteLength(b))).toBeLessThan(0.6);
  });

  it('sees a difference inside the window', () => {
    const a = lines('head', 50_000) + lines('tail a', 100);
    const b = lines('head', 50_000) + lines('tail b', 100);
    expect(outputSimilarity(a, b, 1000)).toBe(0);
  });
});
