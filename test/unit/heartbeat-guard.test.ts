// The dead-man guard of cluster agents (core/agents/heartbeat-guard.ts, spawn.ts): a stale
// heartbeat ends the whole group, a fresh one lets the agent finish, and the guard leaves with the
// agent so the step's group empties by itself. On a single host there is no guard at all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { GUARD_DEADLINE, guardFor, guardStampPath, heartbeatFile, seedGuard, touchHeartbeat, type HeartbeatGuard } from '../../core/agents/heartbeat-guard.js';
import { killTree, readExitStatus, waitForExit } from '../../core/agents/process.js';
import { settle } from '../../core/agents/process-tree.js';
import { SingleHost } from '../../host/cluster/coordinator.js';
import { awaitStepProcess, launchStepProcess, type LaunchSpec } from '../../functions/step-process.js';
import type { AgentProcessInfo, EventSink } from '../../functions/types.js';

const dirs: string[] = [];
const procs: AgentProcessInfo[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killTree(p, 100);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const sink: Pick<EventSink, 'processIntent' | 'processStarted'> = { processIntent: async () => {}, processStarted: async () => {} };
const never = new AbortController().signal;

function setup(command: string): { spec: LaunchSpec; hb: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopd-guard-'));
  dirs.push(dir);
  const spec = { command, cwd: dir, env: {}, stdinPath: '/dev/null', logPath: path.join(dir, 'step.log'), exitPath: path.join(dir, '.step.exit') };
  return { spec, hb: heartbeatFile(dir) };
}

async function launch(spec: LaunchSpec): Promise<AgentProcessInfo> {
  const proc = await launchStepProcess(sink, spec);
  procs.push(proc);
  return proc;
}

/** The live members of a process group, with their command lines. */
function members(pgid: number): string[][] {
  const out: string[][] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgid || f[0] === 'Z') continue;
      out.push(fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A PATH holding only `sleep` and `rm`, each noting its call in a log before it runs the real one:
 * what the guard starts, counted. Any other command the guard ran (`date`, say) would not be found,
 * and the guard would read the heartbeat as stale. Agents under it name their commands in full.
 */
function countingPath(dir: string): { env: Record<string, string>; calls: () => string[] } {
  const bin = path.join(dir, 'bin');
  const log = path.join(dir, 'calls.log');
  fs.mkdirSync(bin);
  for (const name of ['sleep', 'rm']) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${log}'\nexec /bin/${name} "$@"\n`, { mode: 0o755 });
  }
  const calls = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  return { env: { PATH: bin }, calls };
}

/** Whether dash's own `test -nt` sees file a as newer than file b. */
function newer(a: string, b: string): boolean {
  try {
    execFileSync('/bin/sh', ['-c', '[ "$1" -nt "$2" ]', 'sh', a, b]);
    return true;
  } catch {
    return false;
  }
}

// The guard's period is odd on purpose: its `sleep 0.137` is how the tests recognise it.
const guard = (file: string, maxAgeMs: number): HeartbeatGuard => ({ file, maxAgeMs, checkMs: 137 });
const isGuardSleep = (argv: string[]): boolean => argv[0]?.endsWith('sleep') === true && argv[1] === '0.137';

describe('the dead-man guard of a cluster agent', () => {
  it('derives its limits from the lease TTL: dead by 0.85 TTL, looking at least every second', () => {
    expect(guardFor('/h', 30_000)).toEqual({ file: '/h', maxAgeMs: 24_500, checkMs: 1000 });
    expect(guardFor('/h', 2000)).toEqual({ file: '/h', maxAgeMs: 1600, checkMs: 100 });
    expect(guardFor('/h', 1000)).toEqual({ file: '/h', maxAgeMs: 750, checkMs: 100 });
    for (const ttl of [1000, 1500, 2000, 8000, 20_000, 30_000, 300_000, 3_600_000]) {
      const g = guardFor('/h', ttl);
      expect(g.maxAgeMs + g.checkMs).toBeLessThanOrEqual(0.85 * ttl);
      // Not much earlier than needed either: a daemon restarting quickly keeps its agents.
      expect(g.maxAgeMs).toBeGreaterThanOrEqual(0.75 * ttl);
      expect(g.checkMs).toBeGreaterThanOrEqual(100);
      expect(g.checkMs).toBeLessThanOrEqual(1000);
    }
    // Earlier than the daemon's own self-fencing (0.9 TTL, lease-keeper.ts).
    expect(GUARD_DEADLINE).toBeLessThan(0.9);
  });

  it('ends the whole group, agent and all, once the heartbeat is stale', async () => {
    const { spec, hb } = setup('/bin/sleep 300 & /bin/sleep 300');
    const { env, calls } = countingPath(spec.cwd);
    touchHeartbeat(hb, Date.now() - 60_000);
    const proc = await launch({ ...spec, env, guard: guard(hb, 500), maxOutputBytes: 1 << 20 });
    const exit = await waitForExit(proc, spec.exitPath, { timeoutMs: 60_000 });
    expect(exit).toMatchObject({ vanished: true, timedOut: false, canceled: false, exitCode: null });
    expect(readExitStatus(spec.exitPath)).toBeNull();
    expect(members(proc.pgid)).toEqual([]);
    // Stale from the start (seedGuard left it no time): the first check kills, after one short
    // sleep at most, and the guard took its stamp with it.
    expect(calls().filter((c) => c.startsWith('sleep ')).length).toBeLessThanOrEqual(1);
    expect(calls().filter((c) => c.startsWith('rm ')).length).toBe(1);
    expect(fs.existsSync(guardStampPath(spec.exitPath))).toBe(false);
  });

  it('treats a missing heartbeat file as stale', async () => {
    const { spec, hb } = setup('sleep 300');
    const proc = await launch({ ...spec, guard: guard(hb, 60_000) });
    const exit = await waitForExit(proc, spec.exitPath, { timeoutMs: 60_000 });
    expect(exit.vanished).toBe(true);
  });

  it('lets the agent run past the limit while the heartbeat is refreshed, and leaves with it', async () => {
    const { spec, hb } = setup('/bin/sleep 1.5; echo done');
    const { env, calls } = countingPath(spec.cwd);
    touchHeartbeat(hb, Date.now());
    const beat = setInterval(() => touchHeartbeat(hb, Date.now()), 50);
    try {
      const proc = await launch({ ...spec, env, guard: guard(hb, 1000), maxOutputBytes: 1 << 20 });
      await until('the guard to start', () => members(proc.pgid).some(isGuardSleep));
      await until('the exit status', () => readExitStatus(spec.exitPath) !== null);
      expect(readExitStatus(spec.exitPath)).toBe(0);
      // The group empties by itself (the guard would loop forever if it stayed): the step's wait
      // finds it empty and has nothing to kill.
      await settle(proc, 30_000);
      expect(members(proc.pgid)).toEqual([]);
      const exit = await awaitStepProcess(proc, { timeoutMs: 60_000, signal: never });
      expect(exit).toEqual({ exitCode: 0, timedOut: false, canceled: false, vanished: false });
      expect(fs.readFileSync(spec.logPath, 'utf8')).toBe('done\n');
      // Past the limit on checks that started one process each, a sleep of one period (no `date`:
      // it is not on this PATH, and the guard would have read the heartbeat as stale without it).
      // The stamp is gone with the group (removed by the wait, no rm process).
      expect(calls().length).toBeGreaterThanOrEqual(2);
      expect(calls().every((c) => c === 'sleep 0.137')).toBe(true);
      expect(fs.existsSync(guardStampPath(spec.exitPath))).toBe(false);
    } finally {
      clearInterval(beat);
    }
  });

  it('ends the group once a heartbeat that was kept fresh stops, and not before its limit', async () => {
    const { spec, hb } = setup('/bin/sleep 300');
    const { env, calls } = countingPath(spec.cwd);
    const maxAgeMs = 600;
    let last = Date.now();
    touchHeartbeat(hb, last);
    const beat = setInterval(() => touchHeartbeat(hb, (last = Date.now())), 50);
    let proc: AgentProcessInfo;
    try {
      proc = await launch({ ...spec, env, guard: guard(hb, maxAgeMs) });
      // A few checks with a fresh heartbeat (a sleep each), then the host goes silent.
      await until('three checks', () => calls().length >= 3);
      expect(members(proc.pgid).length).toBeGreaterThan(0);
    } finally {
      clearInterval(beat);
    }
    const exit = await waitForExit(proc, spec.exitPath, { timeoutMs: 60_000 });
    // Never while the heartbeat was younger than the limit: the kill comes after it (by the guard's
    // own clock, so this holds on any machine, however loaded).
    expect(Date.now() - last).toBeGreaterThanOrEqual(maxAgeMs);
    expect(exit).toMatchObject({ vanished: true, exitCode: null });
    expect(members(proc.pgid)).toEqual([]);
    // Sleeps only, then the one rm of the stamp right before the kill.
    const seen = calls();
    expect(seen.at(-1)).toMatch(/^rm -f .*\.step\.exit\.guard$/);
    expect(seen.slice(0, -1).every((c) => /^sleep 0\.\d{3}$/.test(c))).toBe(true);
    expect(fs.existsSync(guardStampPath(spec.exitPath))).toBe(false);
  });

  it('starts from the age the heartbeat had at spawn, and sees only a later renewal as one', () => {
    const { spec, hb } = setup('true');
    const g = guard(hb, 1000);
    // Missing: no time left.
    expect(seedGuard(g, spec.exitPath)).toBe(0);
    expect(fs.existsSync(guardStampPath(spec.exitPath))).toBe(true);
    const now = Date.now();
    touchHeartbeat(hb, now - 900);
    const left = seedGuard(g, spec.exitPath, now);
    expect(left).toBeGreaterThanOrEqual(100);
    expect(left).toBeLessThanOrEqual(101);
    const stamp = guardStampPath(spec.exitPath);
    const beatNs = fs.statSync(hb, { bigint: true }).mtimeNs;
    const stampNs = fs.statSync(stamp, { bigint: true }).mtimeNs;
    expect(stampNs > beatNs && stampNs - beatNs <= 2000n).toBe(true);
    expect(newer(hb, stamp)).toBe(false);
    touchHeartbeat(hb, now - 899);
    expect(newer(hb, stamp)).toBe(true);
    // Stale already: none left.
    touchHeartbeat(hb, now - 5000);
    expect(seedGuard(g, spec.exitPath, now)).toBe(0);
  });

  it('leaves at once with an agent that exits quickly (uncapped output too)', async () => {
    const { spec, hb } = setup('echo quick');
    touchHeartbeat(hb, Date.now());
    const proc = await launch({ ...spec, guard: guard(hb, 60_000) });
    await until('the exit status', () => readExitStatus(spec.exitPath) !== null);
    await settle(proc, 30_000);
    expect(members(proc.pgid)).toEqual([]);
  });

  it("leaves the agent's own last words last in the log, however early the guard is ended", async () => {
    // An agent that exits at once can have record()'s TERM reach the guard before the guard's
    // trap is set; the wrapper's shell then reports "Terminated" as it reaps the guard, and that
    // line must not land in the log, where it would read as the agent's last words.
    const runs = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const { spec, hb } = setup(`echo "verdict ${i}"`);
        touchHeartbeat(hb, Date.now());
        const proc = await launch({ ...spec, guard: guard(hb, 60_000), maxOutputBytes: i % 2 === 0 ? 1 << 20 : undefined });
        await until('the exit status', () => readExitStatus(spec.exitPath) !== null);
        await settle(proc, 30_000);
        return { i, log: fs.readFileSync(spec.logPath, 'utf8') };
      }),
    );
    for (const { i, log } of runs) expect(log).toBe(`verdict ${i}\n`);
  });

  it('is not there on a single host: no guard in the group, no heartbeat arguments', async () => {
    expect(new SingleHost('solo').processGuard).toBeNull();
    const { spec } = setup('sleep 300');
    const proc = await launch(spec);
    // The wrapper's last three arguments are the guard's, empty.
    const wrapper = fs.readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
    expect(wrapper.slice(-4)).toEqual(['', '', '', '']);
    const group = members(proc.pgid);
    expect(group.length).toBeGreaterThan(0);
    expect(group.some(isGuardSleep)).toBe(false);
    expect(group.every((argv) => !argv.includes('0.137'))).toBe(true);
  });
});
