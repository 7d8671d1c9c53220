// Vitest global setup: a real PostgreSQL for the cluster tests. LOOPD_TEST_DATABASE_URL points at
// an existing server (a database the tests may create databases on); otherwise a throwaway cluster
// is started from the machine's binaries by scripts/pg-test-cluster.sh and removed afterwards.
// When neither works the whole run fails: these tests are never skipped.
//
// The pg project lists this file, and vitest runs a project's global setup once, in its main
// process. Were it listed by more projects (it was, by two, until issue 9), the first would start
// the server, the others find it on globalThis, and the last teardown stop it: one cluster per run.
//
// It also builds one migrated template database, and every test database is a copy of it
// (`CREATE DATABASE ... TEMPLATE`, about a quarter of the cost of creating and migrating one). The
// migrations themselves are still applied step by step in the tests that are about them
// (schema-events.test.ts, step-phases.test.ts).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openPool } from '../../host/pg/connect.js';
import { migratePg } from '../../host/pg/migrate.js';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'pg-test-cluster.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    /** A migrated database to copy for each test database (test/pg/db.ts, test/integration/harness.ts). */
    pgTemplate: string;
  }
}

interface Shared {
  url: string;
  template: string;
  /** The throwaway cluster's directory; null on a server given by LOOPD_TEST_DATABASE_URL. */
  dir: string | null;
  users: number;
}

const KEY = Symbol.for('loopd.test.postgres');
type WithShared = typeof globalThis & { [KEY]?: Promise<Shared> };

function startCluster(): { url: string; dir: string } {
  let out: string;
  try {
    out = execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(
      `PostgreSQL for the cluster tests could not start: ${String(err.stderr ?? e).trim()}\n` +
        'Install the postgresql package (apt-get install postgresql) or set LOOPD_TEST_DATABASE_URL to a server the tests may create databases on.',
    );
  }
  const url = /^url=(.*)$/m.exec(out)?.[1];
  const dir = /^dir=(.*)$/m.exec(out)?.[1];
  if (!url || !dir) throw new Error(`scripts/pg-test-cluster.sh printed no url/dir: ${out}`);
  return { url, dir };
}

/** `admin` with another database name in its path. */
function databaseUrl(admin: string, name: string): string {
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function open(): Promise<Shared> {
  const given = process.env.LOOPD_TEST_DATABASE_URL;
  const { url, dir } = given ? { url: given, dir: null } : startCluster();
  // A server that is not ours may be shared: a name of our own, dropped at teardown.
  const template = `loopd_tpl_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await adminQuery(url, `CREATE DATABASE ${template}`);
  const pool = openPool(databaseUrl(url, template), 1);
  try {
    await migratePg(pool);
  } finally {
    await pool.end();
  }
  return { url, template, dir, users: 0 };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const g = globalThis as WithShared;
  g[KEY] ??= open();
  const shared = await g[KEY];
  shared.users++;
  project.provide('pgUrl', shared.url);
  project.provide('pgTemplate', shared.template);
  return async () => {
    if (--shared.users > 0) return;
    delete g[KEY];
    if (shared.dir) execFileSync('bash', [script, 'stop', shared.dir], { stdio: 'ignore' });
    else await adminQuery(shared.url, `DROP DATABASE IF EXISTS ${shared.template} WITH (FORCE)`);
  };
}
