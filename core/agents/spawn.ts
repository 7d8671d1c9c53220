// Starting a step's process detached, so it survives the daemon.
//
// The command runs under a tiny /bin/sh wrapper in its own process group. The wrapper, not the
// daemon, owns the plumbing: stdin comes from the prompt file, stdout+stderr are appended to the
// log file, and the exit status is written to a file by rename when the command ends. So a
// daemon that dies mid-run loses nothing: after a restart it finds the process by pid + start
// time (ProcessHandle is plain JSON, meant to be stored), follows the log, and reads the exit
// file (wait.ts).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, mkdirSync, rmSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { guardArgs, seedGuard, type HeartbeatGuard } from './heartbeat-guard.js';
import { capLayout } from './output-cap.js';
import { SpawnerGoneError, spawnDetachedFile, type Started } from '../spawner.js';
import { NONCE_ENV, findByNonce, parseStat, pidMark, type ProcessHandle } from './proc.js';
import { installedPath } from '../package-root.js';

export interface SpawnSpec {
  /** Run via /bin/sh -c. */
  shellCommand: string;
  cwd: string;
  /** Added to the daemon's own environment (agents need PATH, HOME...). */
  env: Record<string, string>;
  /** Prompt file fed on stdin. */
  stdinPath: string;
  /** stdout+stderr appended, in order. */
  logPath: string;
  /** Keep at most this many bytes of output in the log (head + last part, output-cap.ts). */
  maxOutputBytes?: number;
  /** The exit status, one line written by the wrapper when the command ends (readExitStatus). */
  exitPath: string;
  /**
   * Chosen by the caller and recorded before spawning, so a daemon that dies between the spawn and
   * recording the pid can still find the process (findByNonce) instead of starting it twice.
   */
  nonce?: string;
  /** Cluster mode: kill the group once the host's heartbeat goes stale (heartbeat-guard.ts). */
  guard?: HeartbeatGuard | null;
  /** false: the capping writer reads from the first byte even where GNU head could copy the head. */
  headCopy?: boolean;
}

// $1 command, $2 stdin file, $3 log, $4 exit file, $5 output cap in bytes (empty: none), $6 node,
// $7 the capping writer, $8 the host's heartbeat file (empty: no guard), $9 its maximum age in ms,
// ${10} the guard's period in ms and ${11} the ms the heartbeat had left at spawn (cluster mode
// only: heartbeat-guard.ts), ${12} GNU head, ${13} the cap's head in bytes and ${14} GNU stdbuf
// (all empty: the capping writer reads from the first byte). Arguments rather than interpolation,
// so no path or command needs quoting. The no-op TERM/INT traps keep the shells alive long enough
// to record the status of a child that was terminated (143/130) instead of dying with it; a trap
// that runs a command (unlike `trap ""`) is reset to the default in children, so agents still get
// the signal. SIGKILL still ends everything.
//
// With a cap, the agent writes into a pipe read by the capping writer (output-cap.ts), which
// lives in this process group too, so it survives a daemon restart like the agent. The exit
// status is written as soon as the agent ends, not when the pipe closes: a background process
// the agent left holding the pipe must not hold up the step (it is killed with the group; one
// that missed a cancel's TERM gets its own once the status is here: process-tree.ts killTree).
// The cap's head (everything but its last eighth, at most 8 MiB) is copied into the log by GNU
// `head -c`, which reads no byte beyond the count it was given; only output that goes on past it
// (one more byte, read into a probe file) starts the Node writer, with the head already in the
// log. When the log's offset after head shows it stopped short of its count, its input ended and
// the probe is not read at all (one process fewer at the end of nearly every agent call). A Node process per agent call cost ~35 ms of CPU, most output never reaches the cap, and
// `head` costs ~1 ms. The reading side ignores TERM/INT/HUP from its start (`trap ''` survives
// exec): a timeout's TERM is for the agent, whose last words must still reach the log.
const WRAPPER = [
  'gpid=',
  'if [ -n "$8" ]; then',
  // The dead-man guard (heartbeat-guard.ts), in this group: kills the whole group once the host's
  // heartbeat file is older than $9 ms or gone. Its sleep is waited on in the background so that
  // a TERM (from record below, or the step's own stop) ends and reaps the sleep with it, at once.
  // It starts before the wrapper's no-op trap, which it would inherit until its own is set (a
  // TERM then would be lost), and with the wrapper's stdout, not the log. dash still loses a TERM
  // now and then (about 1 in 40 agents that exit within milliseconds of their start, when it lands
  // as the guard forks its sleep): the exit file is the fallback, so it leaves within one period.
  // Each check costs its one sleep and builtins only (heartbeat-guard.ts): the stamp, written by
  // the daemon at spawn and rewritten here whenever the heartbeat is newer, is compared by `test
  // -nt`; `due` is when the stamp is older than the limit, by /proc/uptime in ms (read by `read`,
  // 10 ms steps, hence the +10). The sleep lasts a period, or less to wake at `due` itself.
  '  hb="$8" maxage="$9" every="${10}" left="${11}" exitf="$4"',
  '  ( s= stop= st="$exitf.guard"; trap \'stop=1; [ -z "$s" ] || kill "$s" 2>/dev/null\' TERM',
  '    now() { read -r t _ < /proc/uptime; f=${t#*.}; t=$(( ${t%.*} * 1000 + ${f#0} * 10 )); }',
  '    now; due=$(( t + 10 + left ))',
  '    while :; do',
  '      d=$(( due - t )); [ "$d" -le "$every" ] || d=$every',
  '      if [ "$d" -gt 0 ]; then',
  // A TERM between starting the sleep and knowing its pid is seen on the next line.
  '        sleep "$(( d / 1000 )).$(( d / 100 % 10 ))$(( d / 10 % 10 ))$(( d % 10 ))" & s=$!',
  '        [ -z "$stop" ] || kill "$s" 2>/dev/null',
  '        wait "$s"; s=',
  '      fi',
  '      [ -z "$stop" ] && [ ! -e "$exitf" ] || break',
  '      now',
  '      if [ "$hb" -nt "$st" ]; then : > "$st"; now; due=$(( t + 10 + maxage ))',
  // Stale: the stamp goes first (the only process the guard starts besides its sleeps), then the group.
  '      elif [ "$t" -ge "$due" ]; then rm -f "$st"; kill -KILL 0',
  '      fi',
  '    done',
  // The stamp is removed by the daemon once the group is empty (wait.ts): an rm here would cost a
  // process per agent.
  '    wait 2>/dev/null; exit 0 ) < /dev/null &',
  '  gpid=$!',
  'fi',
  "trap ':' TERM INT",
  // Redirect the wrapper itself first, so even "cannot open <prompt>" ends up in the log.
  'exec >> "$3" 2>&1',
  // A function's $1.. are its own arguments: the exit file path goes in through a variable.
  'exitf="$4"',
  // The guard leaves before the exit status is written, so the step's wait never waits on it.
  // One builtin write of a whole line, no `mv` process: the reader (readExitStatus) takes only a
  // complete line, so an empty or cut-short file (a SIGKILL between the open and the write) reads
  // as no status at all, exactly like a temporary file that was never renamed.
  'record() { [ -z "$gpid" ] || kill "$gpid" 2>/dev/null; printf \'%s\\n\' "$1" > "$exitf"; }',
  'log="$3" max="$5" node="$6" capper="$7" headbin="${12}" headb="${13}" stdbuf="${14}"',
  // Node resets ignored signals to their default as it starts, so a TERM meant for the agent can
  // kill the writer before its own handler is in place, which is before it reads a byte: then it
  // starts again on the same pipe, and nothing is lost.
  'runcapper() { while :; do "$node" "$capper" "$@"; case $? in 129|130|143) ;; *) return ;; esac; done; }',
  'capout() {',
  "  trap '' TERM INT HUP",
  '  if [ -n "$headb" ]; then',
  // Through an fd of this shell's own, so its offset tells how far the log reached with head's last
  // write (an append: the log's end then, at least every byte head wrote). Short of the head's
  // count, head stopped at the end of its input: nothing more can come, and no probe process is
  // needed. Anything else (head failed, /proc unreadable, the count reached) reads the probe.
  '    exec 3>> "$log"',
  '    if "$stdbuf" -o0 "$headbin" -c "$headb" >&3 && read -r key pos < /proc/self/fdinfo/3 && [ "$key" = pos: ] && [ "$pos" -lt "$headb" ] 2>/dev/null; then exit 0; fi',
  '    exec 3>&-',
  '    probe="$log.probe"',
  '    "$headbin" -c 1 > "$probe"',
  '    [ -s "$probe" ] || exit 0',
  '    runcapper "$log" "$max" "$headb" "$probe"',
  '  else',
  '    runcapper "$log" "$max"',
  '  fi',
  '}',
  'if [ -n "$5" ]; then',
  '  { trap \':\' TERM INT; /bin/sh -c "$1" < "$2"; record $?; } 2>&1 | capout > /dev/null 2>&1',
  'else',
  '  /bin/sh -c "$1" < "$2"',
  '  record $?',
  'fi',
  // Reaped here, not left a zombie for init to collect (some containers' init never does).
  // Its stderr is not the log's: a guard killed by record()'s TERM before its own trap was set
  // makes dash print "Terminated" at this wait, which would read as the agent's last words.
  '[ -z "$gpid" ] || wait "$gpid" 2>/dev/null',
].join('\n');

/**
 * The compiled capping writer, in the build output whether this code runs from dist/, from the
 * daemon's bundle or (tests) from the TypeScript sources, which `npm test` builds first.
 */
export function capperScript(): string {
  const built = installedPath('dist', 'core', 'agents', 'output-capper.js');
  if (existsSync(built)) return built;
  throw new Error(`cannot find the output capping writer at ${built}: run npm run build`);
}

/** GNU head's and stdbuf's paths per PATH value (the daemon's PATH rarely changes; tests change it). */
const gnuHeadByPath = new Map<string, HeadCopy | null>();

export interface HeadCopy {
  head: string;
  stdbuf: string;
}

/** The first executable `name` on PATH, or null. */
function onPath(path: string, name: string): string | null {
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      continue;
    }
  }
  return null;
}

/**
 * GNU coreutils' `head` and `stdbuf`, first on the daemon's PATH (asked once per PATH with
 * `--version`), else null. Only GNU's `head -c N` is known to read no byte beyond N from a pipe,
 * which the wrapper relies on to hand the rest to the capping writer. It buffers what it writes to
 * a file (4 KiB blocks): `stdbuf -o0` makes each read reach the log at once, so live output
 * (`tail -f`, the dashboard) shows an agent that prints a line at a time as it prints it.
 */
export function gnuHead(): HeadCopy | null {
  const path = process.env.PATH ?? '';
  const known = gnuHeadByPath.get(path);
  if (known !== undefined) return known;
  let found: HeadCopy | null = null;
  const head = onPath(path, 'head');
  const stdbuf = onPath(path, 'stdbuf');
  if (head && stdbuf) {
    try {
      const isGnu = (bin: string): boolean =>
        /\(GNU coreutils\)/.test(execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }));
      if (isGnu(head) && isGnu(stdbuf)) found = { head, stdbuf };
    } catch {
      // Not GNU (BusyBox's head rejects --version): the capping writer reads everything.
    }
  }
  gnuHeadByPath.set(path, found);
  return found;
}

/** Processes started by this daemon instance, for a fast wake-up on 'exit' instead of a poll. */
const children = new Map<number, EventEmitter>();

/** What emits 'exit' when the process ends, when this daemon instance started it (for a fast wake-up). */
export function ownChild(pid: number): EventEmitter | undefined {
  return children.get(pid);
}

/**
 * The environment of every process started for a step: the daemon's own (agents need PATH, HOME,
 * their API keys), minus every LOOPD_* variable, so an agent never holds the daemon's API token,
 * address or data dir, plus the step's documented LOOP_* variables.
 */
export function stepEnv(extra: Record<string, string>, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.toUpperCase().startsWith('LOOPD_')) env[k] = v;
  return { ...env, ...extra };
}

/** What `loopctl daemon status` reports about how step processes are contained. */
export function containment(): { env: string; processes: string; cgroup: boolean } {
  return {
    env: 'LOOPD_* variables removed from every agent and verification command',
    processes: 'process group, plus any process carrying the step nonce (found in /proc/<pid>/environ), killed at timeout, cancel and step end',
    // A cgroup per step would also catch processes that drop the nonce from their environment;
    // loopd does not create cgroups (most daemons cannot write to /sys/fs/cgroup).
    cgroup: false,
  };
}

export async function spawnDetached(spec: SpawnSpec): Promise<ProcessHandle> {
  mkdirSync(dirname(spec.logPath), { recursive: true });
  mkdirSync(dirname(spec.exitPath), { recursive: true });
  // A leftover status from an earlier process at this path would make waitForExit return at once.
  rmSync(spec.exitPath, { force: true });
  const nonce = spec.nonce ?? randomUUID();
  const cap = spec.maxOutputBytes !== undefined && spec.maxOutputBytes > 0 ? String(Math.floor(spec.maxOutputBytes)) : '';
  const head = cap && spec.headCopy !== false ? capLayout(Number(cap)).head : 0;
  const tools = head > 0 ? gnuHead() : null;
  const headArgs = tools ? [tools.head, String(head), tools.stdbuf] : ['', '', ''];
  // The guard's first stamp and the time its heartbeat has left, taken before the spawn.
  const left = spec.guard ? seedGuard(spec.guard, spec.exitPath) : 0;
  const args = [spec.shellCommand, spec.stdinPath, spec.logPath, spec.exitPath, cap, process.execPath, cap ? capperScript() : '', ...guardArgs(spec.guard, left), ...headArgs];
  // Started by the spawner (core/spawner.ts), not by forking the daemon; node:child_process there
  // rather than execa, whose set-up per call cost a few ms of CPU. The wrapper is detached: it is not
  // ended with the spawner or the daemon (the whole point is that it lives on).
  const env = stepEnv({ ...spec.env, [NONCE_ENV]: nonce });
  // Every process of the step gets a pid handed out after this: the stray scans look only there.
  const since = pidMark();
  let started: Started;
  try {
    started = await spawnDetachedFile('/bin/sh', ['-c', WRAPPER, 'loopd-agent', ...args], { cwd: spec.cwd, env });
  } catch (e) {
    // The spawner ended between starting the wrapper and reporting it: find it by its nonce.
    const found = e instanceof SpawnerGoneError ? findByNonce(nonce) : null;
    if (found) return found;
    throw new Error(`cannot start agent in ${spec.cwd}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { pid, events } = started;
  // Read before the wrapper could be reaped, so the pid was still the wrapper's.
  const stat = started.stat === null ? null : parseStat(started.stat);
  if (stat === null) throw new Error(`agent process ${pid} vanished before it could be tracked`);
  children.set(pid, events);
  const forget = () => {
    children.delete(pid);
    events.off('lost', forget);
    events.off('exit', forget);
  };
  events.once('exit', forget);
  events.once('lost', forget);
  // detached: true makes the wrapper a session and group leader, so its pgid is its pid.
  return { pid, pgid: pid, startTime: stat.startTime, nonce, ...(since ? { since } : {}) };
}
