// What /proc says about a process: its state, group and start time, whether it carries a step's
// nonce, and every live process. Liveness comes from /proc, not kill(pid, 0), because in containers
// without a reaping init, killed orphans linger as zombies that kill(0) reports as alive.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcessHandle {
  pid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat, to guard against pid reuse. */
  startTime: string;
  nonce: string;
}

/** Set in every step process's environment, so its processes can be found without a pid. */
export const NONCE_ENV = 'LOOP_PROCESS_NONCE';

export interface ProcStat {
  state: string;
  pgrp: number;
  startTime: string;
}

export function readStat(pid: number): ProcStat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseStat(raw);
}

/** The fields loopd uses from the text of /proc/<pid>/stat. */
export function parseStat(raw: string): ProcStat | null {
  // comm (field 2) may contain spaces and parentheses; everything after the last ')' is fixed.
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const pgrp = rest[2];
  const startTime = rest[19];
  if (state === undefined || pgrp === undefined || startTime === undefined) return null;
  return { state, pgrp: Number(pgrp), startTime };
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null if no such process. */
export function readProcessStartTime(pid: number): string | null {
  return readStat(pid)?.startTime ?? null;
}

export const isDead = (state: string): boolean => state === 'Z' || state === 'X' || state === 'x';

export function nonceMatches(pid: number, nonce: string): boolean {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return true; // unreadable (hidepid, other user): the start time check has to suffice
  }
  if (env === '') return true; // kernel threads and exiting processes expose no environment
  return env.split('\0').includes(`${NONCE_ENV}=${nonce}`);
}

/** Every process in /proc that is not a zombie, with its stat. */
export function* liveProcesses(): Generator<{ pid: number; stat: ProcStat }> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const stat = readStat(pid);
    if (stat !== null && !isDead(stat.state)) yield { pid, stat };
  }
}

/**
 * The process group leader started with this nonce (the wrapper shell), if it is still alive:
 * how a restarted daemon finds an agent whose pid it never got to record.
 */
export function findByNonce(nonce: string): ProcessHandle | null {
  for (const { pid, stat } of liveProcesses()) {
    if (stat.pgrp !== pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (env.split('\0').includes(`${NONCE_ENV}=${nonce}`)) return { pid, pgid: pid, startTime: stat.startTime, nonce };
  }
  return null;
}
