// The cluster figures of npm run bench (BENCH_ONLY=cluster): several hosts on one PostgreSQL.
// Hosts are test/fixtures/cluster-host.mjs processes: the real claim/lease layer (dist/host/pg)
// with a quick stand-in agent, so the figures are the coordination's cost, not an agent's.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';

const RUNS = Number(process.env.BENCH_CLUSTER_RUNS ?? 24);
const CLAIMS = Number(process.env.BENCH_CLUSTER_CLAIMS ?? 300);
const TTL_MS = Number(process.env.BENCH_CLUSTER_TTL_MS ?? 2000);

export async function clusterBench({ root, row, ms, progress, median, pct }) {
  const { openPool } = await import(join(root, 'dist', 'host', 'pg', 'connect.js'));
  const { migratePg } = await import(join(root, 'dist', 'host', 'pg', 'migrate.js'));
  const { claimStep } = await import(join(root, 'dist', 'host', 'pg', 'leases.js'));
  const script = join(root, 'scripts', 'pg-test-cluster.sh');
  const fixture = join(root, 'test', 'fixtures', 'cluster-host.mjs');
  let adminUrl = process.env.LOOPD_TEST_DATABASE_URL;
  let clusterDir = null;
  if (!adminUrl) {
    const out = execFileSync('bash', [script, 'start'], { encoding: 'utf8' });
    adminUrl = /^url=(.*)$/m.exec(out)[1];
    clusterDir = /^dir=(.*)$/m.exec(out)[1];
  }
  const work = mkdtempSync(join(tmpdir(), 'loopd-bench-cluster-'));
  const procs = [];
  const fresh = async () => {
    const name = `loopd_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = openPool(adminUrl, 1);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    const pool = openPool(u.toString(), 10);
    await migratePg(pool);
    return { url: u.toString(), pool };
  };
  const seed = async (pool, n) => {
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      await pool.query(
        `INSERT INTO runs (id, name, name_source, status, workspace_root, spec_path, base_branch, run_branch, merge_target_branch, merge_strategy,
                           worktree_path, worktree_provider, agent, config_json, origin, run_dir, created_at, updated_at)
         VALUES ($1, $1, 'explicit', 'RUNNING', '/srv/ws', 'spec.md', 'main', $1, 'main', 'merge', '/tmp', 'git', 'fake', '{}', 'cli', '/tmp', 0, 0)`,
        [id],
      );
      await pool.query(`INSERT INTO steps (run_id, phase, status, iteration, attempt, created_at, updated_at) VALUES ($1, 'implementation', 'QUEUED', 1, 1, 0, 0)`, [id]);
    }
  };
  const startHost = (url, id, extra = {}) => {
    mkdirSync(join(work, 'merges'), { recursive: true });
    const p = spawn(process.execPath, [fixture], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DATABASE_URL: url, HOST_ID: id, LEDGER: join(work, 'ledger.jsonl'), MERGE_DIR: join(work, 'merges'), LEASE_TTL_MS: String(TTL_MS), AGENT_SLEEP_MS: '0', ITERATIONS: '2', MAX_CONCURRENCY: '2', ...extra },
    });
    procs.push(p);
    return new Promise((resolve) => p.stdout.once('data', () => resolve(p)));
  };
  const killGroup = (p) => {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const until = async (probe) => {
    for (;;) {
      const v = await probe();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    // Throughput: the same runs (2 implementation steps + a merge each) through 1 host, then 3.
    const throughput = async (hosts) => {
      const { url, pool } = await fresh();
      writeFileSync(join(work, 'ledger.jsonl'), '');
      rmSync(join(work, 'merges'), { recursive: true, force: true });
      await seed(pool, RUNS);
      const started = performance.now();
      const ps = await Promise.all(Array.from({ length: hosts }, (_, i) => startHost(url, `bench-${hosts}-${i}`)));
      await until(async () => (await pool.query(`SELECT count(*)::int AS n FROM runs WHERE status = 'COMPLETED'`)).rows[0].n === RUNS);
      const seconds = (performance.now() - started) / 1000;
      ps.forEach(killGroup);
      await pool.end();
      return RUNS / seconds;
    };
    progress(`cluster: ${RUNS} runs through 1 host`);
    const one = await throughput(1);
    progress(`cluster: ${RUNS} runs through 3 hosts`);
    const three = await throughput(3);
    row(`cluster: runs/s, 3 hosts (${RUNS} runs x 3 steps, quick agents, 2 per host)`, `${three.toFixed(2)} runs/s`, 'the same, 1 host', `${one.toFixed(2)} runs/s`, `${(three / one).toFixed(2)}x`);

    // Claim latency: three claimers draining one queue at once, against a bare round trip.
    const { pool } = await fresh();
    await seed(pool, CLAIMS);
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
    row(`cluster: claim latency, 3 claimers, p50 (${lat.length} claims)`, ms(median(lat)), 'SELECT 1 round trip, p50', ms(median(rt)), `${(median(lat) / median(rt)).toFixed(2)}x`);
    row('cluster: claim latency, p95', ms(pct(lat, 0.95)), 'SELECT 1 round trip, p95', ms(pct(rt, 0.95)), `${(pct(lat, 0.95) / pct(rt, 0.95)).toFixed(2)}x`);
    await pool.end();

    // Failover: kill -9 the host running a long step; time until the step runs on the other host.
    const fo = [];
    for (let i = 0; i < 3; i++) {
      const { url, pool: p } = await fresh();
      await seed(p, 1);
      const a = await startHost(url, 'victim', { AGENT_SLEEP_MS: '60000' });
      await until(async () => (await p.query(`SELECT 1 FROM steps WHERE status = 'IN_PROGRESS'`)).rowCount > 0);
      const b = await startHost(url, 'survivor', { AGENT_SLEEP_MS: '60000' });
      const killed = performance.now();
      killGroup(a);
      await until(async () => (await p.query(`SELECT 1 FROM steps WHERE status = 'IN_PROGRESS' AND lease_owner = 'survivor'`)).rowCount > 0);
      fo.push(performance.now() - killed);
      killGroup(b);
      await p.end();
    }
    row('cluster: failover, kill -9 of a host -> its step running on another', ms(median(fo)), 'lease_ttl_sec', ms(TTL_MS), `${(median(fo) / TTL_MS).toFixed(2)}x`);
  } finally {
    procs.forEach(killGroup);
    rmSync(work, { recursive: true, force: true });
    if (clusterDir) execFileSync('bash', [script, 'stop', clusterDir]);
  }
}
