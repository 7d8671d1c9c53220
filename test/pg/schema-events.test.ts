// Migrations, the cluster-wide event stream and the trigger decision on a real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from './db.js';
import { inTx, checkDatabaseUrl, type Pool } from '../../host/pg/connect.js';
import { loadPgMigrations, migratePg, PgSchemaTooNewError } from '../../host/pg/migrate.js';
import { appendEvent, subscribeEvents, type PgEvent } from '../../host/pg/events.js';
import { claimSpecChange } from '../../host/pg/triggers.js';
import { requireFreshBuild } from '../cli/helpers.js';

// One test runs bin/loopd (dist/).
requireFreshBuild();

let pool: Pool;
let url: string;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ pool, url, drop } = await freshDatabase());
});
afterAll(async () => drop());

describe('migrations', () => {
  it('applies the numbered files once, records them, and a second host starting finds nothing to do', async () => {
    const { rows } = await pool.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.name)).toEqual(loadPgMigrations().map((m) => m.name));
    const again = await Promise.all([migratePg(pool), migratePg(pool)]);
    expect(again).toEqual([{ applied: [] }, { applied: [] }]);
  });

  it('refuses a database written by a newer schema', async () => {
    await pool.query(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, '9999_future.sql', 'x', 0)`);
    try {
      await expect(migratePg(pool)).rejects.toBeInstanceOf(PgSchemaTooNewError);
      await expect(migratePg(pool)).rejects.toThrow(/written by a newer loopd \(schema 9999_future\.sql/);
    } finally {
      await pool.query('DELETE FROM schema_migrations WHERE version = 9999');
    }
  });

  it('a database URL that is not postgres:// gets a one-line error', () => {
    expect(() => checkDatabaseUrl('mysql://x/y')).toThrow(/not a postgres:\/\/ URL/);
    expect(() => checkDatabaseUrl('nonsense')).toThrow(/is not a URL/);
    expect(checkDatabaseUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
  });
});

describe('events from any host', () => {
  it('a subscriber on one host sees events committed by another, in order, and none rolled back', async () => {
    const seen: PgEvent[] = [];
    let wake: () => void = () => {};
    const sub = await subscribeEvents(url, pool, 0, (e) => {
      seen.push(e);
      if (e.type === 'LAST') wake();
    });
    const last = new Promise<void>((r) => (wake = r));
    await inTx(pool, (c) => appendEvent(c, { runId: null, stepId: null, hostId: 'a', type: 'ONE' }));
    await inTx(pool, async (c) => {
      await appendEvent(c, { runId: null, stepId: null, hostId: 'b', type: 'ROLLED_BACK' });
      throw new Error('abort');
    }).catch(() => {});
    await inTx(pool, (c) => appendEvent(c, { runId: null, stepId: null, hostId: 'b', type: 'TWO' }));
    await inTx(pool, (c) => appendEvent(c, { runId: null, stepId: null, hostId: 'c', type: 'LAST' }));
    await last;
    await sub.close();
    expect(seen.map((e) => [e.type, e.host_id])).toEqual([['ONE', 'a'], ['TWO', 'b'], ['LAST', 'c']]);
    const seqs = seen.map((e) => e.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);

    // Resume by sequence number: a new subscriber after the first event gets the rest only.
    const resumed: string[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    const sub2 = await subscribeEvents(url, pool, seqs[0]!, (e) => {
      resumed.push(e.type);
      if (e.type === 'LAST') done();
    });
    await finished;
    await sub2.close();
    expect(resumed).toEqual(['TWO', 'LAST']);
  });
});

describe('triggers on several hosts', () => {
  it('one save seen by three hosts at once makes exactly one decision; a new save makes another', async () => {
    const decide = (hash: string): Promise<boolean[]> =>
      Promise.all([1, 2, 3].map(() => inTx(pool, (c) => claimSpecChange(c, { workspace_root: '/srv/ws', path: 'specs/a.md', content_hash: hash, run_id: `r-${hash}` }))));
    expect((await decide('h1')).filter(Boolean)).toHaveLength(1);
    expect((await decide('h1')).filter(Boolean)).toHaveLength(0);
    expect((await decide('h2')).filter(Boolean)).toHaveLength(1);
  });
});

describe('loopd --database-url', () => {
  it('refuses a URL that is not postgres:// and a bad lease TTL, each with one line, before touching anything', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const home = mkdtempSync(join(tmpdir(), 'loopd-pgurl-'));
    try {
      const bin = join(import.meta.dirname, '..', '..', 'bin', 'loopd');
      const env = { ...process.env, LOOPD_HOME: home };
      const viaEnv = spawnSync(bin, ['--addr', '127.0.0.1:0'], { encoding: 'utf8', env: { ...env, LOOPD_DATABASE_URL: 'mysql://x/y' } });
      expect(viaEnv.status).not.toBe(0);
      expect(viaEnv.stderr).toMatch(/not a postgres:\/\/ URL/);
      const ttl = spawnSync(bin, ['--addr', '127.0.0.1:0', '--database-url', url, '--lease-ttl-sec', '0'], { encoding: 'utf8', env });
      expect(ttl.status).not.toBe(0);
      expect(ttl.stderr).toMatch(/invalid --lease-ttl-sec "0": expected seconds between 1 and 3600/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
