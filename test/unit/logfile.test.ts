import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLines } from '../../core/artifacts.js';
import { checksumStream, countFileLines, forEachChunk, readTail, writeLastLines } from '../../core/logfile.js';

describe('readTail', () => {
  it('gives each call its own text although the read buffer is shared', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopd-logfile-'));
    const big = join(dir, 'big.log');
    const small = join(dir, 'small.log');
    writeFileSync(big, `${'a'.repeat(100)}\n${'b'.repeat(300 * 1024)}\nlast\n`);
    writeFileSync(small, 'one\ntwo\n');
    const whole = `${'a'.repeat(100)}\n${'b'.repeat(300 * 1024)}\nlast\n`;
    const first = readTail(big, 400 * 1024);
    const second = readTail(small);
    const third = readTail(big, 64);
    expect(first).toEqual({ text: whole, size: whole.length, cut: false });
    expect(second).toEqual({ text: 'one\ntwo\n', size: 8, cut: false });
    expect(third).toEqual({ text: 'last\n', size: whole.length, cut: true });
  });
});

describe('writeLastLines', () => {
  it('writes the bytes lastLines would give for the end window, without decoding it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopd-logfile-'));
    const log = join(dir, 'out.log');
    const out = join(dir, 'tail.txt');
    const texts = ['', '\n', 'only', 'a\nb\nc\n', 'a\nb\nc', '\n\nx\n\n', 'é\nñ ü\n😀\n', `${'y'.repeat(5000)}\nz\n`];
    for (const text of texts) {
      writeFileSync(log, text);
      for (const n of [1, 2, 3, 200]) {
        for (const window of [4 * 1024 * 1024, 3, 7]) {
          writeLastLines(log, out, n, window);
          expect([text, n, window, readFileSync(out, 'utf8')]).toEqual([text, n, window, lastLines(readTail(log, window).text, n)]);
        }
      }
    }
    writeLastLines(join(dir, 'missing.log'), out, 5);
    expect(readFileSync(out, 'utf8')).toBe('');
  });

  it('keeps 200 long lines whole, the last 4 MiB at most', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopd-logfile-'));
    const log = join(dir, 'out.log');
    const line = `${'x'.repeat(64 * 1024 - 1)}\n`;
    writeFileSync(log, `${line.repeat(100)}done`);
    writeLastLines(log, join(dir, 'tail.txt'), 200);
    const tail = readFileSync(join(dir, 'tail.txt'), 'utf8');
    expect(tail).toBe(lastLines(readTail(log).text, 200));
    expect(tail.endsWith('\ndone\n')).toBe(true);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(4 * 1024 * 1024 + 1);
  });
});

describe('forEachChunk', () => {
  it('streams every byte with one shared buffer, also when a callback streams another file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopd-logfile-'));
    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    writeFileSync(a, 'a'.repeat(2.5 * 1024 * 1024));
    writeFileSync(b, 'line\n'.repeat(1000));
    let inner = 0;
    const total = forEachChunk(a, (c) => {
      expect(c.every((x) => x === 0x61)).toBe(true);
      inner += countFileLines(b).lines;
    });
    expect(total).toBe(2.5 * 1024 * 1024);
    expect(inner).toBe(3000);
    expect(checksumStream(b).bytes).toBe(5000);
  });
});

