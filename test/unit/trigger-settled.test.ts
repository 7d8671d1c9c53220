// settled(): the trigger's "is the writer done with this file" check. Fake timers and a fake clock
// set against the file's real mtime make the waits exact, so no test depends on the machine's speed.
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { settled } from '../../triggers/files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loopd-settled-'));
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the file with this mtime (ms, with a sub-millisecond part unless whole) and returns it. */
function write(name: string, text: string, mtimeMs: number): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
  return p;
}

/** Starts settled() and reports whether it has answered yet. */
function watch(p: string, windowMs: number, closed = () => false, allowEmpty = false) {
  const s = { done: false, value: undefined as boolean | undefined };
  void settled(p, windowMs, closed, allowEmpty).then((v) => {
    s.done = true;
    s.value = v;
  });
  return s;
}

describe('settled', () => {
  it('counts the window from the last write the mtime records, not from when it is asked', async () => {
    const mtime = 1_800_000_000_000.5;
    const p = write('spec.md', '# spec\n', mtime);
    vi.setSystemTime(Math.floor(statSync(p).mtimeMs) + 9_900);
    const s = watch(p, 10_000);
    await vi.advanceTimersByTimeAsync(90);
    expect(s.done).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(s).toEqual({ done: true, value: true });
  });

  it('settles a file last written longer than the window ago at once', async () => {
    const p = write('spec.md', '# spec\n', 1_800_000_000_000.25);
    vi.setSystemTime(1_800_000_000_000 + 60_000);
    const s = watch(p, 50);
    await vi.advanceTimersByTimeAsync(0);
    expect(s).toEqual({ done: true, value: true });
  });

  it('starts again when the file is written during the wait', async () => {
    const t = 1_800_000_000_000;
    const p = write('spec.md', '# half', t + 0.5);
    vi.setSystemTime(t + 10);
    const s = watch(p, 50);
    await vi.advanceTimersByTimeAsync(30);
    write('spec.md', '# half, and the rest\n', t + 40.5);
    await vi.advanceTimersByTimeAsync(30);
    expect(s.done).toBe(false);
    await vi.advanceTimersByTimeAsync(60);
    expect(s).toEqual({ done: true, value: true });
  });

  it('with whole-second mtimes, needs the file unchanged for a whole window', async () => {
    const p = write('spec.md', '# spec\n', 1_800_000_000_000);
    vi.setSystemTime(1_800_000_000_000 + 60_000);
    const s = watch(p, 50);
    await vi.advanceTimersByTimeAsync(40);
    expect(s.done).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(s).toEqual({ done: true, value: true });
  });

  it('an mtime ahead of the clock (another host) costs one window, not until the clock catches up', async () => {
    const p = write('spec.md', '# spec\n', 1_800_000_600_000.5);
    vi.setSystemTime(1_800_000_000_000);
    const s = watch(p, 50);
    await vi.advanceTimersByTimeAsync(40);
    expect(s.done).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(s).toEqual({ done: true, value: true });
  });

  it('an empty file is not written yet unless allowed; a missing file or a closed watch is no', async () => {
    const t = 1_800_000_000_000;
    vi.setSystemTime(t + 60_000);
    const empty = write('empty.md', '', t + 0.5);
    const no = watch(empty, 50);
    const yes = watch(empty, 50, () => false, true);
    const missing = watch(join(dir, 'missing.md'), 50);
    const closed = watch(write('spec.md', '# spec\n', t + 0.5), 50, () => true);
    await vi.advanceTimersByTimeAsync(0);
    expect([no, yes, missing, closed]).toEqual([
      { done: true, value: false },
      { done: true, value: true },
      { done: true, value: false },
      { done: true, value: false },
    ]);
  });
});
