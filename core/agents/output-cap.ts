// Capping an agent's output at max_output_bytes without disturbing the agent.
//
// The agent's stdout+stderr go through a pipe into a small capping writer (output-capper.ts),
// started by the agent's wrapper shell in the agent's own process group, so, like the agent, it
// outlives a daemon restart. The writer appends the first `head` bytes to the log as they come
// (live tail and subscribers see them at once). What follows goes to numbered part files beside
// the log, each half of `tailKeep`; only the newest two are kept. At the end (EOF on the pipe) the
// parts are appended to the log, after a marker when something was dropped, and deleted. So the
// log is at most max_output_bytes plus two marker lines, keeps its head and its last part, and the
// writer itself never holds more than one read chunk in memory.
//
// If the writer is killed before it could finish (SIGKILL to the group on a timeout), the daemon
// runs the same finalizeCappedLog on the files it left: every step of it is idempotent.
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const MAX_TAIL_KEEP = 8 * 1024 * 1024;

export interface CapLayout {
  /** Bytes written to the log as they come. */
  head: number;
  /** Bytes kept from the end when the output is longer than max. */
  tailKeep: number;
  partBytes: number;
}

export function capLayout(maxBytes: number): CapLayout {
  const tailKeep = Math.max(2, Math.min(MAX_TAIL_KEEP, Math.floor(maxBytes / 8)));
  const partBytes = Math.ceil(tailKeep / 2);
  return { head: Math.max(0, maxBytes - 2 * partBytes), tailKeep: 2 * partBytes, partBytes };
}

export interface CapState {
  /** Bytes and lines the agent printed (not what was kept). */
  totalBytes: number;
  totalLines: number;
  truncated: boolean;
  omittedBytes: number;
  maxBytes: number;
  /** Set once the parts are in the log; the state is final. */
  finalized: boolean;
  /** Log size before the parts were appended: a finalize interrupted half-way starts again from here. */
  appendAt?: number;
  /** Set by the daemon when it had to finish the writer's job (counts are then approximate). */
  finishedByDaemon?: boolean;
}

export const statePathFor = (logPath: string): string => `${logPath}.cap.json`;
/** One byte read past the head by the agent's wrapper (spawn.ts), for the writer it then starts. */
export const probePathFor = (logPath: string): string => `${logPath}.probe`;
const partPrefix = (logPath: string): string => `${basename(logPath)}.part-`;
export const partPathFor = (logPath: string, n: number): string => join(dirname(logPath), `${partPrefix(logPath)}${n}`);

export function readCapState(logPath: string): CapState | null {
  try {
    return JSON.parse(readFileSync(statePathFor(logPath), 'utf8')) as CapState;
  } catch {
    return null;
  }
}

function writeState(logPath: string, s: CapState): void {
  const p = statePathFor(logPath);
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, p);
}

/** Part numbers present on disk, ascending. */
export function listParts(logPath: string): number[] {
  const prefix = partPrefix(logPath);
  let names: string[];
  try {
    names = readdirSync(dirname(logPath));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => Number(n.slice(prefix.length)))
    .sort((a, b) => a - b);
}

const mib = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB` : `${n} bytes`);

export function liveMarker(maxBytes: number): string {
  return `\n[loopd: output passed max_output_bytes (${mib(maxBytes)}); the rest is not shown live, its last part is added here when the agent ends]\n`;
}

export function endMarker(omitted: number, kept: number): string {
  return `\n[loopd: ${omitted} bytes of output omitted here (max_output_bytes); the last ${kept} bytes follow]\n`;
}

/**
 * Appends the file at `from` to the open `fd`, one chunk at a time. Here rather than logfile.ts's
 * forEachChunk so that the capping writer process loads nothing but this module (logfile.ts
 * brings node:crypto, a measurable part of the writer's start-up on every agent call).
 */
function appendFile(fd: number, from: string): void {
  const src = openSync(from, 'r');
  const buf = Buffer.allocUnsafe(64 * 1024);
  try {
    for (let at = 0; ; ) {
      const n = readSync(src, buf, 0, buf.length, at);
      if (n === 0) break;
      for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off);
      at += n;
    }
  } finally {
    closeSync(src);
  }
}

/**
 * Appends the kept parts to the log (with a marker when bytes were dropped), deletes them and
 * writes the final state. Safe to call again at any point, by the writer or by the daemon.
 */
export function finalizeCappedLog(logPath: string, known: Omit<CapState, 'finalized' | 'truncated' | 'omittedBytes'> | null = null): CapState | null {
  const prev = readCapState(logPath);
  if (prev?.finalized) return prev;
  const parts = listParts(logPath);
  if (parts.length === 0 && !known && !prev) return null;
  const maxBytes = known?.maxBytes ?? prev?.maxBytes ?? 0;
  const layout = capLayout(maxBytes);
  const keptParts = parts.slice(-2);
  const partSizes = keptParts.map((n) => statSync(partPathFor(logPath, n)).size);
  const kept = partSizes.reduce((a, b) => a + b, 0);
  // A part number beyond 1 means earlier parts were dropped.
  const dropped = parts.length > 0 && keptParts[0]! > 1;
  let totalBytes: number;
  let totalLines: number;
  if (known) {
    totalBytes = known.totalBytes;
    totalLines = known.totalLines;
  } else {
    // The writer died: rebuild what we can from its last saved state and what is on disk.
    const firstKept = keptParts[0] ?? 1;
    totalBytes = layout.head + (firstKept - 1) * layout.partBytes + kept;
    totalLines = prev?.totalLines ?? 0;
  }
  const omitted = dropped ? Math.max(0, totalBytes - layout.head - kept) : 0;

  // Output that stayed within the head (the usual case) has no parts: the log is final as it is,
  // and one state write says so.
  if (parts.length > 0) {
    const fd = openSync(logPath, 'a+');
    try {
      const appendAt = prev?.appendAt ?? statSync(logPath).size;
      if (prev?.appendAt === undefined) writeState(logPath, { ...(prev ?? baseState(maxBytes)), totalBytes, totalLines, appendAt, finalized: false, truncated: dropped, omittedBytes: omitted });
      else ftruncateSync(fd, appendAt);
      if (dropped) writeSync(fd, endMarker(omitted, kept));
      for (const n of keptParts) appendFile(fd, partPathFor(logPath, n));
    } finally {
      closeSync(fd);
    }
  }
  const state: CapState = {
    totalBytes,
    totalLines,
    truncated: dropped,
    omittedBytes: omitted,
    maxBytes,
    finalized: true,
    ...(known ? {} : { finishedByDaemon: true }),
  };
  writeState(logPath, state);
  for (const n of parts) rmSync(partPathFor(logPath, n), { force: true });
  return state;
}

function baseState(maxBytes: number): CapState {
  return { totalBytes: 0, totalLines: 0, truncated: false, omittedBytes: 0, maxBytes, finalized: false };
}

/** Newlines in the file (0 when it cannot be read): the lines of a head copied by `head -c`. */
export function countNewlines(path: string): number {
  let lines = 0;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  const buf = Buffer.allocUnsafe(64 * 1024);
  try {
    for (let at = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, at);
      if (n === 0) break;
      for (let i = buf.indexOf(0x0a); i !== -1 && i < n; i = buf.indexOf(0x0a, i + 1)) lines++;
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

/**
 * The capping writer: copies `chunks` into the log under the cap. Never throws on a write error
 * (a full disk, say): it keeps reading, so the agent never blocks on a pipe nobody drains.
 * `headDone`: the head is in the log already (the wrapper copied it with `head -c`, spawn.ts), with
 * this many bytes and lines; `chunks` is what came after it.
 */
export async function capStream(
  chunks: AsyncIterable<Buffer>,
  logPath: string,
  maxBytes: number,
  opts: { headDone?: { bytes: number; lines: number } } = {},
): Promise<CapState | null> {
  const layout = capLayout(maxBytes);
  // A restarted writer (it never is today, but a stale state must not be trusted) starts clean.
  rmSync(statePathFor(logPath), { force: true });
  for (const n of listParts(logPath)) rmSync(partPathFor(logPath, n), { force: true });
  let logFd: number | null = openSync(logPath, 'a');
  let headLeft = opts.headDone ? 0 : layout.head;
  let partNo = 0;
  let partFd: number | null = null;
  let partLeft = 0;
  let totalBytes = opts.headDone?.bytes ?? 0;
  let totalLines = opts.headDone?.lines ?? 0;
  let announced = false;
  let broken = false;

  const write = (fd: number, buf: Buffer): void => {
    if (broken) return;
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch {
      broken = true;
    }
  };
  const nextPart = (): void => {
    if (partFd !== null) closeSync(partFd);
    partNo++;
    partFd = openSync(partPathFor(logPath, partNo), 'w');
    partLeft = layout.partBytes;
    if (partNo >= 3) {
      rmSync(partPathFor(logPath, partNo - 2), { force: true });
      if (!announced && logFd !== null) {
        announced = true;
        write(logFd, Buffer.from(liveMarker(maxBytes)));
      }
      // Lets the daemon rebuild the counts if this writer is killed before the end.
      writeState(logPath, { ...baseState(maxBytes), totalBytes, totalLines, truncated: true });
    }
  };

  for await (const chunk of chunks) {
    totalBytes += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) totalLines++;
    let rest = chunk;
    if (headLeft > 0 && logFd !== null) {
      const n = Math.min(headLeft, rest.length);
      write(logFd, rest.subarray(0, n));
      headLeft -= n;
      rest = rest.subarray(n);
    }
    while (rest.length > 0) {
      if (partFd === null || partLeft === 0) nextPart();
      const n = Math.min(partLeft, rest.length);
      write(partFd!, rest.subarray(0, n));
      partLeft -= n;
      rest = rest.subarray(n);
    }
  }
  if (partFd !== null) closeSync(partFd);
  if (logFd !== null) closeSync(logFd);
  logFd = null;
  if (broken) return null;
  return finalizeCappedLog(logPath, { totalBytes, totalLines, maxBytes });
}

/** True when the log has a writer's leftovers that the daemon must finish. */
export function needsFinalize(logPath: string): boolean {
  const s = readCapState(logPath);
  if (s?.finalized) return false;
  return s !== null || listParts(logPath).length > 0 || existsSync(`${logPath}.part-1`);
}
