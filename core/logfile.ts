// Reading logs of any size in bounded memory: an agent may print gigabytes, and the daemon only
// ever needs a window of it (the end for results and tails, the whole only as a stream of chunks
// for checksums and line counts).
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from './atomic-file.js';

/** What the parsers and completion detection read: the last 4 MiB of a log (similarity reads less). */
export const PARSE_WINDOW_BYTES = 4 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * One buffer for every end-of-log window: a read is synchronous and decoded before it returns, so
 * no two uses overlap. A fresh 4 MiB buffer per call is garbage outside the JS heap until a GC
 * notices it; five steps ending together held 20 MiB of them (docs/performance.md).
 */
let windowBuf: Buffer | null = null;

function readRange(fd: number, start: number, length: number, reuse = false): Buffer {
  let buf: Buffer;
  if (reuse) {
    if (!windowBuf || windowBuf.length < length) windowBuf = Buffer.allocUnsafe(Math.max(length, 64 * 1024));
    buf = windowBuf.subarray(0, length);
  } else {
    buf = Buffer.alloc(length);
  }
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * The last `maxBytes` of a file as text. When the window starts mid-file, the partial first line
 * is dropped (it would be half a JSON event), unless the window holds no newline at all.
 */
export function readTail(path: string, maxBytes = PARSE_WINDOW_BYTES): { text: string; size: number; cut: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', size: 0, cut: false };
  }
  try {
    const { buf, size, cut } = tailWindow(fd, maxBytes);
    return { text: buf.toString('utf8'), size, cut };
  } finally {
    closeSync(fd);
  }
}

/** readTail's window as bytes in the shared buffer (valid until the next read). */
function tailWindow(fd: number, maxBytes: number): { buf: Buffer; size: number; cut: boolean } {
  const size = fstatSync(fd).size;
  const start = Math.max(0, size - maxBytes);
  let buf = readRange(fd, start, size - start, true);
  if (start > 0) {
    const nl = buf.indexOf(0x0a);
    if (nl >= 0 && nl < buf.length - 1) buf = buf.subarray(nl + 1);
    else {
      // No line boundary: skip continuation bytes so the text starts on a character.
      let i = 0;
      while (i < buf.length && i < 4 && (buf[i]! & 0xc0) === 0x80) i++;
      buf = buf.subarray(i);
    }
  }
  return { buf, size, cut: start > 0 };
}

const NEWLINE = Buffer.from('\n');

/**
 * Writes (atomically) the last `n` lines of the log's end window to `outPath`, newline-terminated:
 * the bytes `lastLines(readTail(logPath, maxBytes).text, n)` (core/artifacts.ts) would give for
 * valid UTF-8 (anything else is copied as it is instead of replaced). The window is never decoded:
 * with long lines, 200 of them are the whole 4 MiB, and a string of it plus its encoding for the
 * write were 8 MiB per step end.
 */
export function writeLastLines(logPath: string, outPath: string, n: number, maxBytes = PARSE_WINDOW_BYTES): void {
  let fd: number;
  try {
    fd = openSync(logPath, 'r');
  } catch {
    writeFileAtomic(outPath, '');
    return;
  }
  try {
    const { buf } = tailWindow(fd, maxBytes);
    if (buf.length === 0) {
      writeFileAtomic(outPath, '');
      return;
    }
    const end = buf[buf.length - 1] === 0x0a ? buf.length - 1 : buf.length;
    let from = 0;
    for (let pos = end, found = 0; pos > 0 && n > 0; found++) {
      const nl = buf.lastIndexOf(0x0a, pos - 1);
      if (nl < 0) break;
      if (found + 1 === n) {
        from = nl + 1;
        break;
      }
      pos = nl;
    }
    writeFileAtomic(outPath, [buf.subarray(from, end), NEWLINE]);
  } finally {
    closeSync(fd);
  }
}

/** The first `maxBytes` of a file. */
export function readHead(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    return readRange(fd, 0, Math.min(maxBytes, fstatSync(fd).size));
  } finally {
    closeSync(fd);
  }
}

/**
 * One chunk buffer for every streamed read (checksums of each step's artifacts, line counts), as
 * for the window: a fresh 1 MiB per call was garbage outside the JS heap. A callback that reads
 * another file this way gets a buffer of its own.
 */
let chunkBuf: Buffer | null = null;

/** Calls `fn` with consecutive chunks of the file; memory stays at one chunk. */
export function forEachChunk(path: string, fn: (chunk: Buffer) => void): number {
  const fd = openSync(path, 'r');
  const buf = chunkBuf ?? Buffer.allocUnsafe(CHUNK);
  chunkBuf = null;
  let total = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, total);
      if (n === 0) break;
      fn(n === CHUNK ? buf : buf.subarray(0, n));
      total += n;
    }
  } finally {
    closeSync(fd);
    chunkBuf = buf;
  }
  return total;
}

/** sha256 and size, streamed. */
export function checksumStream(path: string): { checksum: string; bytes: number } {
  const h = createHash('sha256');
  const bytes = forEachChunk(path, (c) => h.update(c));
  return { checksum: h.digest('hex'), bytes };
}

/** Lines as `wc -l` would count them, plus one for a last line without a newline. */
export function countFileLines(path: string): { bytes: number; lines: number } {
  let lines = 0;
  let last = 0x0a;
  let bytes = 0;
  try {
    bytes = forEachChunk(path, (c) => {
      for (let i = c.indexOf(0x0a); i !== -1; i = c.indexOf(0x0a, i + 1)) lines++;
      last = c[c.length - 1]!;
    });
  } catch {
    return { bytes: 0, lines: 0 };
  }
  return { bytes, lines: bytes > 0 && last !== 0x0a ? lines + 1 : lines };
}
