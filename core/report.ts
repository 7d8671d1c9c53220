// report.tsv: one row per step (implementation, review, verify, watchdog) and one per run ending,
// for people and spreadsheets. Rows are built by reportRow from a typed entry, the only place the
// columns are filled, and appended idempotently: a step re-run after a restart reports once.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { runFiles } from './artifact-names.js';
import { writeFileAtomic } from './atomic-file.js';

export const REPORT_COLUMNS = [
  'timestamp_ms',
  'kind',
  'iteration',
  'duration_ms',
  'exit_code',
  'output_bytes',
  'output_lines',
  'output_path',
  'message',
  'tasks_done',
  'tasks_total',
  'cost_usd',
  'input_tokens',
  'output_tokens',
] as const;

export type ReportColumn = (typeof REPORT_COLUMNS)[number];
export type ReportRow = Record<ReportColumn, string | number | null>;

export const REPORT_ROW_KINDS = ['implementation', 'review', 'verify', 'watchdog', 'run'] as const;
export type ReportRowKind = (typeof REPORT_ROW_KINDS)[number];

/** What a row says, named as the code names it; reportRow turns it into the file's columns. */
export interface ReportEntry {
  kind: ReportRowKind;
  iteration: number;
  durationMs: number;
  exitCode: number | null;
  /** The file the row is about (a log, a rewritten prompt, summary.json); with kind and iteration, the row's identity. */
  outputPath: string;
  /** What the step printed (all of it, also when the cap kept less); null when it printed nothing of its own. */
  outputBytes: number | null;
  outputLines: number | null;
  message: string;
  tasksDone?: number | null;
  tasksTotal?: number | null;
  /** Empty for rows of steps that ran no agent. */
  usage?: { costUsd: number; inputTokens: number; outputTokens: number } | null;
  /** When the row was written (epoch ms); now by default. */
  at?: number;
}

export function reportRow(e: ReportEntry): ReportRow {
  return {
    timestamp_ms: e.at ?? Date.now(),
    kind: e.kind,
    iteration: e.iteration,
    duration_ms: e.durationMs,
    exit_code: e.exitCode,
    output_bytes: e.outputBytes,
    output_lines: e.outputLines,
    output_path: e.outputPath,
    message: e.message,
    tasks_done: e.tasksDone ?? null,
    tasks_total: e.tasksTotal ?? null,
    cost_usd: e.usage?.costUsd ?? null,
    input_tokens: e.usage?.inputTokens ?? null,
    output_tokens: e.usage?.outputTokens ?? null,
  };
}

/** Builds the entry's row and appends it to the run's report.tsv; returns the file's path. */
export function appendReport(runDir: string, e: ReportEntry): string {
  return appendReportRow(runDir, reportRow(e));
}

function tsvCell(v: string | number | null): string {
  if (v === null) return '';
  return String(v).replace(/[\t\r\n]+/g, ' ');
}

/**
 * Adds a row to report.tsv, rewriting the file by rename so a crash never leaves half a row. A row
 * with the same kind, iteration and output path as an existing one is not added again: a step
 * re-run after a daemon restart reports once.
 */
export function appendReportRow(runDir: string, row: ReportRow): string {
  const path = runFiles(runDir).report;
  mkdirSync(runDir, { recursive: true });
  const header = REPORT_COLUMNS.join('\t') + '\n';
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : header;
  const cells = REPORT_COLUMNS.map((c) => tsvCell(row[c] ?? null));
  const key = (c: string[]) => `${c[1]}\t${c[2]}\t${c[7]}`;
  const mine = key(cells);
  const dup = existing
    .split('\n')
    .slice(1)
    .some((l) => l !== '' && key(l.split('\t')) === mine);
  if (!dup) writeFileAtomic(path, existing + cells.join('\t') + '\n');
  return path;
}

