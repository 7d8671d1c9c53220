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
  /** Where pid allocation stood just before the process was started (pidMark); absent: unknown. */
  since?: PidMark;
}

/**
 * Where the kernel's pid allocation stood at a moment: the last pid handed out in this pid
 * namespace (/proc/sys/kernel/ns_last_pid) and the number of processes and threads created since
 * boot (/proc/stat "processes"). Every process started after it has a pid after lastPid in the
 * kernel's cyclic order, as long as fewer than a lap of pids were handed out since.
 */
export interface PidMark {
  lastPid: number;
  forks: number;
}

function readInt(path: string, prefix = ''): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const at = prefix === '' ? 0 : text.indexOf(`\n${prefix}`) + 1;
  if (prefix !== '' && at === 0) return null;
  const n = Number.parseInt(text.slice(at + prefix.length), 10);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** The pid allocation's position now; undefined when /proc does not tell (then every scan is a full one). */
export function pidMark(): PidMark | undefined {
  const forks = readInt('/proc/stat', 'processes ');
  const lastPid = readInt('/proc/sys/kernel/ns_last_pid');
  return forks === null || lastPid === null ? undefined : { lastPid, forks };
}

/**
 * A test that every pid handed out after `since` passes (and some older ones whose pids fall in the
 * same range, which the caller's start-time checks sort out), given where allocation stands `now`;
 * undefined when it cannot be told. The kernel hands out pids in increasing order, wrapping from
 * pid_max to 300 and skipping pids in use: so the pids since `since` lie on the arc from
 * since.lastPid (exclusive) to now.lastPid, unless the allocation went once round since, which
 * needs at least pid_max - 300 creations; with fewer than half that many (counted over every pid
 * namespace, so never too few), it cannot have.
 */
export function pidsSince(since: PidMark, now: PidMark, pidMax: number): ((pid: number) => boolean) | undefined {
  const created = now.forks - since.forks;
  if (!(pidMax > 600) || created < 0 || created >= (pidMax - 300) / 2) return undefined;
  const from = since.lastPid;
  const to = now.lastPid;
  // Not one lap and the same last pid: nothing was handed out in this namespace.
  if (from === to) return () => false;
  return from < to ? (pid) => pid > from && pid <= to : (pid) => pid > from || pid <= to;
}

/** pidsSince for a moment recorded earlier, against the allocation now. */
export function pidsSinceMark(since: PidMark | undefined): ((pid: number) => boolean) | undefined {
  if (since === undefined) return undefined;
  // Read after the mark: a process created meanwhile is counted, never missed.
  const pidMax = readInt('/proc/sys/kernel/pid_max');
  const now = pidMark();
  return now === undefined || pidMax === null ? undefined : pidsSince(since, now, pidMax);
}

/** Set in every step process's environment, so its processes can be found without a pid. */
export const NONCE_ENV = 'LOOP_PROCESS_NONCE';

export interface ProcStat {
  state: string;
  /** The parent's pid (1, or a subreaper's, once the parent is gone). */
  ppid: number;
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
  const ppid = rest[1];
  const pgrp = rest[2];
  const startTime = rest[19];
  if (state === undefined || ppid === undefined || pgrp === undefined || startTime === undefined) return null;
  return { state, ppid: Number(ppid), pgrp: Number(pgrp), startTime };
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

/** Every process in /proc that is not a zombie, with its stat; only the pids `only` passes when given. */
export function* liveProcesses(only?: (pid: number) => boolean): Generator<{ pid: number; stat: ProcStat }> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (only && !only(pid)) continue;
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
