import { describe, expect, it } from 'vitest';
import { parseRawNumstat, splitPatch } from '../../core/diff.js';

describe('parseRawNumstat', () => {
  it('pairs raw status with numstat counts, renames and binaries included', () => {
    const out =
      ':100644 100644 bdc955b 8835708 M\0bin\0' +
      ':000000 100644 0000000 3e75765 A\0n.txt\0' +
      ':100644 000000 45b983b 0000000 D\0y.txt\0' +
      ':100644 100644 0fdf397 28c54b7 R070\0x.txt\0z.txt\0' +
      '-\t-\tbin\0' +
      '1\t0\tn.txt\0' +
      '0\t1\ty.txt\0' +
      '1\t0\t\0x.txt\0z.txt\0';
    expect(parseRawNumstat(out)).toEqual([
      { status: 'modified', path: 'bin', oldPath: null, additions: 0, deletions: 0, binary: true },
      { status: 'added', path: 'n.txt', oldPath: null, additions: 1, deletions: 0, binary: false },
      { status: 'deleted', path: 'y.txt', oldPath: null, additions: 0, deletions: 1, binary: false },
      { status: 'renamed', path: 'z.txt', oldPath: 'x.txt', additions: 1, deletions: 0, binary: false },
    ]);
  });

  it('is empty for no change', () => {
    expect(parseRawNumstat('')).toEqual([]);
  });
});

describe('splitPatch', () => {
  it('splits at each diff --git line, keeping lines that merely mention it', () => {
    const a = 'diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+ diff --git inside a line\n';
    const b = 'diff --git a/b b/b\nnew file mode 100644\n';
    expect(splitPatch(a + b)).toEqual([a, b]);
    expect(splitPatch('')).toEqual([]);
  });
});
