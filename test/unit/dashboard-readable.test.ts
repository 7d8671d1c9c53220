import { describe, expect, it } from 'vitest';
import { createRenderer } from '../../dashboard/src/readable.js';

describe('dashboard output renderer', () => {
  it('removes terminal codes, also when one is split across chunks', () => {
    const r = createRenderer();
    expect(r.push('\x1b[32mok\x1b[0m done\n')).toBe('ok done\n');
    expect(r.push('red \x1b[3')).toBe('red ');
    expect(r.push('1mtext\x1b[0m\n')).toBe('text\n');
    expect(r.push('progress 10%\rprogress 20%\n')).toBe('progress 10%\nprogress 20%\n');
  });

  it('gives back what it held when the step ends', () => {
    const r = createRenderer();
    expect(r.push('tail \x1b')).toBe('tail ');
    expect(r.flush()).toBe('');
    const plain = createRenderer();
    expect(plain.push('plain text')).toBe('plain text');
    expect(plain.flush()).toBe('');
  });
});
