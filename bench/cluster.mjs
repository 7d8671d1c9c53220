// The cluster figures of npm run bench (BENCH_ONLY=cluster): real loopd hosts (bin/loopd.js
// --database-url) on one PostgreSQL, each in its own process group like a machine of its own, with
// the quick ledger agent of the cluster tests (test/fixtures/cluster-agent.mjs). Runs are created
// through one host's API, as a user would; the figures come from the database and the events.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';

const RUNS = Number(process.env.BENCH_CLUSTER_RUNS ?? 12);
const CLAIMS = Number(process.env.BENCH_CLUSTER_CLAIMS ?? 300);
const TTL_SEC = Number(process.env.BENCH_CLUSTER_TTL_SEC ?? 2);
const TOKEN = 'bench-cluster-token-0123456789abcdef';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Every process whose environment names this bench host (its daemon and its agents). */
function processesOf(name) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`CLUSTER_HOST=${name}`)) out.push(Number(d));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

export async function clusterBench({ root, row, ms, progress, median, pct }) {
  const { openPool } = await import(join(root, 'dist', 'host', 'pg', 'connect.js'));
  const { migratePg } = await import(join(root, 'dist', 'host', 'pg', 'migrate.js'));
  const { claimStep } = await import(join(root, 'dist', 'host', 'pg', 'leases.js'));
  const { createClientFor } = await import(join(root, 'dist', 'cli', 'client.js'));
  const script = join(root, 'scripts', 'pg-test-cluster.sh');
  const agent = join(root, 'test', 'fixtures', 'cluster-agent.mjs');
  let adminUrl = process.env.LOOPD_TEST_DATABASE_URL;
  let clusterDir = null;
  if (!adminUrl) {
    const out = execFileSync('bash', [script, 'start'], { encoding: 'utf8' });
    adminUrl = /^url=(.*)$/m.exec(out)[1];
    clusterDir = /^dir=(.*)$/m.exec(out)[1];
  }
  const work = mkdtempSync(join(tmpdir(), 'loopd-bench-cluster-'));
  const hosts = [];
  const fresh = async () => {
    const name = `loopd_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = openPool(adminUrl, 1);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    const pool = openPool(u.toString(), 4);
    await migratePg(pool);
    return { url: u.toString(), pool };
  };
  /**
   * A git workspace with `specs` specs of a two-task plan each (one per run: each run merges into
   * its own agent/<spec> branch, as distinct pieces of work do), the ledger agent, no reviewer.
   */
  const workspace = (dir, specs) => {
    const repo = join(work, dir);
    mkdirSync(join(repo, 'specs', 'planning'), { recursive: true });
    mkdirSync(join(repo, '.loop'));
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    writeFileSync(join(repo, '.gitignore'), 'logs/loop/\n');
    writeFileSync(join(repo, '.loop', 'config'), `agent=command\nagent_cmd="node ${agent}"\nreviewer=false\n`);
    for (let i = 0; i < specs; i++) {
      writeFileSync(join(repo, 'specs', `s${i}.md`), `# s${i}\n\nBuild s${i}.\n`);
      writeFileSync(join(repo, 'specs', 'planning', `s${i}-plan.md`), `# Plan\n\n## Tasks\n- [ ] s${i} task 1\n- [ ] s${i} task 2\n`);
    }
    execFileSync('git', ['-C', repo, 'add', '-A']);
    execFileSync('git', ['-C', repo, '-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-q', '-m', 'init']);
    return repo;
  };
  const startHost = async (url, name, sleepMs) => {
    const home = join(work, `home-${name}`);
    const addr = `127.0.0.1:${await freePort()}`;
    const env = { ...process.env, LOOPD_AUTH_TOKEN: TOKEN, CLUSTER_HOST: name, CLUSTER_LEDGER: join(work, 'ledger.jsonl'), FAKE_SLEEP_MS: String(sleepMs) };
    for (const k of ['LOOPD_DATABASE_URL', 'LOOPD_HOME', 'LOOPD_ADDR']) delete env[k];
    const args = ['--addr', addr, '--home', home, '--database-url', url, '--lease-ttl-sec', String(TTL_SEC), '--max-concurrency', '2', '--log', '-'];
    const proc = spawn(process.execPath, [join(root, 'bin', 'loopd.js'), ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    await new Promise((resolve, reject) => {
      let up = false;
      const seen = (d) => {
        if (up) return; // the log goes on; only the start-up is kept
        out += d;
        if (out.includes('listening on')) (up = true), resolve();
      };
      proc.stdout.setEncoding('utf8').on('data', seen);
      proc.stderr.setEncoding('utf8').on('data', seen);
      proc.once('exit', (code) => reject(new Error(`loopd ${name} exited ${code} before it listened:\n${out}`)));
    });
    const h = { name, proc, id: readFileSync(join(home, 'host-id'), 'utf8').trim(), client: createClientFor(`http://${addr}`, TOKEN) };
    hosts.push(h);
    return h;
  };
  /** The machine dies: the daemon's process group and every agent of that host, at once. */
  const killHost = (h) => {
    for (const pid of [-h.proc.pid, ...processesOf(h.name)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const until = async (probe, what, limitMs = 300_000) => {
    const end = performance.now() + limitMs;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (performance.now() > end) throw new Error(`cluster bench: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const ended = async (pool) => {
    const { rows } = await pool.query(`SELECT status, count(*)::int AS n FROM runs WHERE status IN ('COMPLETED','FAILED','CANCELED') GROUP BY status`);
    const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    if (by.FAILED || by.CANCELED) {
      const bad = await pool.query(`SELECT name, exit_reason, last_error FROM runs WHERE status IN ('FAILED','CANCELED')`);
      throw new Error(`cluster bench: runs ended ${JSON.stringify(by)}: ${JSON.stringify(bad.rows)}`);
    }
    return (by.COMPLETED ?? 0) === RUNS;
  };
  try {
    // Throughput: RUNS runs (2 implementation steps and a merge each, each run its own spec)
    // created through one host's API, with 1 host, then 3 hosts running them.
    const throughput = async (n) => {
      const { url, pool } = await fresh();
      const repo = workspace(`ws-${n}`, RUNS);
      const hs = [];
      for (let i = 0; i < n; i++) hs.push(await startHost(url, `bench-${n}-${i}`, 0));
      const started = performance.now();
      for (let i = 0; i < RUNS; i++) await hs[0].client.runs.create.mutate({ cwd: repo, spec: `specs/s${i}.md`, flags: {} });
      await until(() => ended(pool), `${RUNS} runs on ${n} host(s)`);
      const seconds = (performance.now() - started) / 1000;
      // Queue-to-start of every step: a step's STEP_QUEUED to its STEP_STARTED, on whichever host.
      const { rows } = await pool.query(
        `SELECT s.ts - q.ts AS wait, s.host_id FROM events s JOIN events q ON q.step_id = s.step_id AND q.type = 'STEP_QUEUED' WHERE s.type = 'STEP_STARTED'`,
      );
      const spread = new Set(rows.map((r) => r.host_id)).size;
      hs.forEach(killHost);
      await pool.end();
      return { rate: RUNS / seconds, waits: rows.map((r) => Number(r.wait)), spread };
    };
    progress(`cluster: ${RUNS} runs through 1 real loopd host`);
    const one = await throughput(1);
    progress(`cluster: ${RUNS} runs through 3 real loopd hosts`);
    const three = await throughput(3);
    row(`cluster: runs/s, 3 loopd hosts (${RUNS} runs x 3 steps, quick agents, 2 per host; ${three.spread} hosts ran steps)`, `${three.rate.toFixed(2)} runs/s`, 'the same, 1 loopd host', `${one.rate.toFixed(2)} runs/s`, `${(three.rate / one.rate).toFixed(2)}x`);
    row(`cluster: step queued -> started, 3 hosts, p50 (${three.waits.length} steps)`, ms(median(three.waits)), 'the same, 1 host, p50', ms(median(one.waits)), `${(median(three.waits) / Math.max(1, median(one.waits))).toFixed(2)}x`);
    row('cluster: step queued -> started, 3 hosts, p95', ms(pct(three.waits, 0.95)), 'the same, 1 host, p95', ms(pct(one.waits, 0.95)), `${(pct(three.waits, 0.95) / Math.max(1, pct(one.waits, 0.95))).toFixed(2)}x`);

    // The claim statement alone: three claimers draining one queue at once, against a bare round trip.
    const { pool } = await fresh();
    for (let i = 0; i < CLAIMS; i++) {
      const id = randomUUID();
      await pool.query(
        `INSERT INTO runs (id, name, name_source, status, workspace_root, spec_path, base_branch, run_branch, merge_target_branch, merge_strategy,
                           worktree_path, worktree_provider, agent, config_json, origin, run_dir, created_at, updated_at)
         VALUES ($1, $1, 'explicit', 'RUNNING', '/srv/ws', 'spec.md', 'main', $1, 'main', 'merge', '/tmp', 'git', 'fake', '{}', 'cli', '/tmp', 0, 0)`,
        [id],
      );
      await pool.query(`INSERT INTO steps (run_id, phase, status, iteration, attempt, created_at, updated_at) VALUES ($1, 'implementation', 'QUEUED', 1, 1, 0, 0)`, [id]);
    }
    const lat = [];
    const claimer = async (h) => {
      for (;;) {
        const t = performance.now();
        const got = await claimStep(pool, { hostId: h, leaseTtlMs: 60000, maxConcurrency: 1e9, agents: ['fake'], workspaces: ['/srv/ws'] });
        if (!got) return;
        lat.push(performance.now() - t);
      }
    };
    await Promise.all(['a', 'b', 'c'].map(claimer));
    const rt = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await pool.query('SELECT 1');
      rt.push(performance.now() - t);
    }
    row(`cluster: claim statement, 3 claimers, p50 (${lat.length} claims)`, ms(median(lat)), 'SELECT 1 round trip, p50', ms(median(rt)), `${(median(lat) / median(rt)).toFixed(2)}x`);
    await pool.end();

    // Failover: kill -9 the loopd host running a long step, with its agent; time until the step
    // runs again on the other host, against the lease TTL.
    const fo = [];
    for (let i = 0; i < 3; i++) {
      progress(`cluster: failover ${i + 1}/3`);
      const { url, pool: p } = await fresh();
      const repo = workspace(`ws-failover-${i}`, 1);
      const a = await startHost(url, `victim-${i}`, 600_000);
      await a.client.runs.create.mutate({ cwd: repo, spec: 'specs/s0.md', flags: {} });
      await until(async () => (await p.query(`SELECT 1 FROM steps WHERE status = 'IN_PROGRESS' AND lease_owner = $1 AND pid IS NOT NULL`, [a.id])).rowCount > 0, 'the victim running the step');
      const b = await startHost(url, `survivor-${i}`, 600_000);
      const killed = performance.now();
      killHost(a);
      await until(async () => (await p.query(`SELECT 1 FROM steps WHERE status = 'IN_PROGRESS' AND lease_owner = $1`, [b.id])).rowCount > 0, 'the step on the survivor');
      fo.push(performance.now() - killed);
      killHost(b);
      await p.end();
    }
    row('cluster: failover, kill -9 of a loopd host and its agent -> the step running on another, p50 of 3', ms(median(fo)), 'lease_ttl_sec', ms(TTL_SEC * 1000), `${(median(fo) / (TTL_SEC * 1000)).toFixed(2)}x`);
  } finally {
    hosts.forEach(killHost);
    rmSync(work, { recursive: true, force: true });
    if (clusterDir) execFileSync('bash', [script, 'stop', clusterDir]);
  }
}
