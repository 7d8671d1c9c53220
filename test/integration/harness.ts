// Shared set-up for integration tests: temp git repos, an in-process daemon on port 0 with a temp
// LOOPD_HOME, and a typed client talking to it over real HTTP. With LOOPD_TEST_BACKEND=postgres
// (the pg vitest project) each daemon gets a fresh database on the test PostgreSQL
// (test/pg/global-setup.ts) and runs as one cluster host on it, as `loopd --database-url` does.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, inject, it } from 'vitest';
import { createClientFor, type LoopClient } from '../../cli/client.js';
import { startDaemon, type DaemonHandle } from '../../host/main.js';
import type { RunView } from '../../router/index.js';
import { copyRepo } from '../repo-copy.js';
import { gitSync } from '../git-sync.js';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
/** fake-agent.mjs's behaviour and knobs in sh: no Node start-up (50-80 ms of CPU) per agent call. */
export const FAKE_AGENT_SH = `sh ${join(FIXTURES, 'fake-agent.sh')}`;
/** The fake agent of the integration tests: the sh one (test/unit/fake-agent-sh.test.ts holds it to fake-agent.mjs). */
export const FAKE_AGENT = FAKE_AGENT_SH;

/** git for a test's set-up and assertions: trimmed stdout, throws when git fails (test/git-sync.ts). */
export function git(cwd: string, ...args: string[]): string {
  return gitSync(cwd, ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args]).trim();
}

export function tempDir(prefix = 'loopd-test-'): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

export interface TestRepo {
  /** The parent temp dir: worktrees are created beside the repo, inside it. */
  base: string;
  root: string;
  write(rel: string, content: string): void;
  commit(message: string): void;
}

// One committed template repo per shape and worker, copied for each test (test/repo-copy.ts: its
// files written from memory, its git objects hard-linked): a copy is a fraction of the cost of git
// init + add + commit, and gives every test its own independent repo all the same.
const templates = new Map<string, string>();

function templateRepo(opts: { tasks?: number; spec?: string; config?: string }): string {
  const key = JSON.stringify([opts.tasks ?? 3, opts.spec ?? 'demo', opts.config ?? null]);
  const cached = templates.get(key);
  if (cached) return cached;
  const root = join(tempDir('loopd-template-'), 'repo');
  mkdirSync(root);
  git(root, 'init', '-q', '-b', 'main');
  const write = (rel: string, content: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  };
  const spec = opts.spec ?? 'demo';
  write('README.md', '# test repo\n');
  write(`specs/${spec}.md`, `# ${spec}\n\nBuild the thing.\n`);
  const n = opts.tasks ?? 3;
  write(
    `specs/planning/${spec}-plan.md`,
    `# Plan\n\n## Tasks\n${Array.from({ length: n }, (_, i) => `- [ ] task ${i + 1}`).join('\n')}\n\n## Verification\n- [ ] run it\n`,
  );
  if (opts.config) write('.loop/config', opts.config);
  write('.gitignore', 'logs/loop/\n');
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'init');
  templates.set(key, root);
  return root;
}

export function makeRepo(opts: { tasks?: number; spec?: string; config?: string } = {}): TestRepo {
  const base = tempDir();
  const root = join(base, 'repo');
  copyRepo(templateRepo(opts), root);
  const write = (rel: string, content: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  };
  return { base, root, write, commit: (m) => (git(root, 'add', '-A'), git(root, 'commit', '-q', '-m', m)) };
}

export interface TestDaemon {
  daemon: DaemonHandle;
  client: LoopClient;
  home: string;
  stop(): Promise<void>;
}

/** Which store the in-process daemons of this test process use. */
export const BACKEND: 'sqlite' | 'postgres' = process.env.LOOPD_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/**
 * True on the PostgreSQL pass (project pg). That pass runs again only the tests whose
 * subject goes through the store (runs reaching their merge, admission and concurrency limits,
 * retries, cancel, the merge records and locks, the recorded ledger, the API's run views and event
 * streams, adoption after a restart); a test whose subject is git, the agent's process tree, the
 * completion rules or input checked before anything is stored is declared with `sqliteIt` (or
 * `sqliteDescribe`) and runs on SQLite only, where the system project runs every test.
 */
export const PG_PASS = BACKEND === 'postgres';

/**
 * A test of the SQLite pass only. On the PostgreSQL pass it is not declared at all rather than
 * skipped: CI output shows no skipped test, since a skip there means something could not run.
 */
export const sqliteIt: typeof it = PG_PASS ? (Object.assign(() => undefined, it) as typeof it) : it;

/** A group of SQLite-pass tests (see sqliteIt). */
export const sqliteDescribe: typeof describe = PG_PASS ? (Object.assign(() => undefined, describe) as typeof describe) : describe;

const databases: string[] = [];

/**
 * On the postgres backend, a fresh empty database on the test cluster (the daemon migrates it), and
 * its URL; undefined on sqlite, where the daemon's home holds the database. Dropped by dropTestDatabases.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  if (BACKEND !== 'postgres') return undefined;
  const admin = inject('pgUrl');
  if (!admin) throw new Error('LOOPD_TEST_BACKEND=postgres needs the PostgreSQL of test/pg/global-setup.ts: run these files through the pg project (npx vitest run --project pg)');
  const name = `loopd_i_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    // A copy of the migrated template (test/pg/global-setup.ts): the daemon finds its schema current.
    await c.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')} STRATEGY FILE_COPY`); // tiny databases: ~40 % cheaper to copy and drop than WAL_LOG's block-by-block copy
  } finally {
    await c.end();
  }
  databases.push(name);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops the databases testDatabaseUrl made (their daemons stopped first). */
export async function dropTestDatabases(): Promise<void> {
  if (databases.length === 0) return;
  const c = new pg.Client({ connectionString: inject('pgUrl') });
  await c.connect();
  try {
    for (const name of databases.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/** The daemon options that select the test backend: a database URL on postgres, nothing on sqlite. */
export async function backendOptions(): Promise<{ databaseUrl?: string }> {
  const databaseUrl = await testDatabaseUrl();
  return databaseUrl ? { databaseUrl } : {};
}

export async function startTestDaemon(opts: { maxConcurrency?: number } = {}): Promise<TestDaemon> {
  const home = tempDir('loopd-home-');
  const daemon = await startDaemon({
    home,
    host: '127.0.0.1',
    port: 0,
    token: 'test-token',
    maxConcurrency: opts.maxConcurrency ?? 3,
    log: () => {},
    // One spawner for every daemon of this worker: a start per daemon cost ~75 ms of CPU.
    keepSpawner: true,
    ...(await backendOptions()),
  });
  const client = createClientFor(daemon.url, daemon.token);
  inProcess.set(client, daemon);
  return {
    daemon,
    client,
    home,
    async stop() {
      // Cancel what is still going so no agent outlives the test.
      for (const r of await daemon.store.listRuns({ status: ['PENDING', 'RUNNING', 'PAUSED'] })) {
        await daemon.dispatcher.cancel(r.id).catch(() => {});
      }
      await daemon.stop({ drain: true });
      rmSync(home, { recursive: true, force: true });
      await dropTestDatabases();
    },
  };
}

/** The in-process daemon behind a client made by startTestDaemon, so waits can follow its events. */
const inProcess = new WeakMap<LoopClient, DaemonHandle>();

const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELED'];

/**
 * Resolves when the store's record of the run says it ended or `timeoutMs` passed. Every status
 * change commits an event, so the daemon's bus wakes the check; the slow timer only covers a check
 * that raced the event. Reads the store in-process: polling over HTTP every 50 ms cost more CPU
 * than most runs (one request, superjson round trip and store read per poll, for the whole run).
 */
async function runEnded(daemon: DaemonHandle, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wake: () => void = () => {};
  const onEvent = (ev: { run_id: string | null }): void => {
    if (ev.run_id === id) wake();
  };
  daemon.bus.on('event', onEvent);
  try {
    for (;;) {
      const run = await daemon.store.getRun(id);
      if (run && TERMINAL.includes(run.status)) return;
      if (Date.now() > deadline) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    daemon.bus.off('event', onEvent);
  }
}

export async function waitForRun(client: LoopClient, id: string, timeoutMs = 30000): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  const daemon = inProcess.get(client);
  if (daemon && (await daemon.store.getRun(id))) await runEnded(daemon, id, timeoutMs);
  // The answer itself still comes over the API, as the tests assert on what a client sees.
  for (;;) {
    const run = await client.runs.get.query({ run: id });
    // Ended, and its file work (summary.json, the report's last row, the mirror) recorded: that
    // follows the ending's commit, and the tests read those files next.
    if (TERMINAL.includes(run.status) && run.artifacts.some((a) => a.kind === 'summary')) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function commandFlags(cmd: string, extra: Record<string, string | number | boolean> = {}) {
  return { agent: 'command', agent_cmd: cmd, ...extra };
}

/** True while `pid` is a running process (a zombie, dead but not yet reaped, counts as gone). */
export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
