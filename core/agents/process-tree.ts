// Ending a step's processes: its process group, and the strays that left the group but carry the
// step's nonce. Nothing a step started may outlive it.
import { readFileSync } from 'node:fs';
import { NONCE_ENV, liveProcesses, pidsSinceMark, readStat, type ProcessHandle } from './proc.js';

/** Live (non-zombie) members of the handle's process group. */
function groupMembers(h: ProcessHandle): number[] {
  if (!(h.pgid > 1)) return [];
  // Once the leader's pid belongs to a different process, the pgid is no longer ours: Linux does
  // not hand out a pid while a group with that id still has members, so our group is gone.
  const leader = readStat(h.pid);
  if (leader !== null && leader.startTime !== h.startTime) return [];
  const members: number[] = [];
  for (const { pid, stat } of liveProcesses(pidsSinceMark(h.since))) if (stat.pgrp === h.pgid) members.push(pid);
  return members;
}

function signalGroup(h: ProcessHandle, signal: NodeJS.Signals): void {
  // A handle without a real group (pid unknown) must never become kill(0) or kill(-1).
  if (!(h.pgid > 1)) return;
  try {
    process.kill(-h.pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long a finished agent's group may take to empty by itself before it is signalled. */
export const SETTLE_MS = 2000;

/** Waits until the group has no live member, or `ms` passed. */
export async function settle(h: ProcessHandle, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!groupGone(h) && Date.now() < deadline) await sleep(20);
}

/**
 * True when no process of the group is left. One kill(0) answers the usual case after an agent
 * exits (the group is empty: ESRCH) without reading every /proc/<pid>/stat; when something answers
 * (maybe only a zombie, which groupMembers does not count), the full scan decides.
 */
function groupGone(h: ProcessHandle): boolean {
  if (h.pgid > 1) {
    try {
      process.kill(-h.pgid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
  }
  return groupMembers(h).length === 0;
}


/**
 * The step's processes in one pass over /proc: its group, and those that left the group (setsid,
 * a daemonizing tool shell) but still carry the step's nonce in their environment. Only processes
 * started no earlier than the step's own wrapper can carry its nonce, so older ones (most of the
 * machine) are never opened. Unreadable environments (other users) are skipped. With the pid
 * allocation's position from just before the wrapper started (h.since), only the pids handed out
 * since are looked at, every one of the step's processes among them (pidsSince): a few stat reads
 * instead of one per process on the machine.
 */
function stepProcesses(h: ProcessHandle): { group: number[]; strays: number[]; ppid: Map<number, number> } {
  const leader = h.pgid > 1 ? readStat(h.pid) : null;
  // Once the leader's pid belongs to a different process, the pgid is no longer ours (see groupMembers).
  const groupOurs = h.pgid > 1 && !(leader !== null && leader.startTime !== h.startTime);
  const needle = h.nonce ? `${NONCE_ENV}=${h.nonce}` : null;
  const since = /^\d+$/.test(h.startTime) ? Number(h.startTime) : 0;
  const group: number[] = [];
  const strays: number[] = [];
  const ppid = new Map<number, number>();
  for (const { pid, stat } of liveProcesses(pidsSinceMark(h.since))) {
    if (groupOurs && stat.pgrp === h.pgid) {
      group.push(pid);
      ppid.set(pid, stat.ppid);
      continue;
    }
    if (needle === null || pid === process.pid || Number(stat.startTime) < since) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (env.split('\0').includes(needle)) {
      strays.push(pid);
      ppid.set(pid, stat.ppid);
    }
  }
  return { group, strays, ppid };
}

function signalAll(h: ProcessHandle, strays: readonly number[], signal: NodeJS.Signals): void {
  signalGroup(h, signal);
  for (const pid of strays) {
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: already gone.
    }
  }
}

/** SIGTERM's bit in the signal masks of /proc/<pid>/status (bit n-1 for signal n). */
const TERM_BIT = 1n << 14n;

/**
 * True when the process would die of a SIGTERM right now: neither caught, nor ignored, nor
 * blocked (a blocked one is still pending and comes once unblocked). Such a process that is alive
 * after the group's TERM never got it: started after it, or lost it, as a child of dash does when
 * the TERM lands between its fork and its exec (its inherited handler takes it, then the child
 * resets its traps and execs). Unreadable (gone, another user's): false.
 */
function termWouldKill(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  const mask = (name: string): bigint | null => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return m ? BigInt(`0x${m[1]}`) : null;
  };
  const masks = [mask('SigBlk'), mask('SigIgn'), mask('SigCgt')];
  return masks.every((m) => m !== null && (m & TERM_BIT) === 0n);
}

/**
 * SIGTERM to the whole group and to every process that left it but carries the step's nonce,
 * SIGKILL after graceMs to whatever is left; resolves once none is.
 *
 * `agentEnded` (the wrapper recorded the agent's exit status): from then on, a step process that
 * missed the TERM (termWouldKill) and that no step process is its parent (the agent left it
 * behind: nobody in the step waits on it) gets a TERM of its own, once. Otherwise such a stray
 * holding the output pipe (a `sleep &` forked as the TERM landed) would keep the capping writer
 * from its end of input, and so from writing the agent's last words and leaving, for the whole
 * grace, and the SIGKILL would then end the writer too. Processes in their own TERM handler, or
 * started by one (a live parent in the step), are left to finish within the grace.
 */
export async function killTree(h: ProcessHandle, graceMs = 2000, agentEnded?: () => boolean): Promise<void> {
  let p = stepProcesses(h);
  if (p.group.length === 0 && p.strays.length === 0) return;
  signalAll(h, p.strays, 'SIGTERM');
  const retermed = new Set<number>();
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    p = stepProcesses(h);
    if (p.group.length === 0 && p.strays.length === 0) return;
    if (agentEnded?.()) {
      for (const pid of [...p.group, ...p.strays]) {
        if (retermed.has(pid) || p.ppid.has(p.ppid.get(pid) ?? 0) || !termWouldKill(pid)) continue;
        retermed.add(pid);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // ESRCH: already gone.
        }
      }
    }
  }
  for (let i = 0; i < 40; i++) {
    p = stepProcesses(h);
    if (p.group.length === 0 && p.strays.length === 0) return;
    signalAll(h, p.strays, 'SIGKILL');
    await sleep(25);
  }
}
