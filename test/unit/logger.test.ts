import { existsSync, mkdtempSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { atLeastLevel, escapeControls, formatLogLine } from '../../cli/log-format.js';
import { createDaemonLogger, parseLogLevel } from '../../host/logger.js';

const temp = () => realpathSync(mkdtempSync(join(tmpdir(), 'loopd-log-')));
const records = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('daemon logger', () => {
  it('writes one JSON object per line: time, level, msg, and the ids given', async () => {
    const file = join(temp(), 'loopd.log');
    const logger = createDaemonLogger({ dest: file, level: 'info' });
    logger.log('STEP_STARTED', { runId: 'r1', stepId: 7, data: { phase: 'merge' } });
    logger.log('no run here', { level: 'warn', runId: null, stepId: undefined });
    logger.log('hidden', { level: 'debug' });
    await logger.close();
    const [a, b, ...rest] = records(file);
    expect(rest).toEqual([]);
    expect(a).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), runId: 'r1', stepId: 7, data: { phase: 'merge' }, msg: 'STEP_STARTED' });
    expect(Object.keys(b!).sort()).toEqual(['level', 'msg', 'time']);
    expect(b!.level).toBe('warn');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('rotates by size into file.1 ... file.N and drops the oldest', async () => {
    const dir = temp();
    const file = join(dir, 'loopd.log');
    const logger = createDaemonLogger({ dest: file, level: 'info', maxSize: '1K', keep: 2 });
    for (let i = 0; i < 100; i++) logger.log(`line ${i} ${'x'.repeat(80)}`);
    await logger.close();
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(existsSync(`${file}.2`)).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    // The newest line is in the live file, and every kept file holds whole JSON lines.
    for (const p of [file, `${file}.1`, `${file}.2`].filter(existsSync)) expect(() => records(p)).not.toThrow();
    const all = [`${file}.2`, `${file}.1`, file].filter(existsSync).flatMap((p) => records(p).map((r) => r.msg as string));
    expect(all[all.length - 1]).toMatch(/^line 99 /);
  });

  it('parses levels and refuses others in one line', () => {
    expect(parseLogLevel(' WARN ', '--log-level')).toBe('warn');
    expect(() => parseLogLevel('verbose', 'LOOPD_LOG_LEVEL')).toThrow('invalid LOOPD_LOG_LEVEL "verbose": expected one of debug, info, warn, error');
  });
});

describe('formatLogLine', () => {
  it('puts time, level and ids first, then the message and the other fields', () => {
    const line = JSON.stringify({ level: 'warn', time: '2026-01-02T03:04:05.006Z', runId: 'r1', stepId: 3, seq: 9, workspace: '/tmp/a b', msg: 'STEP_FAILED' });
    expect(formatLogLine(line)).toBe('2026-01-02T03:04:05.006Z WARN  [run r1 step 3] STEP_FAILED seq=9 workspace="/tmp/a b"');
  });

  it('indents a stack below the line and escapes control characters', () => {
    const line = JSON.stringify({ level: 'error', time: 't', msg: 'bad\u001b[2Jthing\nhere', stack: 'Error: x\n    at f (a.js:1:1)' });
    expect(formatLogLine(line)).toBe('t ERROR bad\\u001b[2Jthing\\u000ahere\n    Error: x\n    at f (a.js:1:1)');
    expect(escapeControls('a\tb')).toBe('a\\u0009b');
  });

  it('passes lines that are not loopd JSON through', () => {
    expect(formatLogLine('[loopd] listening on http://127.0.0.1:7700')).toBe('[loopd] listening on http://127.0.0.1:7700');
    expect(formatLogLine('[1,2]')).toBe('[1,2]');
  });

  it('filters by level', () => {
    expect(atLeastLevel('{"level":"info"}', 'warn')).toBe(false);
    expect(atLeastLevel('{"level":"error"}', 'warn')).toBe(true);
    expect(atLeastLevel('plain text', 'error')).toBe(true);
  });
});
