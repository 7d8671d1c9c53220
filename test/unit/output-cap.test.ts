import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capLayout, capStream, finalizeCappedLog, listParts, needsFinalize, partPathFor, readCapState } from '../../core/agents/output-cap.js';
import { countFileLines, readTail } from '../../core/logfile.js';
import { tempDir } from '../integration/harness.js';

async function* chunks(total: number, size: number, fill: (i: number) => number): AsyncGenerator<Buffer> {
  let i = 0;
  for (let sent = 0; sent < total; sent += size) {
    const n = Math.min(size, total - sent);
    const b = Buffer.alloc(n);
    for (let k = 0; k < n; k++) b[k] = fill(i++);
    yield b;
  }
}

describe('the output cap', () => {
  const MAX = 64 * 1024;

  it('keeps output under the cap whole', async () => {
    const log = join(tempDir(), 'iter.log');
    const state = await capStream(chunks(MAX - 10, 4096, (i) => (i % 50 === 49 ? 10 : 97)), log, MAX);
    expect(state).toMatchObject({ truncated: false, totalBytes: MAX - 10, finalized: true });
    expect(statSync(log).size).toBe(MAX - 10);
    expect(listParts(log)).toEqual([]);
  });

  it('keeps the head and the last part of longer output, with markers, within the cap', async () => {
    const log = join(tempDir(), 'iter.log');
    const total = 10 * MAX;
    // Bytes tell their own position: the kept end must be the true end.
    const state = await capStream(chunks(total, 3000, (i) => 65 + (Math.floor(i / 1000) % 26)), log, MAX);
    const layout = capLayout(MAX);
    expect(state).toMatchObject({ truncated: true, totalBytes: total, finalized: true });
    expect(state!.omittedBytes).toBe(total - layout.head - layout.tailKeep);
    const text = readFileSync(log, 'latin1');
    expect(statSync(log).size).toBeLessThanOrEqual(MAX + 512);
    expect(text).toContain('output passed max_output_bytes');
    expect(text).toContain(`${state!.omittedBytes} bytes of output omitted here`);
    const expectedEnd = Buffer.alloc(1000);
    for (let k = 0; k < 1000; k++) expectedEnd[k] = 65 + (Math.floor((total - 1000 + k) / 1000) % 26);
    expect(text.endsWith(expectedEnd.toString('latin1'))).toBe(true);
    expect(listParts(log)).toEqual([]);
  });

  it('is finished by the daemon when the writer was killed, and finishing twice changes nothing', () => {
    const dir = tempDir();
    const log = join(dir, 'iter.log');
    const layout = capLayout(MAX);
    writeFileSync(log, Buffer.alloc(layout.head, 104));
    // The writer died after rotating to part 5: parts 4 and 5 are on disk, 5 half full.
    writeFileSync(partPathFor(log, 4), Buffer.alloc(layout.partBytes, 52));
    writeFileSync(partPathFor(log, 5), Buffer.alloc(100, 53));
    writeFileSync(`${log}.cap.json`, JSON.stringify({ totalBytes: 0, totalLines: 7, truncated: true, omittedBytes: 0, maxBytes: MAX, finalized: false }));
    expect(needsFinalize(log)).toBe(true);
    const state = finalizeCappedLog(log)!;
    expect(state).toMatchObject({ truncated: true, finalized: true, finishedByDaemon: true, totalLines: 7 });
    expect(state.totalBytes).toBe(layout.head + 3 * layout.partBytes + layout.partBytes + 100);
    const size = statSync(log).size;
    expect(readFileSync(log, 'latin1').endsWith('5'.repeat(100))).toBe(true);
    expect(finalizeCappedLog(log)).toEqual(state);
    expect(statSync(log).size).toBe(size);
    expect(needsFinalize(log)).toBe(false);
    expect(readCapState(log)).toEqual(state);
  });
});

describe('bounded log reading', () => {
  it('reads the end of a file from a line boundary, or from a character when there is none', () => {
    const dir = tempDir();
    const a = join(dir, 'a.log');
    writeFileSync(a, 'first line\nsecond line\nthird line\n');
    expect(readTail(a, 15)).toMatchObject({ text: 'third line\n', cut: true });
    const b = join(dir, 'b.log');
    writeFileSync(b, 'é'.repeat(100));
    const t = readTail(b, 51).text;
    expect(t).toMatch(/^é+$/);
    expect(countFileLines(a)).toEqual({ bytes: 34, lines: 3 });
    expect(countFileLines(b).lines).toBe(1);
  });
});
