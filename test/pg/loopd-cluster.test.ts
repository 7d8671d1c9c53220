// Real loopd processes on one PostgreSQL (loopd --database-url), with a fake agent that keeps a
// ledger of its own (test/pg/cluster-agent.sh): a run to its merge, one API from any host,
// same-host restart adoption, one run per save with two watchers, and the kill test: three hosts,
// six runs, whole hosts killed (daemon and agents) three times and restarted after the first two.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientFor } from '../../cli/client.js';
import type { Pool } from '../../host/pg/connect.js';
import { closedPort, repoRoot, requireFreshBuild, runLoopctl } from '../cli/helpers.js';
import { freshDatabase, until as untilOf } from './db.js';

const AGENT = join(repoRoot, 'test', 'pg', 'cluster-agent.sh');

interface Host {
  name: string;
  home: string;
  addr: string;
  proc: ChildProcess;
  id: string;
}

interface Line { what: string; host: string; runId: string; phase: string; iteration: number; pid: number; t: number }

// Every 100 ms rather than db.ts's 50: many probes here are queries, and a few ms later changes nothing.
const until = <T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, limitMs = 90_000, everyMs = 100): Promise<T> => untilOf(what, probe, limitMs, everyMs);

/** A workspace (git repo) with one spec and a two-task plan per name, the fake agent as its agent. */
function workspace(base: string, specs: string[], extraConfig = '', tasks = 2): string {
  const repo = join(base, 'app');
  mkdirSync(join(repo, 'specs', 'planning'), { recursive: true });
  mkdirSync(join(repo, '.loop'));
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  writeFileSync(join(repo, '.gitignore'), 'logs/loop/\n');
  writeFileSync(join(repo, '.loop', 'config'), `agent=command\nagent_cmd="sh ${AGENT}"\nreviewer=false\n${extraConfig}`);
  for (const s of specs) {
    writeFileSync(join(repo, 'specs', `${s}.md`), `# ${s}\n\nBuild ${s}.\n`);
    const list = Array.from({ length: tasks }, (_, i) => `- [ ] ${s} task ${i + 1}`).join('\n');
    writeFileSync(join(repo, 'specs', 'planning', `${s}-plan.md`), `# Plan\n\n## Tasks\n${list}\n`);
  }
  execFileSync('git', ['-C', repo, 'add', '-A']);
  execFileSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-q', '-m', 'init']);
  return repo;
}

class Cluster {
  readonly hosts = new Map<string, Host>();
  constructor(
    private readonly base: string,
    private readonly url: string,
    private readonly o: { ttlSec: number; maxConcurrency: number; sleepMs: number; ledger: string; watch?: string },
  ) {}

  /**
   * What marks every process of one host in its environment (the daemon's, inherited by its agents):
   * the host's name within this cluster's temp dir, so a test run kills only its own hosts, never
   * those of another run of this file on the machine (which names its hosts alike). The name alone
   * goes to the agent as CLUSTER_TEST_HOST (an earlier version of this file killed every process
   * whose CLUSTER_HOST named one of its hosts, whoever's it was).
   */
  machine(name: string): string {
    return `${this.base}/${name}`;
  }

  /** From now on every agent of every host skips its thinking (cluster-agent.sh's CLUSTER_THINK_FILE). */
  stopThinking(): void {
    writeFileSync(join(this.base, 'think-ms'), '0\n');
  }

  /** Starts (or restarts) a host; `sleepMs` overrides how long its agents think. */
  async start(name: string, o: { sleepMs?: number } = {}): Promise<Host> {
    const home = join(this.base, `home-${name}`);
    const addr = this.hosts.get(name)?.addr ?? `127.0.0.1:${await closedPort()}`;
    const args = ['--addr', addr, '--home', home, '--database-url', this.url, '--lease-ttl-sec', String(this.o.ttlSec), '--max-concurrency', String(this.o.maxConcurrency), '--log', '-'];
    if (this.o.watch) args.push('--watch', this.o.watch);
    const env: NodeJS.ProcessEnv = { ...process.env, CLUSTER_TEST_HOST: name, CLUSTER_MACHINE: this.machine(name), CLUSTER_LEDGER: this.o.ledger, FAKE_SLEEP_MS: String(o.sleepMs ?? this.o.sleepMs), CLUSTER_THINK_FILE: join(this.base, 'think-ms') };
    for (const k of ['LOOPD_AUTH_TOKEN', 'LOOPD_DATABASE_URL', 'LOOPD_HOME', 'LOOPD_ADDR']) delete env[k];
    // Its own process group, as a machine of its own: killing the group is the machine dying.
    const proc = spawn(process.execPath, [join(repoRoot, 'bin', 'loopd.js'), ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    // Each host's log, kept for a failing test to show.
    const logFile = join(this.base, `loopd-${name}.log`);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => ((out += d), appendFileSync(logFile, d)));
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        appendFileSync(logFile, d);
        out += d;
        if (out.includes('listening on')) resolve();
      });
      proc.once('exit', (code, signal) => reject(new Error(`loopd ${name} exited ${code ?? signal} before it listened:\n${out}`)));
    });
    const h: Host = { name, home, addr, proc, id: readFileSync(join(home, 'host-id'), 'utf8').trim() };
    this.hosts.set(name, h);
    return h;
  }

  /** The machine dies: the daemon and every process of that host (agents carry its CLUSTER_MACHINE), at once; returns when all are dead. */
  async killHost(name: string): Promise<number> {
    const h = this.hosts.get(name)!;
    const exited = new Promise((r) => h.proc.once('exit', r));
    process.kill(-h.proc.pid!, 'SIGKILL');
    for (const pid of processesOf(this.machine(name))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await exited;
    // Taken once everything is dead: an agent that was starting as the kill began counts as
    // killed then (later than it really died, which only makes the overlap check stricter).
    return Date.now();
  }

  /**
   * Creates a run through a host's API, from this process: what `loopctl run` sends, without a
   * CLI process per run where the CLI is not the subject (the first test creates its run with it).
   */
  async createRun(name: string, spec: string, cwd: string): Promise<string> {
    const h = this.hosts.get(name)!;
    const client = createClientFor(`http://${h.addr}`, readFileSync(join(h.home, 'auth-token'), 'utf8').trim());
    return (await client.runs.create.mutate({ cwd, spec })).id;
  }

  loopctl(name: string, args: string[], cwd: string) {
    const h = this.hosts.get(name)!;
    const env: NodeJS.ProcessEnv = { ...process.env, LOOPD_HOME: h.home, LOOPD_ADDR: h.addr };
    delete env.LOOPD_AUTH_TOKEN;
    delete env.LOOPD_DATABASE_URL;
    return runLoopctl(args, { env, cwd, timeoutMs: 60_000 });
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
        if (h.proc.exitCode !== null || h.proc.signalCode !== null) return;
        const exited = new Promise((r) => h.proc.once('exit', r));
        h.proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        try {
          process.kill(-h.proc.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }),
    );
    for (const name of this.hosts.keys()) {
      for (const pid of processesOf(this.machine(name))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* ended between the look and the kill */
        }
      }
    }
  }
}

/** Every process of this test host (its daemon and its agents), by the mark in their environment. */
function processesOf(machine: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`CLUSTER_MACHINE=${machine}`)) out.push(Number(d));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

/** A live process (not a zombie) with this pid. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function ledgerOf(path: string): Line[] {
  const text = readFileSync(path, 'utf8').trim();
  return text ? text.split('\n').map((l) => JSON.parse(l) as Line) : [];
}

// Runs the built daemon: a stale build fails here, loudly, instead of testing old code.
requireFreshBuild();

describe('loopd hosts on one PostgreSQL', () => {
  let pool: Pool;
  let url: string;
  let drop: () => Promise<void>;
  const bases: string[] = [];
  const clusters: Cluster[] = [];

  beforeAll(async () => {
    ({ pool, url, drop } = await freshDatabase());
  });
  afterAll(async () => {
    for (const c of clusters) await c.stopAll();
    await drop();
    for (const b of bases) rmSync(b, { recursive: true, force: true });
  });

  function tempBase(): string {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'loopd-pgc-')));
    bases.push(base);
    return base;
  }

  /** A workspace and a cluster for it; `watch`: the hosts also watch this other workspace. */
  function setup(o: { specs: string[]; ttlSec: number; sleepMs: number; maxConcurrency?: number; config?: string; watch?: string; tasks?: number }): { repo: string; cluster: Cluster; ledger: string } {
    const base = tempBase();
    const repo = workspace(base, o.specs, o.config, o.tasks);
    const ledger = join(base, 'ledger.jsonl');
    writeFileSync(ledger, '');
    const cluster = new Cluster(base, url, { ttlSec: o.ttlSec, maxConcurrency: o.maxConcurrency ?? 2, sleepMs: o.sleepMs, ledger, ...(o.watch ? { watch: o.watch } : {}) });
    clusters.push(cluster);
    return { repo, cluster, ledger };
  }

  const runsOf = async (repo: string) =>
    (await pool.query<{ id: string; status: string; spec_path: string; exit_reason: string | null; last_error: string | null }>(
      'SELECT id, status, spec_path, exit_reason, last_error FROM runs WHERE workspace_root = $1 ORDER BY created_at',
      [repo],
    )).rows;

  it('runs to a merge, any host serves the runs, events and output, a restarted host adopts its running agent, and two hosts watching one workspace make exactly one run per save', async () => {
    // The hosts also watch a second workspace, which starts a run on every save (the last part).
    const watched = workspace(tempBase(), [], 'trigger_on_change=true\ntrigger_plan_wait_sec=0\nmerge_strategy=none\n');
    const { repo, cluster, ledger } = setup({ specs: ['alpha'], ttlSec: 8, sleepMs: 1500, watch: watched });
    // Host a alone when the run starts, so its agent is the one that thinks long enough to be
    // adopted; b, and a once restarted, run every later step without thinking.
    await cluster.start('a');
    const created = await cluster.loopctl('a', ['run', 'specs/alpha.md'], repo);
    expect(created.code, created.stderr).toBe(0);
    const [run] = await until('the run', async () => (await runsOf(repo)).length === 1 && runsOf(repo));
    // The daemon that runs the first agent dies alone (its agents are detached and live on) and
    // comes back within the TTL: it adopts the agent instead of paying for it again.
    const first = await until('an agent start', () => ledgerOf(ledger).find((l) => l.what === 'start'));
    const owner = cluster.hosts.get(first.host)!;
    expect(owner.name).toBe('a');
    const exited = new Promise((r) => owner.proc.once('exit', r));
    owner.proc.kill('SIGKILL');
    await exited;
    await Promise.all([cluster.start('a', { sleepMs: 0 }), cluster.start('b', { sleepMs: 0 })]);
    await until('the run to complete', async () => (await runsOf(repo))[0]!.status === 'COMPLETED' && true, 90_000, 250);

    const events = (await pool.query<{ type: string }>('SELECT type FROM events WHERE run_id = $1 ORDER BY seq', [run!.id])).rows.map((r) => r.type);
    expect(events).toContain('STEP_ADOPTED');
    expect(events).not.toContain('LEASE_EXPIRED');
    expect(events.filter((t) => t === 'MERGED')).toHaveLength(1);
    expect(ledgerOf(ledger).filter((l) => l.what === 'start' && l.runId === first.runId && l.iteration === first.iteration)).toHaveLength(1);

    // One API from any host: the other host lists the run, replays its events and its output.
    const other = owner.name === 'a' ? 'b' : 'a';
    const [list, ev, tail, hosts] = await Promise.all([
      cluster.loopctl(other, ['list', '--json'], repo),
      cluster.loopctl(other, ['events', run!.id], repo),
      cluster.loopctl(other, ['tail', run!.id], repo),
      cluster.loopctl(other, ['hosts', '--database-url', url], repo),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string; status: string }[]).map((r) => [r.id, r.status])).toEqual([[run!.id, 'COMPLETED']]);
    expect(ev.stdout).toMatch(/RUN_COMPLETED/);
    expect(tail.code, tail.stderr).toBe(0);
    expect(hosts.stdout).toContain(cluster.hosts.get('a')!.id);
    expect(hosts.stdout).toContain(cluster.hosts.get('b')!.id);

    // Two hosts watching one workspace: each save makes exactly one run.
    const save = (text: string) => {
      writeFileSync(join(watched, 'specs', 'planning', 'gamma-plan.md'), `# Plan\n\n## Tasks\n- [ ] ${text}\n`);
      writeFileSync(join(watched, 'specs', 'gamma.md'), `# gamma\n\n${text}\n`);
    };
    const ended = (r: { status: string }) => ['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status);
    save('first');
    await until('the run of the first save to end', async () => (await runsOf(watched)).some(ended));
    save('second');
    await until('the run of the second save to end', async () => (await runsOf(watched)).filter(ended).length >= 2);
    const runs = await runsOf(watched);
    expect(runs.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(runs.map((r) => r.spec_path)).toEqual(['specs/gamma.md', 'specs/gamma.md']);
    const fired = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'TRIGGER_FIRED' AND workspace_root = $1`, [watched])).rows[0]!.n;
    expect(fired).toBe(2);
    await cluster.stopAll();
  }, 120_000);

  it('a daemon that dies alone and stays away: its agent is gone before the step starts on another host', async () => {
    const ttlSec = 3;
    // Host a's agent thinks far longer than the TTL: without the dead-man guard it would still run
    // (and then end by itself, which the ledger would show) when b takes the step over. It costs
    // nothing when the guard works. b starts once a runs the agent, so a is the owner, and b's
    // agent does the step at once.
    const sleepMs = 20_000;
    const { repo, cluster, ledger } = setup({ specs: ['delta'], ttlSec, sleepMs, tasks: 1 });
    await cluster.start('a');
    await cluster.createRun('a', 'specs/delta.md', repo);
    const first = await until('an agent start', () => ledgerOf(ledger).find((l) => l.what === 'start'));
    const owner = cluster.hosts.get(first.host)!;
    expect(owner.name).toBe('a');
    const other = await cluster.start('b', { sleepMs: 0 });
    // The host keeps its heartbeat file beside its data.
    expect(statSync(join(owner.home, 'cluster-heartbeat')).mtimeMs).toBeGreaterThan(0);

    // Only the daemon process dies (SIGKILL, no drain); its detached agent lives on, and the host
    // does not come back.
    const exited = new Promise((r) => owner.proc.once('exit', r));
    owner.proc.kill('SIGKILL');
    await exited;
    expect(alive(first.pid), 'the agent outlives its daemon').toBe(true);
    // When the agent was seen dead: no earlier than it died, so the check below is only stricter.
    const diedBy = await until('the orphaned agent to be ended by its guard', () => (alive(first.pid) ? null : Date.now()), 60_000);

    const [run] = await until('the run to complete on the other host', async () => {
      const runs = await runsOf(repo);
      return runs.length === 1 && runs[0]!.status === 'COMPLETED' && runs;
    });
    const lines = ledgerOf(ledger);
    // Killed by the guard (SIGKILL of its group), not ended by itself nor stopped by a daemon.
    expect(lines.filter((l) => l.pid === first.pid).map((l) => l.what)).toEqual(['start']);
    const again = lines.filter((l) => l.what === 'start' && l.runId === first.runId && l.phase === first.phase && l.iteration === first.iteration && l.pid !== first.pid);
    expect(again.map((l) => l.host)).toEqual([other.name]);
    expect(again[0]!.t, 'the step started on the other host while the first agent still ran').toBeGreaterThanOrEqual(diedBy);

    const events = (await pool.query<{ type: string }>('SELECT type FROM events WHERE run_id = $1 ORDER BY seq', [run!.id])).rows.map((r) => r.type);
    expect(events).toContain('LEASE_EXPIRED');
    expect(events.filter((t) => t === 'MERGED')).toHaveLength(1);
    await cluster.stopAll();
  }, 120_000);

  it('three hosts, six runs: whole hosts killed and restarted, every run completes once and no step runs on two hosts at once', async () => {
    const specs = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const ttlSec = 2;
    const { repo, cluster, ledger } = setup({ specs, ttlSec, sleepMs: 1500, tasks: 3 });
    const names = ['h1', 'h2', 'h3'];
    await Promise.all(names.map((h) => cluster.start(h)));
    await Promise.all(specs.map((s, i) => cluster.createRun(names[i % 3]!, `specs/${s}.md`, repo)));

    const kills: { host: string; t: number }[] = [];
    // A restart is not waited for before the next kill; a host still starting is no victim (its
    // agents may start before it listens, when the test does not know its new process yet).
    const restarts: Promise<Host>[] = [];
    const restarting = new Set<string>();
    for (const restartAtOnce of [false, true, false]) {
      // A whole host dies while one of its agents thinks (the agents sleep first), so work is lost
      // with it: the victim is a host with an agent running now.
      const victim = await until('a host running an agent', () => {
        const open = new Map<number, Line>();
        for (const l of ledgerOf(ledger)) {
          if (l.what === 'start') open.set(l.pid, l);
          else open.delete(l.pid);
        }
        const now = Date.now();
        // Each host in turn while it can be; a host that already died once may die again.
        const candidates = [...open.values()].filter((l) => now - l.t < 800 && !restarting.has(l.host) && !kills.some((k) => k.host === l.host && k.t >= l.t));
        return (candidates.find((l) => !kills.some((k) => k.host === l.host)) ?? candidates[0])?.host;
      });
      const { rows: before } = await pool.query<{ s: number }>('SELECT COALESCE(max(seq), 0)::bigint AS s FROM events');
      kills.push({ host: victim, t: await cluster.killHost(victim) });
      // After the last kill no agent needs to think (thinking is what makes a victim): the rest of
      // the work, checked all the same below, runs without ~1.5 s of sleep per step.
      if (kills.length === 3) cluster.stopThinking();
      if (!restartAtOnce) {
        const id = cluster.hosts.get(victim)!.id;
        await until(`the lease of ${victim} to expire`, async () => {
          const { rowCount } = await pool.query(`SELECT 1 FROM events WHERE type = 'LEASE_EXPIRED' AND payload_json::jsonb->>'host' = $1 AND seq > $2`, [id, before[0]!.s]);
          return rowCount! > 0;
        });
      }
      // The last victim stays dead: its restart would need no kill after it, and a restart after
      // an expired lease is the first kill's already (a daemon start is ~0.2-0.4 s of CPU).
      if (kills.length === 3) break;
      restarting.add(victim);
      restarts.push(cluster.start(victim).finally(() => restarting.delete(victim)));
    }
    await Promise.all(restarts);

    await until('every run to end', async () => (await runsOf(repo)).every((r) => ['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status)), 180_000, 250).catch(async (e: unknown) => {
      // Stuck or slow? The open steps, their leases and the hosts say which.
      const open = await pool.query(
        `SELECT s.id, r.spec_path, s.phase, s.iteration, s.attempt, s.status, s.lease_owner, s.lease_expires_at - loopd_now_ms() AS lease_left_ms, s.not_before
           FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.workspace_root = $1 AND s.status IN ('QUEUED','IN_PROGRESS') ORDER BY s.id`,
        [repo],
      );
      const hosts = await pool.query('SELECT id, hostname, heartbeat_at - loopd_now_ms() AS heartbeat_age_ms, stopped_at FROM hosts');
      const locks = await pool.query('SELECT * FROM merge_locks');
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nruns: ${JSON.stringify(await runsOf(repo))}\nopen steps: ${JSON.stringify(open.rows)}\nhosts: ${JSON.stringify(hosts.rows)}\nmerge locks: ${JSON.stringify(locks.rows)}`);
    });
    const runs = await runsOf(repo);
    // A run that did not complete says why, so a failure here is diagnosable from the output.
    const why = runs.filter((r) => r.status !== 'COMPLETED').map((r) => `${r.spec_path}: ${r.status} ${r.exit_reason ?? ''} ${r.last_error ?? ''}`);
    expect(runs.map((r) => r.status), why.join('; ')).toEqual(specs.map(() => 'COMPLETED'));

    // From the agents' own ledger: no (run, phase, iteration) ever ran on two hosts at once. An
    // agent without an end line was killed with its host.
    const lines = ledgerOf(ledger);
    const open = new Map<number, Line>();
    const intervals = new Map<string, { host: string; start: number; end: number }[]>();
    const add = (s: Line, end: number) => {
      const key = `${s.runId}/${s.phase}/${s.iteration}`;
      intervals.set(key, [...(intervals.get(key) ?? []), { host: s.host, start: s.t, end }]);
    };
    for (const l of lines) {
      if (l.what === 'start') open.set(l.pid, l);
      else if (open.has(l.pid)) {
        add(open.get(l.pid)!, l.t);
        open.delete(l.pid);
      }
    }
    for (const s of open.values()) {
      const killedAt = kills.find((k) => k.host === s.host && k.t >= s.t)?.t;
      expect(killedAt, `agent ${s.pid} on ${s.host} never ended and its host was not killed`).toBeDefined();
      add(s, killedAt!);
    }
    for (const [key, list] of intervals) {
      const byStart = [...list].sort((a, b) => a.start - b.start);
      for (let i = 1; i < byStart.length; i++) expect(byStart[i]!.start, `${key} ran twice at once`).toBeGreaterThanOrEqual(byStart[i - 1]!.end);
    }

    // No iteration lost or done twice, exactly one merge per run, failover really happened, and
    // the event sequence has no duplicates.
    const { rows: done } = await pool.query<{ run_id: string; phase: string; iteration: number; n: number }>(
      `SELECT s.run_id, s.phase, s.iteration, count(*)::int AS n FROM steps s JOIN runs r ON r.id = s.run_id
        WHERE r.workspace_root = $1 AND s.status = 'SUCCEEDED' GROUP BY s.run_id, s.phase, s.iteration`,
      [repo],
    );
    expect(done.every((d) => d.n === 1)).toBe(true);
    for (const r of runs) {
      // Iterations 1..n, none skipped. n may be below the task count: an agent killed after it
      // committed its task leaves the work in the worktree, and the retry does the next task.
      const iterations = done.filter((d) => d.run_id === r.id && d.phase === 'implementation').map((d) => d.iteration).sort();
      expect(iterations).toEqual(Array.from({ length: iterations.length }, (_, i) => i + 1));
      expect(iterations.length).toBeGreaterThanOrEqual(1);
      expect(done.filter((d) => d.run_id === r.id && d.phase === 'merge')).toHaveLength(1);
    }
    const { rows: merged } = await pool.query<{ run_id: string; n: number }>(
      `SELECT run_id, count(*)::int AS n FROM events WHERE type = 'MERGED' AND run_id = ANY($1) GROUP BY run_id`,
      [runs.map((r) => r.id)],
    );
    expect(merged.map((m) => m.n)).toEqual(runs.map(() => 1));
    const { rows: expired } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'LEASE_EXPIRED'`);
    expect(expired[0]!.n).toBeGreaterThanOrEqual(2);
    const { rows: seqs } = await pool.query<{ n: number; d: number }>('SELECT count(*)::int AS n, count(DISTINCT seq)::int AS d FROM events');
    expect(seqs[0]!.n).toBe(seqs[0]!.d);
    await cluster.stopAll();
  }, 300_000);
});
