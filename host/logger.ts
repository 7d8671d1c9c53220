// The daemon's own log: one JSON object per line (time, level, msg, runId, stepId, ...), written
// by pino to the data dir's loopd.log, rotated by size (loopd.log.1 ... .N, oldest dropped), or to
// stdout when a service manager keeps the log (the systemd journal).
import { pino, type Logger } from 'pino';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogFields {
  /** Default info. */
  level?: LogLevel;
  runId?: string | null | undefined;
  stepId?: number | null | undefined;
  [key: string]: unknown;
}

/** How every part of the host logs: a message, and fields that make the line findable. */
export type LogFn = (msg: string, fields?: LogFields) => void;

export interface LogTarget {
  /** A file path, or '-' for stdout. */
  dest: string;
  level: LogLevel;
  /** Rotate once the file passes this size ("10M", "512K"); file targets only. */
  maxSize?: string;
  /** Rotated files kept beside the live one. */
  keep?: number;
}

export const DEFAULT_LOG_MAX_SIZE = '10M';
export const DEFAULT_LOG_KEEP = 5;

export interface DaemonLogger {
  log: LogFn;
  /** Flushes and closes the file; the logger drops lines after this. */
  close(): Promise<void>;
}

export function parseLogLevel(text: string, source: string): LogLevel {
  const level = text.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`invalid ${source} "${text}": expected one of ${LOG_LEVELS.join(', ')}`);
}

function openFile(target: LogTarget): RotatingFileStream {
  mkdirSync(dirname(target.dest), { recursive: true });
  const stream = createStream(basename(target.dest), {
    path: dirname(target.dest),
    size: target.maxSize ?? DEFAULT_LOG_MAX_SIZE,
    rotate: target.keep ?? DEFAULT_LOG_KEEP,
    // The log names workspaces, runs and errors: the data dir's other files are private too.
    mode: 0o600,
  });
  // A log that cannot be written (disk full, folder removed) must not take the daemon down with it.
  let reported = false;
  stream.on('error', (e: Error) => {
    if (!reported) process.stderr.write(`loopd: cannot write the log ${target.dest}: ${e.message}\n`);
    reported = true;
  });
  return stream;
}

export function createDaemonLogger(target: LogTarget): DaemonLogger {
  const file = target.dest === '-' ? null : openFile(target);
  // Lines to stdout are written synchronously: a service manager reads them as they come.
  const stream = file ?? pino.destination({ dest: 1, sync: true });
  const logger: Logger = pino(
    {
      level: target.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  let closed = false;
  const log: LogFn = (msg, fields = {}) => {
    if (closed) return;
    const { level = 'info', ...rest } = fields;
    // Absent ids are left out rather than written as null, so `runId` means "about this run".
    for (const k of Object.keys(rest)) if (rest[k] === undefined || rest[k] === null) delete rest[k];
    logger[level](rest, msg);
  };
  return {
    log,
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        if (!file) return resolve();
        file.once('finish', () => resolve());
        file.once('error', () => resolve());
        file.end();
      }),
  };
}
