// PostgreSQL migrations: numbered files in migrations/postgres/, applied in order, each in its own
// transaction with its record in schema_migrations. Several hosts may start at once, so the whole
// pass holds an advisory lock; a database already written by a newer schema is refused.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installedPath } from '../../core/package-root.js';
import type { Pool } from './connect.js';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export class PgSchemaTooNewError extends Error {}

// Any fixed number works; it only has to be the same on every host.
const MIGRATION_LOCK = 0x100bd;

function locate(): string {
  const dir = installedPath('migrations', 'postgres');
  if (existsSync(join(dir, '0001_init.sql'))) return dir;
  throw new Error(`cannot find the PostgreSQL migrations in ${dir}: the installation is incomplete, reinstall it`);
}

export function loadPgMigrations(dir = locate()): PgMigration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

export async function migratePg(pool: Pool, migrations = loadPgMigrations()): Promise<{ applied: string[] }> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const { rows } = await c.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
    const newest = migrations.reduce((n, m) => Math.max(n, m.version), 0);
    const known = new Set(migrations.map((m) => m.version));
    const unknown = rows.filter((r) => !known.has(r.version));
    if (unknown.length > 0) {
      throw new PgSchemaTooNewError(
        `the PostgreSQL database was written by a newer loopd (schema ${unknown.map((u) => u.name).join(', ')}; this loopd knows up to ` +
          `${String(newest).padStart(4, '0')}): upgrade loopd on this host to the version the other hosts run`,
      );
    }
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
          m.version,
          m.name,
          createHash('sha256').update(m.sql).digest('hex'),
          Date.now(),
        ]);
        await c.query('COMMIT');
        applied.push(m.name);
      } catch (e) {
        await c.query('ROLLBACK');
        throw new Error(`PostgreSQL migration ${m.name} failed: ${(e as Error).message}`);
      }
    }
    return { applied };
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    c.release();
  }
}
