// daemon.json, where loopctl finds the daemon: who holds a data dir, and cleaning up after ourselves.
import { readFileSync, rmSync } from 'node:fs';
import type { DaemonInfo } from '../core/home.js';

/** The daemon named in daemon.json, if its pid is alive. */
export function liveDaemonInfo(path: string): DaemonInfo | null {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as DaemonInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}

/** Whether pid runs loopd (a reused pid of a dead daemon belongs to something else). */
export function isLoopdProcess(pid: number): boolean {
  try {
    // An argument naming the loopd binary (agents' wrapper shells are called loopd-agent: not it).
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .some((arg) => /(^|\/)loopd(\.js)?$/.test(arg));
  } catch {
    // No /proc (or not ours to read): the pid is alive, so take it at its word.
    return true;
  }
}

/** Removes daemon.json if it names this process (a successor's file is left alone). */
export function removeOwnDaemonInfo(path: string): void {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as DaemonInfo;
    if (info.pid === process.pid) rmSync(path, { force: true });
  } catch {
    /* already gone */
  }
}
