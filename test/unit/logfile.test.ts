import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTail } from '../../core/logfile.js';

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
