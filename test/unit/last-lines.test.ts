// lastLines finds the last lines from the end instead of splitting the whole window; it must say
// exactly what the split-and-join it replaced said.
import { describe, expect, it } from 'vitest';
import { lastLines } from '../../core/artifacts.js';

function bySplit(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n') + (lines.length > 0 ? '\n' : '');
}

describe('lastLines', () => {
  it('returns the last n lines, newline-terminated', () => {
    expect(lastLines('a\nb\nc\n', 2)).toBe('b\nc\n');
    expect(lastLines('a\nb\nc', 2)).toBe('b\nc\n');
    expect(lastLines('a\nb\nc\n', 5)).toBe('a\nb\nc\n');
    expect(lastLines('only', 1)).toBe('only\n');
    expect(lastLines('', 3)).toBe('');
  });

  it('says what splitting the whole text said, for every shape of text and count', () => {
    const texts = ['', '\n', '\n\n', 'a', 'a\n', '\na', '\na\n', 'a\n\nb', 'a\n\n\nb\n\n', '\n\nx\ny\n', 'x\r\ny\r\n', 'é\n😀\n€'];
    for (const text of texts) for (let n = -2; n <= 6; n++) expect([text, n, lastLines(text, n)]).toEqual([text, n, bySplit(text, n)]);
  });

  it('reads a window of long lines without changing the answer', () => {
    const line = 'x'.repeat(64 * 1024);
    const text = `${line}\n`.repeat(64) + '<promise>COMPLETE</promise>\n';
    expect(lastLines(text, 200)).toBe(bySplit(text, 200));
    expect(lastLines(text, 2)).toBe(`${line}\n<promise>COMPLETE</promise>\n`);
  });
});
