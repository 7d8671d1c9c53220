// Reading the daemon's log files for `loopctl daemon logs`: the last lines across the live file
// and the newest rotated one, and following the live file through rotations.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

function linesOf(path: string): string[] {
  try {
    return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

/** The last `n` lines (all when n is undefined), reaching into loopd.log.1 when the live file is short. */
export function lastLogLines(file: string, n?: number): string[] {
  const live = linesOf(file);
  if (n !== undefined && live.length >= n) return live.slice(-n);
  const older = linesOf(`${file}.1`);
  const all = [...older, ...live];
  return n === undefined ? all : all.slice(-n);
}

/**
 * Calls onLine for every line appended to `file` from now on. On rotation (the path names a new
 * file) the rest of the old file is read first, so no line is lost. Ends when `signal` aborts.
 */
export async function followLog(file: string, onLine: (line: string) => void, signal: AbortSignal, pollMs = 200): Promise<void> {
  let fd: number | null = null;
  let ino = 0;
  let offset = 0;
  let partial = '';
  const open = (fromEnd: boolean): void => {
    try {
      fd = fs.openSync(file, 'r');
      const st = fs.fstatSync(fd);
      ino = st.ino;
      offset = fromEnd ? st.size : 0;
    } catch {
      fd = null;
    }
  };
  const drain = (): void => {
    if (fd === null) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      offset += n;
      const text = partial + buf.subarray(0, n).toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') onLine(line);
    }
  };
  open(true);
  while (!signal.aborted) {
    drain();
    let current: fs.Stats | null = null;
    try {
      current = fs.statSync(file);
    } catch {
      current = null;
    }
    if (current && (fd === null || current.ino !== ino)) {
      drain();
      if (fd !== null) fs.closeSync(fd);
      partial = '';
      open(false);
      continue;
    }
    await new Promise<void>((r) => {
      const t = setTimeout(r, pollMs);
      signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }
  if (fd !== null) fs.closeSync(fd);
}

/** journalctl for the user unit, its lines (the JSON the daemon printed) handed to onLine. */
export function readJournal(opts: { lines?: number | undefined; follow: boolean; env?: NodeJS.ProcessEnv }, onLine: (line: string) => void): Promise<number> {
  const env = opts.env ?? process.env;
  const bin = env.LOOPD_JOURNALCTL && env.LOOPD_JOURNALCTL.trim() !== '' ? env.LOOPD_JOURNALCTL : 'journalctl';
  const args = ['--user', '--unit', 'loopd.service', '--output', 'cat', '--no-pager'];
  if (opts.lines !== undefined) args.push('--lines', String(opts.lines));
  if (opts.follow) args.push('--follow');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') onLine(line);
    });
    child.on('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}`)));
    child.on('close', (code) => {
      if (partial.trim() !== '') onLine(partial);
      resolve(code ?? 1);
    });
  });
}
