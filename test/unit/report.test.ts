import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendReport, REPORT_COLUMNS, reportRow, type ReportEntry } from '../../core/report.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const entry: ReportEntry = {
  kind: 'implementation',
  iteration: 2,
  durationMs: 1500,
  exitCode: 0,
  outputPath: '/runs/run-1/iter-02.log',
  outputBytes: 120,
  outputLines: 4,
  message: 'ok',
  tasksDone: 1,
  tasksTotal: 3,
  usage: { costUsd: 0.25, inputTokens: 1000, outputTokens: 50 },
  at: 1_700_000_000_000,
};

function rows(file: string): Record<string, string>[] {
  const [header, ...lines] = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const cols = header!.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i]!, v])));
}

describe('report rows', () => {
  it('fills every column from the typed entry', () => {
    expect(reportRow(entry)).toEqual({
      timestamp_ms: 1_700_000_000_000,
      kind: 'implementation',
      iteration: 2,
      duration_ms: 1500,
      exit_code: 0,
      output_bytes: 120,
      output_lines: 4,
      output_path: '/runs/run-1/iter-02.log',
      message: 'ok',
      tasks_done: 1,
      tasks_total: 3,
      cost_usd: 0.25,
      input_tokens: 1000,
      output_tokens: 50,
    });
    expect(Object.keys(reportRow(entry))).toEqual([...REPORT_COLUMNS]);
  });

  it('leaves usage and task columns empty for a step that ran no agent', () => {
    const row = reportRow({ kind: 'watchdog', iteration: 1, durationMs: 0, exitCode: null, outputPath: '/r/prompt.rewrite.1.txt', outputBytes: 10, outputLines: null, message: 'rewrite 1' });
    expect(row).toMatchObject({ tasks_done: null, tasks_total: null, cost_usd: null, input_tokens: null, output_tokens: null });
    expect(typeof row.timestamp_ms).toBe('number');
  });

  it('appends under a header, once per kind, iteration and output file, with one line per row', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-report-'));
    dirs.push(dir);
    const file = appendReport(dir, { ...entry, message: 'failed:\tsee\nthe log' });
    expect(file).toBe(path.join(dir, 'report.tsv'));
    appendReport(dir, { ...entry, message: 'the same step, run again after a restart' });
    appendReport(dir, { ...entry, kind: 'review', outputPath: '/runs/run-1/review-02.log', usage: null });
    const got = rows(file);
    expect(got.map((r) => r.kind)).toEqual(['implementation', 'review']);
    expect(got[0]).toMatchObject({ message: 'failed: see the log', cost_usd: '0.25', tasks_total: '3' });
    expect(got[1]).toMatchObject({ cost_usd: '', input_tokens: '' });
  });
});
