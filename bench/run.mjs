// npm run bench: loopd's speed figures, each next to a reference measured in the same run, with
// the ratio, in one table. Figures, not assertions: these machines are shared and noisy (medians).
// Sections can be shrunk with env knobs (BENCH_*), see the constants below.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { startDaemon } = await import(join(root, 'dist', 'host', 'main.js'));
const { createClientFor } = await import(join(root, 'dist', 'cli', 'client.js'));
const { SqliteStore: Store } = await import(join(root, 'dist', 'host', 'store', 'sqlite.js'));
const { DAEMON_NODE_FLAGS } = await import(join(root, 'dist', 'host', 'node-flags.js'));
const { implementationFiles, reviewFiles } = await import(join(root, 'dist', 'core', 'artifact-names.js'));
// Absent from builds older than the trace marks (the bench can time an older build for comparison).
const { setTraceRecorder } = await import(join(root, 'dist', 'core', 'trace.js')).catch(() => ({ setTraceRecorder: () => {} }));
// Builds before the spawner (core/spawner.ts) have none to stop.
const { stopSpawner, spawnerPid } = await import(join(root, 'dist', 'core', 'spawner.js')).catch(() => ({ stopSpawner: () => {}, spawnerPid: () => undefined }));

/**
 * Ends the daemon's spawner and waits until it is reaped, so that its CPU and that of the processes
 * it reaped (git, the agent wrappers and the agents) count among this process's children.
 */
async function reapSpawner() {
  const pid = spawnerPid();
  if (pid === undefined) return;
  stopSpawner();
  await reaped(pid);
}

/** Waits until the process is gone from /proc, that is reaped by this process (a zombie is still listed). */
async function reaped(pid) {
  while (pid !== undefined && existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 5));
}

const TASKS = Number(process.env.BENCH_TASKS ?? 10);
const CLI_RUNS = Number(process.env.BENCH_CLI_RUNS ?? 15);
const RECOVERY = (process.env.BENCH_RECOVERY ?? '20,100').split(',').map(Number);
const TRIGGER_DROPS = Number(process.env.BENCH_TRIGGER_DROPS ?? 20);
// loopd refuses a LOOPD_AUTH_TOKEN shorter than 16 characters.
const BENCH_TOKEN = 'bench-token-0123456789';
const BIG_STORE = Number(process.env.BENCH_BIG_STORE ?? 10000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 5);
const LOCK_MS = Number(process.env.BENCH_LOCK_MS ?? 10000);
const NODE = process.execPath;
const LOOPCTL = join(root, 'bin', 'loopctl');
const FAKE_AGENT = join(root, 'test', 'fixtures', 'fake-agent.mjs');

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.max(0, Math.ceil(xs.length * p) - 1))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (x) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
const temps = [];
const tempDir = (p = 'loopd-bench-') => {
  const d = mkdtempSync(join(tmpdir(), p));
  temps.push(d);
  return d;
};
const progress = (s) => process.stderr.write(`bench: ${s}\n`);

function makeRepo(base, tasks, spec = 'bench') {
  const repo = join(base, 'repo');
  mkdirSync(join(repo, 'specs', 'planning'), { recursive: true });
  writeFileSync(join(repo, 'specs', `${spec}.md`), `# ${spec}\n`);
  writeFileSync(join(repo, 'specs', 'planning', `${spec}-plan.md`), `# Plan\n${Array.from({ length: tasks }, (_, i) => `- [ ] t${i + 1}`).join('\n')}\n`);
  writeFileSync(join(repo, '.gitignore'), 'logs/loop/\n');
  const g = (...a) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@l', ...a], { cwd: repo });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('commit', '-q', '-m', 'init');
  return repo;
}

function freePort() {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function waitHealthy(port, limitMs = 20000) {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      /* starting */
    }
    await sleep(10);
  }
  throw new Error('loopd did not become healthy');
}

/** A daemon in its own process, as users run it. */
async function daemonProcess(home, extra = []) {
  const port = await freePort();
  const env = { ...process.env, LOOPD_HOME: home, LOOPD_ADDR: `127.0.0.1:${port}`, LOOPD_AUTH_TOKEN: BENCH_TOKEN };
  // Started as bin/loopd and `loopctl daemon start` start it: with the daemon's Node flags.
  // BENCH_DAEMON_FLAGS: more Node flags for the daemon, e.g. `--import=<sampler.mjs>` or
  // `--heapsnapshot-signal=SIGUSR2` to see what holds memory at a peak.
  const more = (process.env.BENCH_DAEMON_FLAGS ?? '').split(' ').filter(Boolean);
  const args = [...DAEMON_NODE_FLAGS, ...more, join(root, 'bin', 'loopd.js'), ...extra];
  let child = spawn(NODE, args, { env, stdio: 'ignore' });
  await waitHealthy(port);
  return {
    port,
    env,
    client: createClientFor(`http://127.0.0.1:${port}`, env.LOOPD_AUTH_TOKEN),
    get pid() {
      return child.pid;
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await gone;
    },
    async restart() {
      const t0 = performance.now();
      child = spawn(NODE, args, { env, stdio: 'ignore' });
      await waitHealthy(port);
      return performance.now() - t0;
    },
  };
}

const r2 = (a, b) => `${(a / b).toFixed(2)}x`;

/** CPU time (ms) of this process and of the children it has reaped (theirs include their own). */
function cpuNow() {
  return cpuSplit().own + cpuSplit().children;
}

function cpuSplit() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const own = process.cpuUsage();
  return { own: (own.user + own.system) / 1000, ownSys: own.system / 1000, children: (Number(f[13]) + Number(f[14])) * 10 };
}

/** A live process's own CPU time in ms (not its children's), 0 when it is not there. */
function processCpu(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/** Run ends as the in-process daemon's bus publishes them (listening from before the run exists). */
function runEnds(bus) {
  const ended = new Set();
  let wake = null;
  const on = (ev) => {
    if (['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELED'].includes(ev.type)) {
      ended.add(ev.run_id);
      wake?.();
    }
  };
  bus.on('event', on);
  return {
    async wait(id) {
      while (!ended.has(id)) await new Promise((r) => (wake = r));
      bus.off('event', on);
    },
  };
}

async function waitRun(client, id) {
  for (;;) {
    const r = await client.runs.get.query({ run: id });
    if (['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status)) return r;
    await sleep(20);
  }
}

/** Whole-process wall times of two commands, alternated A B A B so drift hits both alike. */
function pair(a, b, env, n = CLI_RUNS) {
  const time = ([cmd, ...args]) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
    if (r.status !== 0 && !(args.includes('status') && r.status === 1)) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  time(a);
  time(b); // warm-up: page cache, compile cache
  const as = [];
  const bs = [];
  for (let i = 0; i < n; i++) {
    as.push(time(a));
    bs.push(time(b));
  }
  return { a: median(as), b: median(bs), ratio: median(as.map((x, i) => x / bs[i])) };
}

/** Finished runs written straight into a store, as a long-lived daemon would have accumulated. */
function seedRuns(home, n) {
  new Store(join(home, 'loopd.db')).close();
  const db = new DatabaseSync(join(home, 'loopd.db'));
  const ins = db.prepare(`INSERT INTO runs (id, name, name_source, status, workspace_root, spec_path, plan_path, base_branch, run_branch,
    merge_target_branch, merge_strategy, worktree_path, worktree_provider, config_json, origin, run_dir, global_run_dir, exit_reason,
    created_at, updated_at, started_at, ended_at) VALUES (?, ?, 'spec_slug', 'COMPLETED', '/seed', 'specs/s.md', NULL, 'main', ?, NULL,
    'none', '/seed.run', 'git', '{}', 'cli', '/seed/logs', NULL, 'complete_plan', ?, ?, ?, ?)`);
  const t0 = Date.now() - n * 1000;
  db.exec('BEGIN');
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * 1000;
    const id = `0000seed-${String(i).padStart(8, '0')}-7000-8000-000000000000`;
    ins.run(id, `seed-${i}`, `run/seed-${i}`, ts, ts, ts, ts + 500);
  }
  db.exec('COMMIT');
  db.close();
}

const rows = [];
const row = (figure, value, reference, refValue, ratio) => rows.push([figure, value, reference, refValue, ratio]);

// ---- 1. loopctl against node -e 0 ------------------------------------------------------------
async function cliBench() {
  progress('loopctl commands');
  const home = join(tempDir(), 'home');
  mkdirSync(home, { recursive: true });
  seedRuns(home, 9);
  const d = await daemonProcess(home);
  try {
    const repo = makeRepo(tempDir(), 2);
    const run = await d.client.runs.create.mutate({ cwd: repo, spec: 'specs/bench.md', flags: { agent: 'command', agent_cmd: `node ${FAKE_AGENT}`, reviewer: false, merge_strategy: 'none' } });
    await waitRun(d.client, run.id);
    const bare = [NODE, '-e', '0'];
    const hot = [
      ['loopctl list (10 runs)', ['list']],
      ['loopctl inspect RUN', ['inspect', run.id]],
      ['loopctl tail RUN', ['tail', run.id]],
      ['loopctl events RUN', ['events', run.id]],
      ['loopctl daemon status', ['daemon', 'status']],
    ];
    for (const [label, args] of hot) {
      const r = pair([LOOPCTL, ...args], bare, d.env);
      row(label, ms(r.a), 'node -e 0', ms(r.b), `${r.ratio.toFixed(2)}x`);
    }
    await followBench(d, bare);
    // Commands the fast path leaves to oclif, for the README's "what the others cost".
    for (const [label, args] of [
      ['loopctl workspaces (oclif)', ['workspaces']],
      ['loopctl list --help (oclif)', ['list', '--help']],
    ]) {
      const r = pair([LOOPCTL, ...args], bare, d.env, Math.max(5, Math.floor(CLI_RUNS / 2)));
      row(label, ms(r.a), 'node -e 0', ms(r.b), `${r.ratio.toFixed(2)}x`);
    }
    await bigStoreBench(d);
  } finally {
    await d.kill();
  }
}

/** Milliseconds from spawning `cmd` to its first byte on stdout; then it is interrupted (Ctrl-C). */
function timeToFirstOutput(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let first = null;
    child.stdout.once('data', () => {
      first = Number(process.hrtime.bigint() - t) / 1e6;
      child.kill('SIGINT');
    });
    child.stdout.resume();
    child.once('error', reject);
    child.once('exit', () => (first === null ? reject(new Error(`${args.join(' ')} printed nothing`)) : resolve(first)));
  });
}

/** `tail -f` and `events -f` on a run that is still running: time to the first line, against `node -e 0`. */
async function followBench(d, bare) {
  progress('loopctl tail -f / events -f: time to the first line');
  const repo = makeRepo(tempDir(), 1);
  const run = await d.client.runs.create.mutate({
    cwd: repo,
    spec: 'specs/bench.md',
    flags: { agent: 'command', agent_cmd: 'echo working; sleep 600', reviewer: false, merge_strategy: 'none' },
  });
  try {
    for (;;) {
      const t = await d.client.runs.tail.query({ run: run.id, lines: 1 });
      if (t && t.text !== '') break;
      await sleep(20);
    }
    const timeBare = () => {
      const t = process.hrtime.bigint();
      spawnSync(bare[0], bare.slice(1));
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    for (const [label, args, env] of [
      ['loopctl tail -f RUN: time to first line', ['tail', run.id, '-f'], d.env],
      ['loopctl events -f RUN: time to first line', ['events', run.id, '-f'], d.env],
      ['loopctl tail -f RUN, oclif (LOOPCTL_NO_FAST_PATH=1)', ['tail', run.id, '-f'], { ...d.env, LOOPCTL_NO_FAST_PATH: '1' }],
    ]) {
      const n = label.includes('oclif') ? Math.max(5, Math.floor(CLI_RUNS / 2)) : CLI_RUNS;
      await timeToFirstOutput(LOOPCTL, args, env); // warm-up
      const as = [];
      const bs = [];
      for (let i = 0; i < n; i++) {
        as.push(await timeToFirstOutput(LOOPCTL, args, env));
        bs.push(timeBare());
      }
      row(label, ms(median(as)), 'node -e 0', ms(median(bs)), `${median(as.map((x, i) => x / bs[i])).toFixed(2)}x`);
    }
  } finally {
    await d.client.runs.cancel.mutate({ run: run.id });
    await waitRun(d.client, run.id);
  }
}

/** `loopctl list` against a store of BIG_STORE runs, alternated with the same command against the 10-run daemon. */
async function bigStoreBench(small) {
  progress(`loopctl list with ${BIG_STORE} runs`);
  const home = join(tempDir(), 'home');
  mkdirSync(home, { recursive: true });
  seedRuns(home, BIG_STORE);
  const d = await daemonProcess(home);
  try {
    // Both through env: each command finds its own daemon as a user's would.
    const a = ['env', `LOOPD_ADDR=${d.env.LOOPD_ADDR}`, `LOOPD_HOME=${d.env.LOOPD_HOME}`, LOOPCTL, 'list'];
    const b = ['env', `LOOPD_ADDR=${small.env.LOOPD_ADDR}`, `LOOPD_HOME=${small.env.LOOPD_HOME}`, LOOPCTL, 'list'];
    const r = pair(a, b, d.env);
    row(`loopctl list (${BIG_STORE} runs: a page of 50)`, ms(r.a), 'loopctl list (10 runs)', ms(r.b), `${r.ratio.toFixed(2)}x`);
  } finally {
    await d.kill();
  }
}

// ---- 2. orchestration overhead per agent call, phase by phase ----------------------------------
// BENCH_CPU_PROF=DIR writes a CPU profile of the daemon (this process) over each overhead run alone,
// from the run's creation to its end, as DIR/overhead-<capped|uncapped>.cpuprofile (Chrome DevTools).
async function profileStart() {
  if (!process.env.BENCH_CPU_PROF) return null;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return session;
}

async function profileStop(session, name) {
  if (session === null) return;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  mkdirSync(process.env.BENCH_CPU_PROF, { recursive: true });
  writeFileSync(join(process.env.BENCH_CPU_PROF, `overhead-${name}.cpuprofile`), JSON.stringify(profile));
}

async function overheadBench(extraFlags = {}, report = true) {
  progress(`overhead: ${TASKS} tasks with the reviewer${Object.keys(extraFlags).length > 0 ? ` (${JSON.stringify(extraFlags)})` : ''}`);
  const base = tempDir();
  // Counts loopd's own git processes (the agent's have LOOP_PHASE set).
  const shim = join(base, 'shim');
  mkdirSync(shim);
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const gitLog = join(base, 'git.log');
  writeFileSync(join(shim, 'git'), `#!/bin/sh\n[ -n "$LOOP_PHASE" ] || echo "$*" >> '${gitLog}'\nexec '${realGit}' "$@"\n`);
  chmodSync(join(shim, 'git'), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${shim}:${savedPath}`;
  const marks = [];
  setTraceRecorder((m) => marks.push(m));
  const daemon = await startDaemon({ home: join(base, 'home'), host: '127.0.0.1', port: 0, token: BENCH_TOKEN, log: () => {}, writeInfo: false });
  const client = createClientFor(daemon.url, daemon.token);
  try {
    const repo = makeRepo(base, TASKS);
    writeFileSync(gitLog, '');
    await reapSpawner();
    const cpu0 = cpuNow();
    const split0 = cpuSplit();
    const prof = await profileStart();
    const ends = runEnds(daemon.bus);
    const run = await client.runs.create.mutate({
      cwd: repo,
      spec: 'specs/bench.md',
      flags: { agent: 'command', agent_cmd: `node ${join(root, 'bench', 'bench-agent.mjs')}`, merge_strategy: 'none', iterations: TASKS + 5, reviewer: true, ...extraFlags },
    });
    // Woken by the in-process daemon's bus, so the bench's own waiting costs no CPU.
    await ends.wait(run.id);
    const spawnerCpu = processCpu(spawnerPid());
    await reapSpawner();
    await profileStop(prof, Object.keys(extraFlags).length > 0 ? 'uncapped' : 'capped');
    const cpuRun = cpuNow() - cpu0;
    const split1 = cpuSplit();
    const done = await client.runs.get.query({ run: run.id });
    if (done.status !== 'COMPLETED') throw new Error(`bench run ended ${done.status}: ${done.exitReason} ${done.lastError}`);
    const gitLines = readFileSync(gitLog, 'utf8').trim().split('\n');
    const gitCalls = gitLines.length;
    // BENCH_GIT_DETAIL=1 prints which git commands loopd ran, most frequent first.
    if (process.env.BENCH_GIT_DETAIL === '1') {
      const byCmd = new Map();
      for (const l of gitLines) {
        const words = l.split(' ').filter((w) => !w.startsWith('-') && !w.includes('='));
        const key = words.slice(0, 2).join(' ');
        byCmd.set(key, (byCmd.get(key) ?? 0) + 1);
      }
      for (const [k, n] of [...byCmd].sort((a, b) => b[1] - a[1])) process.stderr.write(`bench: git ${k}: ${n}\n`);
    }
    const events = await daemon.store.eventsAfter({ runId: run.id, limit: 100000 });
    const times = new Map(
      readFileSync(join(done.runDir, 'agent-times.tsv'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('\t'))
        .map(([phase, it, s, e, c]) => [`${phase}:${it}`, { start: Number(s), done: Number(e), cpu: Number(c) }]),
    );
    const agentCpu = [...times.values()].reduce((a, t) => a + t.cpu, 0);
    const phases = { dispatch: [], prepare: [], spawn: [], afterExit: [], agent: [], kind: [] };
    let prevEnd = events.find((e) => e.type === 'RUN_CREATED').ts;
    const started = new Map();
    for (const ev of events) {
      const p = ev.payload;
      if (ev.type === 'STEP_STARTED') started.set(ev.stepId, { ts: ev.ts, key: `${p.phase}:${p.iteration}`, phase: p.phase, iteration: p.iteration, attempt: p.attempt });
      if (ev.type === 'AGENT_STARTED') started.get(ev.stepId).agent = ev.ts;
      if (ev.type === 'STEP_FINISHED') {
        const s = started.get(ev.stepId);
        const t = times.get(s?.key);
        // Both are times the agent was still alive at or before: the later one is nearer its end.
        if (t && s) t.end = Math.max(t.done, agentExited(done.runDir, s.phase, s.iteration, s.attempt));
        if (s && t && s.agent) {
          phases.dispatch.push(s.ts - prevEnd);
          phases.prepare.push(s.agent - s.ts);
          phases.spawn.push(t.start - s.agent);
          phases.afterExit.push(ev.ts - t.end);
          phases.agent.push(t.end - t.start);
          phases.kind.push(s.key.split(':')[0]);
        }
        prevEnd = ev.ts;
      }
    }
    if (report) traceTable(marks, started, times);
    const calls = phases.agent.length;
    const before = phases.dispatch.map((x, i) => x + phases.prepare[i] + phases.spawn[i]);
    const total = before.map((x, i) => x + phases.afterExit[i]);
    const agent = median(phases.agent);
    // loopd's CPU per call: this process (the daemon, in-process) and every process it started
    // (git, the agent wrapper, the output capper), minus what the agents reported for themselves.
    const cpuPerCall = (cpuRun - agentCpu) / calls;
    progress(`loopd CPU per call: daemon ${((split1.own - split0.own) / calls).toFixed(1)} ms (kernel ${((split1.ownSys - split0.ownSys) / calls).toFixed(1)}), its processes ${((split1.children - split0.children - agentCpu) / calls).toFixed(1)} ms (of which the spawner's own ${(spawnerCpu / calls).toFixed(1)}; the agents' own ${(agentCpu / calls).toFixed(1)} ms)`);
    if (!report) return { total: median(total), cpu: cpuPerCall };
    const r = (x) => `${(x / agent).toFixed(2)}x`;
    row(`overhead per agent call (${calls} calls: ${TASKS} tasks + reviewer)`, ms(median(total)), "the agent's own time", ms(agent), r(median(total)));
    row('  before spawn', ms(median(before)), '', '', r(median(before)));
    row('    dispatch: step end -> next step claimed', ms(median(phases.dispatch)), '', '', '');
    row('    prepare: worktree, HEAD, prompt files', ms(median(phases.prepare)), '', '', '');
    row('    spawn: -> agent process running', ms(median(phases.spawn)), '', '', '');
    row('  after exit: exit seen, git facts, step recorded', ms(median(phases.afterExit)), '', '', r(median(phases.afterExit)));
    for (const kind of ['implementation', 'review']) {
      const of = (xs) => xs.filter((_, i) => phases.kind[i] === kind);
      const b = of(before);
      const a = of(phases.afterExit);
      if (b.length > 0) row(`  ${kind} calls: before spawn / after exit`, `${ms(median(b))} / ${ms(median(a))}`, '', '', '');
    }
    row('  git processes per agent call (loopd only, run set-up included)', (gitCalls / calls).toFixed(1), '', '', '');
    row('  loopd CPU per agent call (daemon + its processes, run set-up included)', ms(cpuPerCall), "the agent's own CPU", ms(agentCpu / calls), r2(cpuPerCall, agentCpu / calls));
    // The review API on the finished run: its whole diff and per-iteration stats, next to runs.get.
    const timed = async (fn) => {
      const xs = [];
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        await fn();
        xs.push(performance.now() - t);
      }
      return median(xs);
    };
    const diffMs = await timed(() => client.runs.diff.query({ run: run.id }));
    const getMs = await timed(() => client.runs.get.query({ run: run.id }));
    row(`runs.diff of that run (${TASKS} iterations: whole diff + per-iteration stats)`, ms(diffMs), 'runs.get of the same run', ms(getMs), `${(diffMs / getMs).toFixed(2)}x`);
    return { total: median(total), cpu: cpuPerCall };
  } finally {
    setTraceRecorder(null);
    // The spawner of the queries above (runs.diff: ~14 git processes each) ends with the daemon,
    // but is reaped only when this event loop turns: not before the next run's set-up, whose git
    // calls are synchronous, so its CPU used to land in the next run's figure (the max_output_bytes=0
    // run read ~30 ms of processes' CPU per call too much).
    const spawner = spawnerPid();
    await daemon.stop();
    await reaped(spawner);
    process.env.PATH = savedPath;
  }
}

/**
 * When the agent process ended, its exit teardown included (a Node agent takes 4-7 ms after its
 * last instruction to exit): the modification time of the step's exit file, which the wrapper's
 * shell writes with its `printf` builtin as soon as its wait for the agent returns (core/agents/
 * spawn.ts). No process is added to the agent call and loopd does nothing differently for the
 * bench. The kernel stamps the file with a clock that is at most one tick (4 ms here) behind,
 * never ahead, so the agent's time can only come out short and loopd's overhead long; when the
 * stamp is even older than the agent's last instruction, the caller takes that instead.
 */
function agentExited(runDir, phase, iteration, attempt) {
  const files = phase === 'review' ? reviewFiles(runDir, iteration, attempt) : implementationFiles(runDir, iteration, attempt);
  return Number(statSync(files.exit, { bigint: true }).mtimeNs / 1000n) / 1000;
}

/**
 * Where the milliseconds of an agent call go, from the daemon's trace marks (core/trace.ts) and the
 * agent's own clock: the median of each stretch between two consecutive marks, per kind of call,
 * from the previous step's end ("step recorded") to this one's. Printed to stderr (BENCH_TRACE=1).
 */
function traceTable(marks, started, times) {
  if (process.env.BENCH_TRACE !== '1') return;
  const byStep = new Map();
  for (const m of marks) {
    if (!byStep.has(m.stepId)) byStep.set(m.stepId, []);
    byStep.get(m.stepId).push(m);
  }
  const stretches = new Map();
  let prevEnd = null;
  for (const [stepId, ms_] of [...byStep].sort((a, b) => a[0] - b[0])) {
    const s = started.get(stepId);
    const t = s && times.get(s.key);
    const points = [...ms_];
    if (t) points.push({ name: 'agent running', at: t.start }, { name: "agent's last instruction", at: t.done }, { name: 'agent exited', at: t.end });
    points.sort((a, b) => a.at - b.at);
    if (prevEnd !== null) points.unshift({ name: 'previous step recorded', at: prevEnd });
    const kind = s ? s.key.split(':')[0] : '?';
    for (let i = 1; i < points.length; i++) {
      const key = `${kind}: ${points[i - 1].name} -> ${points[i].name}`;
      if (!stretches.has(key)) stretches.set(key, { xs: [], pos: [] });
      stretches.get(key).xs.push(points[i].at - points[i - 1].at);
      stretches.get(key).pos.push(i);
    }
    prevEnd = ms_.find((m) => m.name === 'step recorded')?.at ?? prevEnd;
  }
  const order = ([k, v]) => `${k.split(':')[0]} ${String(median(v.pos)).padStart(4, '0')}`;
  for (const [key, { xs }] of [...stretches].sort((a, b) => order(a).localeCompare(order(b)))) {
    process.stderr.write(`trace ${key.padEnd(80)} ${median(xs).toFixed(1).padStart(7)} ms median  (n=${xs.length}, max ${Math.max(...xs).toFixed(1)})\n`);
  }
}

// ---- 3. trigger: spec written -> RUN_CREATED ----------------------------------------------------
async function triggerBench() {
  progress('trigger');
  const base = tempDir();
  const daemon = await startDaemon({ home: join(base, 'home'), host: '127.0.0.1', port: 0, token: BENCH_TOKEN, log: () => {}, writeInfo: false });
  const client = createClientFor(daemon.url, daemon.token);
  const created = (spec) =>
    new Promise((res) => {
      const on = (ev) => {
        if (ev.type === 'RUN_CREATED' && JSON.parse(ev.payload_json).spec === spec) {
          daemon.bus.off('event', on);
          res(ev.ts);
        }
      };
      daemon.bus.on('event', on);
    });
  try {
    const repo = makeRepo(join(base, 'ws'), 1);
    // Only the trigger is measured: the runs it creates wait behind one long placeholder agent.
    mkdirSync(join(repo, '.loop'), { recursive: true });
    writeFileSync(join(repo, '.loop', 'config'), 'agent=command\nagent_cmd="sleep 600"\nreviewer=false\nmerge_strategy=none\nmax_runs_per_workspace=1\n');
    await daemon.service.watchWorkspace(repo);
    const viaWatch = [];
    const viaApi = [];
    for (let i = 0; i < TRIGGER_DROPS; i++) {
      for (const [mode, samples] of [
        ['drop', viaWatch],
        ['api', viaApi],
      ]) {
        const name = `${mode}-${i}`;
        // The plan goes first, so the trigger does not wait for it.
        writeFileSync(join(repo, 'specs', 'planning', `${name}-plan.md`), '# Plan\n- [ ] one\n');
        const seen = created(`specs/${name}.md`);
        const t0 = Date.now();
        if (mode === 'drop') {
          writeFileSync(join(repo, 'specs', `${name}.md`), `# ${name}\n\nBench spec.\n`);
        } else {
          // The reference: the same run created by a direct API call instead of a dropped file.
          mkdirSync(join(repo, 'api'), { recursive: true });
          writeFileSync(join(repo, 'api', `${name}.md`), `# ${name}\n`);
          void client.runs.create.mutate({ cwd: repo, spec: `api/${name}.md`, plan: `specs/planning/${name}-plan.md` });
        }
        const ts = await Promise.race([seen, ...(mode === 'api' ? [created(`api/${name}.md`)] : [])]);
        samples.push(ts - t0);
      }
    }
    for (const r of await daemon.store.listRuns({ status: ['PENDING', 'RUNNING'] })) await daemon.dispatcher.cancel(r.id);
    row('trigger: spec written -> RUN_CREATED, p50', ms(median(viaWatch)), 'runs.create by API, p50', ms(median(viaApi)), `${(median(viaWatch) / median(viaApi)).toFixed(2)}x`);
    row('trigger: spec written -> RUN_CREATED, p95', ms(pct(viaWatch, 0.95)), 'runs.create by API, p95', ms(pct(viaApi, 0.95)), `${(pct(viaWatch, 0.95) / pct(viaApi, 0.95)).toFixed(2)}x`);
  } finally {
    await daemon.stop();
  }
}

// ---- 4. recovery: kill -9 with N agents in flight -> all re-adopted -----------------------------
async function recoveryBench() {
  progress('recovery reference: restart of an empty daemon');
  const empty = await daemonProcess(join(tempDir(), 'home'));
  await empty.kill('SIGKILL');
  const ref = median([await empty.restart(), (await empty.kill(), await empty.restart()), (await empty.kill(), await empty.restart())]);
  await empty.kill();
  for (const n of RECOVERY) {
    progress(`recovery with ${n} agents in flight`);
    const base = tempDir();
    const d = await daemonProcess(join(base, 'home'), ['--max-concurrency', String(n)]);
    try {
      const ids = [];
      for (let i = 0; i < n; i++) {
        const repo = makeRepo(join(base, `r${i}`), 1);
        const r = await d.client.runs.create.mutate({
          cwd: repo,
          spec: 'specs/bench.md',
          flags: { agent: 'command', agent_cmd: `FAKE_SLEEP_MS=600000 node ${FAKE_AGENT}`, reviewer: false, merge_strategy: 'none' },
        });
        ids.push(r.id);
      }
      const all = async (type) => (await Promise.all(ids.map((id) => d.client.runs.eventsList.query({ run: id })))).every((e) => e.some((x) => x.type === type));
      while (!(await all('AGENT_STARTED'))) await sleep(100);
      await d.kill('SIGKILL');
      const t0 = performance.now();
      const healthy = await d.restart();
      while (!(await all('STEP_ADOPTED'))) await sleep(10);
      const adopted = performance.now() - t0;
      row(`recovery: kill -9 with ${n} agents in flight -> all re-adopted`, ms(adopted), 'restart of an empty daemon to /health', ms(ref), `${(adopted / ref).toFixed(2)}x`);
      progress(`  /health after ${healthy.toFixed(0)} ms`);
      for (const id of ids) await d.client.runs.cancel.mutate({ run: id });
    } finally {
      await d.kill();
    }
  }
}

// ---- 5. daemon memory: idle, and with streaming runs and tail -f readers -------------------------
function rssKb(pid, field = 'VmRSS') {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function memoryBench() {
  progress(`memory: ${STREAMS} runs streaming, each with a tail -f`);
  const bare = spawn(NODE, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(500);
  const bareKb = rssKb(bare.pid);
  bare.kill();
  const base = tempDir();
  const d = await daemonProcess(join(base, 'home'), ['--max-concurrency', String(STREAMS)]);
  const tails = [];
  try {
    await sleep(1000);
    const idleKb = rssKb(d.pid);
    row('daemon RSS, idle', mb(idleKb), 'node -e "setInterval(...)" RSS', mb(bareKb), `${(idleKb / bareKb).toFixed(2)}x`);
    const ids = [];
    for (let i = 0; i < STREAMS; i++) {
      const repo = makeRepo(join(base, `s${i}`), 1);
      const r = await d.client.runs.create.mutate({
        cwd: repo,
        spec: 'specs/bench.md',
        flags: { agent: 'command', agent_cmd: `node ${join(root, 'bench', 'stream-agent.mjs')}`, reviewer: false, merge_strategy: 'none' },
      });
      ids.push(r.id);
      if (process.env.BENCH_NO_TAILS !== '1') {
        // --raw: the bytes the readers received are counted, so a reader that fell behind or
        // dropped out shows in the progress line instead of flattering the figure.
        const t = spawn(LOOPCTL, ['tail', r.id, '-f', '--raw'], { env: d.env, stdio: ['ignore', 'pipe', 'ignore'] });
        t.received = 0;
        t.stdout.on('data', (c) => (t.received += c.length));
        t.done = new Promise((res) => t.once('exit', res));
        tails.push(t);
      }
    }
    let peak = 0;
    for (;;) {
      peak = Math.max(peak, rssKb(d.pid));
      const runs = await Promise.all(ids.map((id) => d.client.runs.get.query({ run: id })));
      if (runs.every((r) => ['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status))) break;
      await sleep(100);
    }
    await Promise.race([Promise.all(tails.map((t) => t.done)), sleep(30000)]);
    peak = Math.max(peak, rssKb(d.pid, 'VmHWM'));
    const { statSync } = await import('node:fs');
    const written = [];
    for (const id of ids) {
      const steps = (await d.client.runs.get.query({ run: id })).steps.filter((st) => st.outputPath && existsSync(st.outputPath));
      written.push(`${(steps.reduce((n, st) => n + statSync(st.outputPath).size, 0) / 1048576).toFixed(1)} (${steps.map((st) => st.phase).join('+')})`);
    }
    progress(`  the agents wrote ${written.join(', ')} MB`);
    if (tails.length > 0) progress(`  the tail -f readers received ${tails.map((t) => (t.received / 1048576).toFixed(1)).join(', ')} MB`);
    row(`daemon RSS peak, ${STREAMS} runs streaming ${process.env.BENCH_STREAM_MB ?? 20} MB per agent call + tail -f`, mb(peak), 'daemon RSS, idle', mb(idleKb), `${(peak / idleKb).toFixed(2)}x`);
  } finally {
    for (const t of tails) if (t.exitCode === null) t.kill();
    await d.kill();
  }
}

// ---- 5b. an agent printing 1 GiB: the output cap keeps the daemon's memory flat ---------------
async function floodBench() {
  const GIB = 1024 * 1024 * 1024;
  const floods = [
    ['1 GiB without a newline', `head -c ${GIB} /dev/zero | tr '\\000' x; echo`],
    ['1 GiB of lines', `yes 'a line of agent output that repeats' | head -c ${GIB}`],
  ];
  const base = tempDir();
  const d = await daemonProcess(join(base, 'home'));
  try {
    await sleep(500);
    const idleKb = rssKb(d.pid);
    const listMs = async () => {
      const t = performance.now();
      await d.client.runs.list.query({});
      return performance.now() - t;
    };
    const idleList = [];
    for (let i = 0; i < 10; i++) idleList.push(await listMs());
    for (const [name, flood] of floods) {
      progress(`agent printing ${name}`);
      const repo = makeRepo(join(base, name.replace(/\W+/g, '-')), 1);
      const run = await d.client.runs.create.mutate({
        cwd: repo,
        spec: 'specs/bench.md',
        flags: { agent: 'command', agent_cmd: `${flood}; node ${FAKE_AGENT}`, reviewer: false, merge_strategy: 'none' },
      });
      const busyList = [];
      for (;;) {
        const r = await d.client.runs.get.query({ run: run.id });
        if (['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status)) break;
        busyList.push(await listMs());
        await sleep(100);
      }
      const peak = rssKb(d.pid, 'VmHWM');
      row(`daemon RSS peak, an agent printing ${name}`, mb(peak), 'daemon RSS, idle', mb(idleKb), `${(peak / idleKb).toFixed(2)}x`);
      row('  runs.list while it prints', ms(median(busyList)), 'runs.list, idle', ms(median(idleList)), `${(median(busyList) / median(idleList)).toFixed(2)}x`);
    }
  } finally {
    await d.kill();
  }
}

// ---- 6. another process holds SQLite's write lock ---------------------------------------------
async function lockBench() {
  progress(`SQLite write lock held ${LOCK_MS} ms by another process`);
  const base = tempDir();
  const home = join(base, 'home');
  const d = await daemonProcess(home);
  try {
    const repo = makeRepo(base, 3);
    const probe = async (untilMs) => {
      const health = [];
      const list = [];
      const until = Date.now() + untilMs;
      while (Date.now() < until) {
        let t = performance.now();
        await fetch(`http://127.0.0.1:${d.port}/health`).then((r) => r.text());
        health.push(performance.now() - t);
        t = performance.now();
        await d.client.runs.list.query();
        list.push(performance.now() - t);
        await sleep(50);
      }
      return { health: Math.max(...health), list: Math.max(...list) };
    };
    const free = await probe(2000);
    // A run whose agent finishes while the lock is held: its step must wait, not freeze the daemon.
    await d.client.runs.create.mutate({ cwd: repo, spec: 'specs/bench.md', flags: { agent: 'command', agent_cmd: `FAKE_SLEEP_MS=500 node ${FAKE_AGENT}`, reviewer: false, merge_strategy: 'none' } });
    const holder = spawn(NODE, ['-e', `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(${JSON.stringify(join(home, 'loopd.db'))}); db.exec('BEGIN IMMEDIATE'); console.log('locked'); setTimeout(() => { db.exec('COMMIT'); }, ${LOCK_MS});`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => holder.stdout.once('data', r));
    const lockedAt = performance.now();
    const create = d.client.runs.create.mutate({ cwd: repo, spec: 'specs/bench.md', name: 'during-lock', flags: { agent: 'command', agent_cmd: `node ${FAKE_AGENT}`, reviewer: false, merge_strategy: 'none' } }).then(() => performance.now() - lockedAt);
    const locked = await probe(LOCK_MS - 500);
    await new Promise((r) => holder.once('exit', r));
    const createMs = await create;
    row(`/health, slowest answer while another process holds the write lock ${LOCK_MS / 1000} s`, ms(locked.health), 'slowest /health, lock free', ms(free.health), `${(locked.health / free.health).toFixed(2)}x`);
    row('runs.list, slowest answer while the write lock is held', ms(locked.list), 'slowest runs.list, lock free', ms(free.list), `${(locked.list / free.list).toFixed(2)}x`);
    progress(`  a runs.create sent during the lock completed ${createMs.toFixed(0)} ms after the lock was taken`);
  } finally {
    await d.kill();
  }
}

// ---- personas: adversarial fake agents, outcome and agent calls (docs/truth.md) ------------------
async function personaBench() {
  progress('persona suite');
  const { PERSONAS, CANARY_ENV, runPersona } = await import(join(root, 'test', 'fixtures', 'personas.mjs'));
  process.env[CANARY_ENV] = 'daemon-only';
  const daemon = await startDaemon({ home: join(tempDir(), 'home'), host: '127.0.0.1', port: 0, token: BENCH_TOKEN, log: () => {}, writeInfo: false });
  const client = createClientFor(daemon.url, daemon.token);
  const out = [];
  try {
    for (const persona of PERSONAS) {
      const r = await runPersona({ client, store: daemon.store, base: tempDir(), persona });
      const right = r.status === persona.expect.status && r.exitDetail === persona.expect.exitDetail && r.completion === persona.expect.completion;
      out.push([
        persona.name,
        `${r.status} ${r.exitDetail}${r.completion ? ` (${r.completion})` : ''}`,
        right ? 'yes' : `NO, expected ${persona.expect.status} ${persona.expect.exitDetail}`,
        `${r.implementationCalls} / ${persona.maxCalls.implementation}`,
        `${r.reviewCalls} / ${persona.maxCalls.review}`,
        r.wasted,
        r.reviewsWithoutCode,
      ]);
    }
  } finally {
    delete process.env[CANARY_ENV];
    await daemon.stop();
  }
  return out;
}

// BENCH_ONLY=cli,overhead,trigger,recovery,memory,output,lock,personas,cluster runs a subset (default: all).
const only = new Set((process.env.BENCH_ONLY ?? 'cli,overhead,trigger,recovery,memory,output,lock,personas,cluster').split(','));
let personas = [];
try {
  if (only.has('cli')) await cliBench();
  if (only.has('overhead')) {
    const capped = await overheadBench();
    // The same without the output-capping writer: what the cap costs per call.
    const uncapped = await overheadBench({ max_output_bytes: 0 }, false);
    row('overhead per agent call, with the output cap (default)', ms(capped.total), 'the same, max_output_bytes=0', ms(uncapped.total), r2(capped.total, uncapped.total));
    row('loopd CPU per agent call, with the output cap (default)', ms(capped.cpu), 'the same, max_output_bytes=0', ms(uncapped.cpu), r2(capped.cpu, uncapped.cpu));
  }
  if (only.has('trigger')) await triggerBench();
  if (only.has('recovery')) await recoveryBench();
  if (only.has('memory')) await memoryBench();
  if (only.has('output')) await floodBench();
  if (only.has('lock')) await lockBench();
  if (only.has('personas')) personas = await personaBench();
  if (only.has('cluster')) {
    const { clusterBench } = await import('./cluster.mjs');
    await clusterBench({ root, row, ms, progress, median, pct });
  }
} finally {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
}
if (rows.length > 0) {
  const table = new Table({ head: ['figure', 'median', 'reference (same run)', 'median', 'ratio'], style: { head: [], border: [] } });
  table.push(...rows);
  process.stdout.write(`loopd bench (Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)})\n${table.toString()}\n`);
}
if (personas.length > 0) {
  const t = new Table({ head: ['persona', 'outcome', 'right', 'implementation calls / max', 'reviewer calls / max', 'wasted calls', 'reviews without code'], style: { head: [], border: [] } });
  t.push(...personas);
  process.stdout.write(`persona suite (3-task plan, approving reviewer unless noted)\n${t.toString()}\n`);
}
