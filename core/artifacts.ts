// Run artifacts on disk: where they live, and writing them so a crash never leaves half a file.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export type ArtifactMode = 'workspace' | 'global' | 'mirror';

export interface RunDirs {
  /** Where live output is written (workspace dir unless artifact_mode=global). */
  primary: string;
  workspace: string | null;
  global: string | null;
}

export function runDirName(runId: string): string {
  return `run-${runId}`;
}

export function resolveRunDirs(opts: {
  mode: ArtifactMode;
  workspaceRoot: string;
  logDir: string;
  globalLogDir: string;
  home: string;
  runId: string;
}): RunDirs {
  const name = runDirName(opts.runId);
  const wsBase = isAbsolute(opts.logDir) ? opts.logDir : resolve(opts.workspaceRoot, opts.logDir);
  const globalBase = opts.globalLogDir ? resolve(opts.globalLogDir) : join(opts.home, 'runs');
  const workspace = opts.mode === 'global' ? null : join(wsBase, name);
  const global = opts.mode === 'workspace' ? null : join(globalBase, name);
  return { primary: (workspace ?? global)!, workspace, global };
}

/** Writes via a temp file and rename, so readers see the old or the new file, never a torn one. */
export function writeFileAtomic(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

export function checksumFile(path: string): { checksum: string; bytes: number } {
  const buf = readFileSync(path);
  return { checksum: createHash('sha256').update(buf).digest('hex'), bytes: buf.length };
}

export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n') + (lines.length > 0 ? '\n' : '');
}

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
] as const;

export type ReportRow = Record<(typeof REPORT_COLUMNS)[number], string | number | null>;

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
  const path = join(runDir, 'report.tsv');
  mkdirSync(runDir, { recursive: true });
  const header = REPORT_COLUMNS.join('\t') + '\n';
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : header;
  const cells = REPORT_COLUMNS.map((c) => tsvCell(row[c]));
  const key = (c: string[]) => `${c[1]}\t${c[2]}\t${c[7]}`;
  const mine = key(cells);
  const dup = existing
    .split('\n')
    .slice(1)
    .some((l) => l !== '' && key(l.split('\t')) === mine);
  if (!dup) writeFileAtomic(path, existing + cells.join('\t') + '\n');
  return path;
}

export interface Summary {
  run_id: string;
  run_name: string;
  status: string;
  start_ms: number;
  end_ms: number;
  total_duration_ms: number;
  iterations_run: number;
  completed_iteration: number | null;
  avg_duration_ms: number | null;
  last_exit_code: number | null;
  completion_mode: string;
  model: string;
  /** One of complete_plan, iterations_exhausted, claude_failed, failed, canceled. */
  exit_reason: string;
  /** The precise reason (e.g. max_consecutive_failures:verification:3, merge_conflict). */
  exit_detail: string;
  tasks_done: number | null;
  tasks_total: number | null;
  /** How completion was proven: complete_token (the agent also said so) or complete_facts; null if not. */
  completion?: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  run_branch: string;
  merge_target_branch: string | null;
  merge_commit: string | null;
  run_log: string | null;
  report: string;
  prompt_snapshot: string | null;
  last_iteration_log: string | null;
  last_iteration_tail: string | null;
}

export function writeSummary(runDir: string, summary: Summary): string {
  const path = join(runDir, 'summary.json');
  writeFileAtomic(path, JSON.stringify(summary, null, 2) + '\n');
  return path;
}

/** Copies every regular file of `from` into `to` (the global mirror); returns the copied paths. */
export function mirrorDir(from: string, to: string): string[] {
  if (!existsSync(from)) return [];
  mkdirSync(to, { recursive: true });
  const copied: string[] = [];
  for (const name of readdirSync(from)) {
    if (name.endsWith('.tmp')) continue;
    const src = join(from, name);
    if (!statSync(src).isFile()) continue;
    const dst = join(to, name);
    const tmp = `${dst}.${randomBytes(4).toString('hex')}.tmp`;
    copyFileSync(src, tmp);
    renameSync(tmp, dst);
    copied.push(dst);
  }
  return copied;
}

export function iterName(iteration: number): string {
  return String(iteration).padStart(2, '0');
}
