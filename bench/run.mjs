// npm run bench: orchestration overhead per iteration and loopctl latency, printed as a table.
// Figures, not assertions: these machines are shared and noisy.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { startDaemon } = await import(join(root, 'dist', 'host', 'main.js'));
const { createClientFor } = await import(join(root, 'dist', 'cli', 'client.js'));

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20);
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 15);
const RECOVERY_RUNS = Number(process.env.BENCH_RECOVERY_RUNS ?? 20);
const TRIGGER_DROPS = Number(process.env.BENCH_TRIGGER_DROPS ?? 20);
// loopd refuses a LOOPD_AUTH_TOKEN shorter than 16 characters.
const BENCH_TOKEN = 'bench-token-0123456789';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

function makeRepo(base, tasks) {
  const repo = join(base, 'repo');
  mkdirSync(base, { recursive: true });
  mkdirSync(join(repo, 'specs', 'planning'), { recursive: true });
  writeFileSync(join(repo, 'specs', 'bench.md'), '# bench\n');
  writeFileSync(join(repo, 'specs', 'planning', 'bench-plan.md'), `# Plan\n${Array.from({ length: tasks }, (_, i) => `- [ ] t${i + 1}`).join('\n')}\n`);
  writeFileSync(join(repo, '.gitignore'), 'logs/loop/\n');
  const g = (...a) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@l', ...a], { cwd: repo });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('commit', '-q', '-m', 'init');
  return repo;
}

async function overheadBench(extraFlags = {}) {
  const base = mkdtempSync(join(tmpdir(), 'loopd-bench-'));
  const home = join(base, 'home');
  const daemon = await startDaemon({ home, host: '127.0.0.1', port: 0, token: BENCH_TOKEN, log: () => {}, writeInfo: false });
  const client = createClientFor(daemon.url, daemon.token);
  try {
    const repo = makeRepo(base, ITERATIONS);
    const t0 = Date.now();
    const run = await client.runs.create.mutate({
      cwd: repo,
      spec: 'specs/bench.md',
      flags: { agent: 'command', agent_cmd: `node ${join(root, 'bench', 'bench-agent.mjs')}`, merge_strategy: 'none', iterations: ITERATIONS + 5, reviewer: false, ...extraFlags },
    });
    for (;;) {
      const r = await client.runs.get.query({ run: run.id });
      if (['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status)) {
        if (r.status !== 'COMPLETED') throw new Error(`bench run ended ${r.status}: ${r.exitReason} ${r.lastError}`);
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    const end = daemon.store.eventsAfter({ runId: run.id, limit: 100000 }).find((e) => e.type === 'RUN_COMPLETED').ts;
    const times = readFileSync(join(run.runDir, 'agent-times.tsv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('\t').map(Number))
      .sort((a, b) => a[0] - b[0]);
    // Per iteration: time from the previous agent's end (or the run's creation) to this agent's
    // end, minus this agent's own time (its process lifetime).
    const perIteration = [];
    let prevEnd = t0;
    for (const [, start, stop] of times) {
      perIteration.push(stop - prevEnd - (stop - start));
      prevEnd = stop;
    }
    const agentTotal = times.reduce((a, [, s, e]) => a + (e - s), 0);
    return { wall: end - t0, agentTotal, perIteration, iterations: times.length };
  } finally {
    await daemon.stop();
    rmSync(base, { recursive: true, force: true });
  }
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

function timeCommand(args, env) {
  const samples = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  }
  return samples;
}

async function latencyBench() {
  const base = mkdtempSync(join(tmpdir(), 'loopd-bench-'));
  const home = join(base, 'home');
  const port = await freePort();
  const env = { ...process.env, LOOPD_HOME: home, LOOPD_ADDR: `127.0.0.1:${port}` };
  delete env.LOOPD_AUTH_TOKEN;
  const daemon = spawn(process.execPath, [join(root, 'bin', 'loopd.js')], { env, stdio: 'ignore' });
  try {
    for (let i = 0; i < 100; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    const list = timeCommand([join(root, 'bin', 'loopctl.js'), 'list'], env);
    const bare = timeCommand(['-e', '0'], env);
    return { list, bare };
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((res) => daemon.once('exit', res));
    rmSync(base, { recursive: true, force: true });
  }
}

async function waitHealthy(port) {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      /* starting */
    }
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('loopd did not become healthy');
}

/** Restart to all in-flight runs adopted: N runs with long-running agents, kill -9, restart. */
async function recoveryBench(n = RECOVERY_RUNS) {
  const base = mkdtempSync(join(tmpdir(), 'loopd-bench-'));
  const home = join(base, 'home');
  const port = await freePort();
  const env = { ...process.env, LOOPD_AUTH_TOKEN: BENCH_TOKEN };
  const args = [join(root, 'bin', 'loopd.js'), '--addr', `127.0.0.1:${port}`, '--home', home, '--max-concurrency', String(n)];
  let daemon = spawn(process.execPath, args, { env, stdio: 'ignore' });
  const client = createClientFor(`http://127.0.0.1:${port}`, BENCH_TOKEN);
  const agent = `node ${join(root, 'test', 'fixtures', 'fake-agent.mjs')}`;
  try {
    await waitHealthy(port);
    const ids = [];
    for (let i = 0; i < n; i++) {
      const repo = makeRepo(join(base, `r${i}`), 1);
      const r = await client.runs.create.mutate({
        cwd: repo,
        spec: 'specs/bench.md',
        flags: { agent: 'command', agent_cmd: `FAKE_SLEEP_MS=60000 ${agent}`, reviewer: false, merge_strategy: 'none' },
      });
      ids.push(r.id);
    }
    // Wait until every agent is running, then pull the plug.
    for (;;) {
      const evs = await Promise.all(ids.map((id) => client.runs.eventsList.query({ run: id })));
      if (evs.every((e) => e.some((x) => x.type === 'AGENT_STARTED'))) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    daemon.kill('SIGKILL');
    await new Promise((res) => daemon.once('exit', res));
    const t0 = performance.now();
    daemon = spawn(process.execPath, args, { env, stdio: 'ignore' });
    await waitHealthy(port);
    const healthy = performance.now() - t0;
    for (;;) {
      const evs = await Promise.all(ids.map((id) => client.runs.eventsList.query({ run: id })));
      if (evs.every((e) => e.some((x) => x.type === 'STEP_ADOPTED'))) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const adopted = performance.now() - t0;
    for (const id of ids) await client.runs.cancel.mutate({ run: id });
    return { healthy, adopted, n };
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((res) => daemon.once('exit', res));
    rmSync(base, { recursive: true, force: true });
  }
}

/** Spec file written -> RUN_CREATED, over N drops into a watched workspace (default settings). */
async function triggerBench(n = TRIGGER_DROPS) {
  const base = mkdtempSync(join(tmpdir(), 'loopd-bench-'));
  const daemon = await startDaemon({ home: join(base, 'home'), host: '127.0.0.1', port: 0, token: BENCH_TOKEN, log: () => {}, writeInfo: false });
  try {
    const repo = makeRepo(join(base, 'ws'), 1);
    // Only the trigger is measured: the runs it creates wait behind one long placeholder agent.
    mkdirSync(join(repo, '.loop'), { recursive: true });
    writeFileSync(join(repo, '.loop', 'config'), 'agent=command\nagent_cmd="sleep 600"\nreviewer=false\nmerge_strategy=none\nmax_runs_per_workspace=1\n');
    await daemon.service.watchWorkspace(repo);
    const samples = [];
    for (let i = 0; i < n; i++) {
      const name = `drop-${i}`;
      // The plan goes first, so the trigger does not wait for it.
      writeFileSync(join(repo, 'specs', 'planning', `${name}-plan.md`), '# Plan\n- [ ] one\n');
      const seen = new Promise((res) => {
        const on = (ev) => {
          if (ev.type === 'RUN_CREATED' && JSON.parse(ev.payload_json).spec === `specs/${name}.md`) {
            daemon.bus.off('event', on);
            res(ev.ts);
          }
        };
        daemon.bus.on('event', on);
      });
      const t0 = Date.now();
      writeFileSync(join(repo, 'specs', `${name}.md`), `# ${name}\n\nBench spec.\n`);
      samples.push((await seen) - t0);
    }
    for (const r of daemon.store.listRuns({ status: ['PENDING', 'RUNNING'] })) await daemon.dispatcher.cancel(r.id);
    return samples;
  } finally {
    await daemon.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** Peak and current resident memory of a process, in MiB (VmHWM, VmRSS from /proc). */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** A daemon process whose agent prints 1 GiB (without, then with newlines): its peak memory. */
async function outputBench() {
  const base = mkdtempSync(join(tmpdir(), 'loopd-bench-'));
  const home = join(base, 'home');
  const port = await freePort();
  const env = { ...process.env, LOOPD_AUTH_TOKEN: BENCH_TOKEN };
  const daemon = spawn(process.execPath, [join(root, 'bin', 'loopd.js'), '--addr', `127.0.0.1:${port}`, '--home', home], { env, stdio: 'ignore' });
  const client = createClientFor(`http://127.0.0.1:${port}`, BENCH_TOKEN);
  const agent = `node ${join(root, 'test', 'fixtures', 'fake-agent.mjs')}`;
  const GIB = 1024 * 1024 * 1024;
  const floods = [
    ['1 GiB, no newline', `head -c ${GIB} /dev/zero | tr '\\000' x; echo`],
    ['1 GiB of lines', `yes 'a line of agent output that repeats' | head -c ${GIB}`],
  ];
  try {
    await waitHealthy(port);
    const idle = memoryOf(daemon.pid);
    const listMs = async () => {
      const t = performance.now();
      await client.runs.list.query({});
      return performance.now() - t;
    };
    const idleList = [];
    for (let i = 0; i < 10; i++) idleList.push(await listMs());
    const out = [];
    for (const [name, flood] of floods) {
      const repo = makeRepo(join(base, `r${out.length}`), 1);
      const t0 = Date.now();
      const run = await client.runs.create.mutate({
        cwd: repo,
        spec: 'specs/bench.md',
        flags: { agent: 'command', agent_cmd: `${flood}; ${agent}`, reviewer: false, merge_strategy: 'none' },
      });
      let r;
      const busyList = [];
      for (;;) {
        r = await client.runs.get.query({ run: run.id });
        if (['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status)) break;
        busyList.push(await listMs());
        await new Promise((res) => setTimeout(res, 100));
      }
      const log = r.steps?.[0]?.outputPath ?? (await client.runs.get.query({ run: run.id })).steps[0].outputPath;
      const { statSync } = await import('node:fs');
      out.push({ name, status: r.status, wall: Date.now() - t0, logMiB: statSync(log).size / 1024 / 1024, peak: memoryOf(daemon.pid).peak, busyList: median(busyList) });
    }
    return { idle, idleList: median(idleList), runs: out };
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((res) => daemon.once('exit', res));
    rmSync(base, { recursive: true, force: true });
  }
}

if (process.env.BENCH_ONLY === 'overhead') {
  // Alternating rounds, so a noisy neighbour weighs on both sides alike.
  const t = new Table({ head: ['round', 'capping writer: median', 'max_output_bytes=0: median'] });
  for (let i = 1; i <= Number(process.env.BENCH_ROUNDS ?? 2); i++) {
    const a = await overheadBench();
    const b = await overheadBench({ max_output_bytes: 0 });
    t.push([i, `${median(a.perIteration).toFixed(1)} ms`, `${median(b.perIteration).toFixed(1)} ms`]);
  }
  process.stdout.write(`orchestration overhead per iteration (${ITERATIONS} iterations)\n${t.toString()}\n`);
  process.exit(0);
}

if (process.env.BENCH_ONLY === 'output') {
  const m = await outputBench();
  const t = new Table({ head: ['measure', 'value', 'note'] });
  for (const x of m.runs) {
    t.push([`daemon peak RSS, agent printing ${x.name}`, `${x.peak.toFixed(0)} MiB`, `idle ${m.idle.peak.toFixed(0)} MiB; run ${x.status} in ${(x.wall / 1000).toFixed(1)} s; log kept ${x.logMiB.toFixed(1)} MiB`]);
    t.push([`  runs.list while it prints`, `${x.busyList.toFixed(1)} ms`, `idle ${m.idleList.toFixed(1)} ms (median, API call only)`]);
  }
  process.stdout.write(`${t.toString()}\n`);
  process.exit(0);
}

const o = await overheadBench();
// The same without the output-capping writer (max_output_bytes=0): what the cap costs per iteration.
const oNoCap = await overheadBench({ max_output_bytes: 0 });
const l = await latencyBench();
const r = await recoveryBench();
const tr = await triggerBench();
const m = await outputBench();
const table = new Table({ head: ['measure', 'median', 'p95', 'n', 'note'] });
table.push(
  ['orchestration overhead per iteration', `${median(o.perIteration).toFixed(1)} ms`, `${p95(o.perIteration).toFixed(1)} ms`, o.perIteration.length, `run wall ${o.wall} ms, agent's own time ${Math.round(o.agentTotal)} ms`],
  ['  same, max_output_bytes=0 (no capping writer)', `${median(oNoCap.perIteration).toFixed(1)} ms`, `${p95(oNoCap.perIteration).toFixed(1)} ms`, oNoCap.perIteration.length, `run wall ${oNoCap.wall} ms`],
  ['loopctl list (running daemon)', `${median(l.list).toFixed(1)} ms`, `${p95(l.list).toFixed(1)} ms`, l.list.length, 'whole process, cold start'],
  ['trigger: spec written -> RUN_CREATED', `${median(tr).toFixed(0)} ms`, `${p95(tr).toFixed(0)} ms`, tr.length, 'default awaitWriteFinish (300 ms stable) + plan check'],
  ['recovery: restart to all runs re-adopted', `${r.adopted.toFixed(0)} ms`, '', r.n, `kill -9 with ${r.n} agents in flight; /health after ${r.healthy.toFixed(0)} ms`],
  ['node -e 0', `${median(l.bare).toFixed(1)} ms`, `${p95(l.bare).toFixed(1)} ms`, l.bare.length, 'baseline: Node start-up alone'],
  ...m.runs.map((x) => [
    `daemon peak RSS, agent printing ${x.name}`,
    `${x.peak.toFixed(0)} MiB`,
    '',
    1,
    `idle ${m.idle.peak.toFixed(0)} MiB; run ${x.status} in ${(x.wall / 1000).toFixed(1)} s; log kept ${x.logMiB.toFixed(1)} MiB (max_output_bytes 64 MiB); runs.list ${x.busyList.toFixed(1)} ms while it prints, ${m.idleList.toFixed(1)} ms idle`,
  ]),
);
process.stdout.write(`loopd bench (Node ${process.versions.node}, ${ITERATIONS} iterations)\n${table.toString()}\n`);
