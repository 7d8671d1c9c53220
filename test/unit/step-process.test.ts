import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, killTree } from '../../core/agents/process.js';
import { awaitStepProcess, launchStepProcess, recoverStepProcess, type LaunchSpec } from '../../functions/step-process.js';
import type { AgentProcessInfo, EventSink } from '../../functions/types.js';

const dirs: string[] = [];
const procs: AgentProcessInfo[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killTree(p, 100);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function launchSpec(command: string): LaunchSpec {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-stepproc-'));
  dirs.push(dir);
  return { command, cwd: dir, env: {}, stdinPath: '/dev/null', logPath: path.join(dir, 'step.log'), exitPath: path.join(dir, '.step.exit') };
}

/** A sink that keeps what was recorded, in order. */
function recorder() {
  const calls: { what: 'intent' | 'started'; p: Partial<AgentProcessInfo> & { nonce: string; exitPath: string } }[] = [];
  const sink: Pick<EventSink, 'processIntent' | 'processStarted'> = {
    processIntent: async (p) => void calls.push({ what: 'intent', p }),
    processStarted: async (p) => void calls.push({ what: 'started', p }),
  };
  return { calls, sink };
}

const never = new AbortController().signal;

describe('the step process protocol', () => {
  it('records the intent before spawning and the pid after, then reads the exit file', async () => {
    const spec = launchSpec('echo hello; exit 3');
    fs.writeFileSync(spec.logPath, 'left over from an earlier attempt\n');
    fs.writeFileSync(spec.exitPath, '0\n');
    const { calls, sink } = recorder();
    const proc = await launchStepProcess(sink, { ...spec, commitBefore: 'abc', planBefore: '- [ ] t' });
    procs.push(proc);
    expect(calls.map((c) => c.what)).toEqual(['intent', 'started']);
    expect(calls[0]!.p).toMatchObject({ nonce: proc.nonce, logPath: spec.logPath, exitPath: spec.exitPath, commitBefore: 'abc', planBefore: '- [ ] t' });
    expect(calls[0]!.p).not.toHaveProperty('pid');
    expect(calls[1]!.p).toMatchObject({ pid: proc.pid, pgid: proc.pid, nonce: proc.nonce, startTime: proc.startTime });
    const exit = await awaitStepProcess(proc, { timeoutMs: 60_000, signal: never });
    expect(exit).toEqual({ exitCode: 3, timedOut: false, canceled: false, vanished: false });
    expect(fs.readFileSync(spec.logPath, 'utf8')).toBe('hello\n');
  });

  it('after a restart, adopts a process whose pid was never recorded, found by its nonce', async () => {
    const spec = launchSpec('sleep 60');
    const { calls, sink } = recorder();
    const proc = await launchStepProcess(sink, spec);
    procs.push(proc);
    const intentOnly = { ...calls[0]!.p };
    const r = recoverStepProcess(intentOnly);
    expect(r.kind).toBe('adopt');
    expect(r.proc).toMatchObject({ pid: proc.pid, startTime: proc.startTime, logPath: spec.logPath });
    expect(isAlive(r.proc!)).toBe(true);
  });

  it('adopts a finished process by its exit file, and gives up on one that left nothing', async () => {
    const spec = launchSpec('exit 0');
    const intent = { nonce: 'no-such-process', exitPath: spec.exitPath, logPath: spec.logPath };
    expect(recoverStepProcess(intent)).toEqual({ kind: 'gone', proc: null });
    fs.writeFileSync(spec.exitPath, '0\n');
    expect(recoverStepProcess(intent)).toMatchObject({ kind: 'adopt', proc: { pid: 0, pgid: 0 } });
    expect(recoverStepProcess(null)).toEqual({ kind: 'gone', proc: null });
  });

  it('gives up on a recorded pid that now belongs to another process', () => {
    const spec = launchSpec('exit 0');
    const stale = { pid: process.pid, pgid: process.pid, startTime: '1', nonce: 'x', exitPath: spec.exitPath, logPath: spec.logPath, commitBefore: '', planBefore: null, startedAt: 0 };
    expect(recoverStepProcess(stale)).toMatchObject({ kind: 'gone', proc: { pid: process.pid } });
  });
});
