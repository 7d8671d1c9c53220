// The agent wrapper's output cap end to end (core/agents/spawn.ts): GNU `head -c` copies the cap's
// head into the log and the Node capping writer starts only for output that goes on past it; the
// writer alone (headCopy: false, what a system without GNU head gets) must keep exactly the same.
// Needs the built writer (dist/core/agents/output-capper.js), like every capped agent in the tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capLayout, capStream, countNewlines, probePathFor, readCapState } from '../../core/agents/output-cap.js';
import { gnuHead, killTree, readExitStatus, spawnDetached, waitForExit, type ProcessHandle, type SpawnSpec } from '../../core/agents/process.js';

const dirs: string[] = [];
const handles: ProcessHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await killTree(h, 100);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const MAX = 64 * 1024;
const HEAD = capLayout(MAX).head;

function spec(shellCommand: string, extra: Partial<SpawnSpec> = {}): SpawnSpec {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-capper-'));
  dirs.push(dir);
  const stdinPath = path.join(dir, 'prompt.txt');
  fs.writeFileSync(stdinPath, 'the prompt\n');
  return { shellCommand, cwd: dir, env: {}, stdinPath, logPath: path.join(dir, 'iter.log'), exitPath: path.join(dir, 'iter.exit'), maxOutputBytes: MAX, ...extra };
}

async function run(s: SpawnSpec, opts: { timeoutMs?: number } = {}) {
  const h = await spawnDetached(s);
  handles.push(h);
  const exit = await waitForExit(h, s.exitPath, { graceMs: 2000, ...opts });
  return { exit, log: fs.readFileSync(s.logPath), cap: readCapState(s.logPath) };
}

/** `n` bytes of 'a' with a newline every 100th byte, then a last line. */
const flood = (n: number) => `head -c ${n} /dev/zero | tr '\\0' a | fold -w 99; echo THE-END`;

describe('the wrapper output cap', () => {
  it('uses GNU head where the system has it (this test machine has coreutils)', () => {
    expect(gnuHead()).toMatchObject({ head: expect.stringMatching(/\/head$/), stdbuf: expect.stringMatching(/\/stdbuf$/) });
  });

  it('falls back to the capping writer alone when the head first on PATH is not GNU', async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-nothead-'));
    dirs.push(bin);
    fs.writeFileSync(path.join(bin, 'head'), '#!/bin/sh\necho "head (not GNU)"\n', { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      expect(gnuHead()).toBeNull();
      const r = await run(spec('echo hi; exit 4'));
      expect(r.exit.exitCode).toBe(4);
      expect(r.log.toString()).toBe('hi\n');
      // The writer read from the first byte and left its state.
      expect(r.cap).toMatchObject({ totalBytes: 3, totalLines: 1, truncated: false, finalized: true });
    } finally {
      process.env.PATH = saved;
    }
    expect(gnuHead()).toMatchObject({ head: expect.stringMatching(/\/head$/), stdbuf: expect.stringMatching(/\/stdbuf$/) });
  });

  it('puts each line in the log as the agent prints it, not when it ends (live tail -f)', async () => {
    const s = spec('echo first; while [ ! -e go ]; do sleep 0.02; done; echo second');
    const h = await spawnDetached(s);
    handles.push(h);
    // The agent waits for "go", which comes only once its first line is in the log: a head that
    // held its writes back until the end would never let this test finish.
    // (The wrapper creates the log as it starts.)
    const log = (): string => (fs.existsSync(s.logPath) ? fs.readFileSync(s.logPath, 'utf8') : '');
    while (!log().includes('first\n')) await new Promise((r) => setTimeout(r, 10));
    expect(fs.readFileSync(s.logPath, 'utf8')).toBe('first\n');
    fs.writeFileSync(path.join(s.cwd, 'go'), '');
    const exit = await waitForExit(h, s.exitPath, { graceMs: 2000 });
    expect(exit.exitCode).toBe(0);
    expect(fs.readFileSync(s.logPath, 'utf8')).toBe('first\nsecond\n');
  });

  it('copies output within the head as it is, with no capping writer started', async () => {
    const s = spec('echo hello; echo world >&2; exit 3');
    const r = await run(s);
    expect(r.exit.exitCode).toBe(3);
    expect(r.log.toString()).toBe('hello\nworld\n');
    // No writer ran: it would have left its state file.
    expect(r.cap).toBeNull();
    // Nor a probe: the log's offset showed head stopped short of its count, at the end of its input.
    expect(fs.existsSync(probePathFor(s.logPath))).toBe(false);
  });

  it('exactly the head: all of it, no writer; one byte more: the writer starts and loses nothing', async () => {
    const e = spec(`head -c ${HEAD} /dev/zero | tr '\\0' b`);
    const exact = await run(e);
    expect(exact.log.length).toBe(HEAD);
    expect(exact.cap).toBeNull();
    // The count reached: only the probe can tell whether more came; it read nothing.
    expect(fs.readFileSync(probePathFor(e.logPath)).length).toBe(0);
    const s = spec(`head -c ${HEAD + 1} /dev/zero | tr '\\0' b`);
    const more = await run(s);
    expect(more.log.length).toBe(HEAD + 1);
    expect(more.log.every((b) => b === 0x62)).toBe(true);
    expect(more.cap).toMatchObject({ totalBytes: HEAD + 1, totalLines: 0, truncated: false, finalized: true });
    // The writer took the probe's byte and removed the file.
    expect(fs.existsSync(probePathFor(s.logPath))).toBe(false);
  });

  it('keeps the same head, end, markers and counts with head -c as the writer alone', async () => {
    const total = 5 * MAX;
    const viaHead = await run(spec(flood(total)));
    const writerOnly = await run(spec(flood(total), { headCopy: false }));
    expect(viaHead.exit.exitCode).toBe(0);
    expect(viaHead.cap).toMatchObject({ truncated: true, finalized: true });
    expect(viaHead.cap!.totalBytes).toBe(writerOnly.cap!.totalBytes);
    expect(viaHead.cap!.totalLines).toBe(writerOnly.cap!.totalLines);
    expect(viaHead.cap!.omittedBytes).toBe(writerOnly.cap!.omittedBytes);
    expect(viaHead.log.equals(writerOnly.log)).toBe(true);
    const text = viaHead.log.toString();
    expect(text).toContain('output passed max_output_bytes');
    expect(text.endsWith('THE-END\n')).toBe(true);
    expect(viaHead.log.length).toBeLessThanOrEqual(MAX + 512);
  });

  /** Starts `script` (which touches `ready` once past the head), cancels it then, and waits for the step's end. */
  async function cancelWhenReady(script: string, graceMs: number): Promise<{ s: ReturnType<typeof spec>; exit: Awaited<ReturnType<typeof waitForExit>> }> {
    const s = spec(script);
    const h = await spawnDetached(s);
    handles.push(h);
    const ac = new AbortController();
    const waiting = waitForExit(h, s.exitPath, { signal: ac.signal, graceMs });
    const ready = path.join(s.cwd, 'ready');
    for (const end = Date.now() + 20_000; !fs.existsSync(ready) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(fs.existsSync(ready)).toBe(true);
    ac.abort();
    return { s, exit: await waiting };
  }

  it("keeps an agent's last words after the TERM of a cancel or timeout, past the head too", async () => {
    // The agent prints past the head, says it is waiting, and on TERM says goodbye and exits.
    const { s, exit } = await cancelWhenReady(`trap 'echo GOODBYE; exit 143' TERM; ${flood(2 * MAX)}; touch ready; sleep 30 & wait`, 5000);
    expect(exit.canceled).toBe(true);
    expect(readExitStatus(s.exitPath)).toBe(143);
    expect(fs.readFileSync(s.logPath, 'utf8').endsWith('GOODBYE\n')).toBe(true);
    expect(readCapState(s.logPath)).toMatchObject({ truncated: true, finalized: true });
  });

  // What the test above hit now and then: a `sleep &` forked by dash as the group's TERM landed
  // loses it (the child's inherited trap handler takes it, then it resets its traps and execs).
  // Made certain here: the agent's TERM trap itself leaves an orphan behind, started after the
  // TERM, holding the pipe. Once the agent's status is recorded that orphan gets a TERM of its own,
  // so the writer reaches its end of input and finishes the log itself (before, the orphan held
  // the pipe for the whole grace, then the SIGKILL ended the writer with the log unfinished).
  it('ends a process the agent left holding the pipe that never got the TERM, and the writer finishes the log', async () => {
    const { s, exit } = await cancelWhenReady(`trap '(sleep 30 &); echo GOODBYE; exit 143' TERM; ${flood(2 * MAX)}; touch ready; sleep 30 & wait`, 20_000);
    expect(exit.canceled).toBe(true);
    expect(readExitStatus(s.exitPath)).toBe(143);
    expect(fs.readFileSync(s.logPath, 'utf8').endsWith('GOODBYE\n')).toBe(true);
    // Finished by the writer (it saw its end of input), not by a daemon after a SIGKILL.
    const cap = readCapState(s.logPath);
    expect(cap).toMatchObject({ truncated: true, finalized: true });
    expect(cap!.finishedByDaemon).toBeUndefined();
  });

  it('leaves a process started by a TERM handler still running after the agent ended to finish', async () => {
    // The agent's outer shell dies of the TERM at once (no trap), so its status is recorded while
    // the inner one is still in its handler, whose child has TERM at its default: it has a live
    // parent in the step, so it is not taken for a leftover and its words reach the log.
    const inner = `trap 'sh -c "sleep 0.3 && echo LAST-WORDS"; exit 143' TERM; touch ready; while :; do sleep 0.05; done`;
    const s = spec(`sh -c "${inner.replace(/"/g, '\\"')}"; exit $?`);
    const h = await spawnDetached(s);
    handles.push(h);
    const ac = new AbortController();
    const waiting = waitForExit(h, s.exitPath, { signal: ac.signal, graceMs: 20_000 });
    const ready = path.join(s.cwd, 'ready');
    for (const end = Date.now() + 20_000; !fs.existsSync(ready) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(fs.existsSync(ready)).toBe(true);
    ac.abort();
    const exit = await waiting;
    expect(exit.canceled).toBe(true);
    expect(readExitStatus(s.exitPath)).toBe(143);
    // (Before them, dash's "Terminated" for the children the group's TERM ended.)
    expect(fs.readFileSync(s.logPath, 'utf8').endsWith('LAST-WORDS\n')).toBe(true);
  });
});

describe('capStream after a head copied by head -c', () => {
  it('counts the head it was told of and caps the rest exactly as from the first byte', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-cap-head-'));
    dirs.push(dir);
    const bytes = Buffer.alloc(4 * MAX, 0x61);
    for (let i = 99; i < bytes.length; i += 100) bytes[i] = 0x0a;
    async function* from(b: Buffer): AsyncGenerator<Buffer> {
      for (let i = 0; i < b.length; i += 5000) yield b.subarray(i, i + 5000);
    }
    const whole = path.join(dir, 'whole.log');
    const ref = await capStream(from(bytes), whole, MAX);
    // The wrapper's way: the head is in the log already, the writer gets what follows.
    const split = path.join(dir, 'split.log');
    fs.writeFileSync(split, bytes.subarray(0, HEAD));
    expect(countNewlines(split)).toBe(Math.floor(HEAD / 100));
    const state = await capStream(from(bytes.subarray(HEAD)), split, MAX, { headDone: { bytes: HEAD, lines: countNewlines(split) } });
    expect(state).toEqual(ref);
    expect(fs.readFileSync(split).equals(fs.readFileSync(whole))).toBe(true);
    expect(countNewlines(path.join(dir, 'missing.log'))).toBe(0);
  });
});

describe('readExitStatus', () => {
  it('takes only a complete line, as the wrapper writes it in place', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-exit-'));
    dirs.push(dir);
    const f = path.join(dir, 'iter.exit');
    fs.writeFileSync(f, '');
    expect(readExitStatus(f)).toBeNull();
    fs.writeFileSync(f, '13');
    expect(readExitStatus(f)).toBeNull();
    fs.writeFileSync(f, '137\n');
    expect(readExitStatus(f)).toBe(137);
  });
});
