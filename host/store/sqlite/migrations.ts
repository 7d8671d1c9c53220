// The SQLite schema: numbered files in migrations/, applied in order, each in its own IMMEDIATE
// transaction together with its record in schema_migrations. A database written by a newer loopd
// is refused rather than guessed at.
import type { DatabaseSync } from 'node:sqlite';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installedPath } from '../../../core/package-root.js';
import { isBusy } from '../../busy.js';

export class SchemaTooNewError extends Error {}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

function locateMigrations(): string {
  const dir = installedPath('migrations');
  if (existsSync(join(dir, '0001_init.sql'))) return dir;
  throw new Error(`cannot find the SQLite migrations in ${dir}: the installation is incomplete, reinstall it`);
}

export function loadMigrations(dir = locateMigrations()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

export function appliedMigrations(db: DatabaseSync): { version: number; name: string }[] {
  return db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as unknown as { version: number; name: string }[];
}

export function migrate(db: DatabaseSync, path: string, migrations: Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = appliedMigrations(db);
  const known = new Set(migrations.map((m) => m.version));
  const newest = migrations.reduce((n, m) => Math.max(n, m.version), 0);
  const unknown = applied.filter((a) => !known.has(a.version) || a.version > newest);
  if (unknown.length > 0) {
    throw new SchemaTooNewError(
      `the database at ${path} was written by a newer loopd (schema ${unknown.map((u) => u.name).join(', ')}; ` +
        `this loopd knows up to ${String(newest).padStart(4, '0')}): upgrade loopd, or point LOOPD_HOME at another directory`,
    );
  }
  const done = new Set(applied.map((a) => a.version));
  for (const m of migrations) {
    if (!done.has(m.version)) startupRetry(() => applyOne(db, m));
  }
}

/**
 * A migration that rebuilds a table (0006) turns foreign keys off around its transaction, as
 * SQLite's ALTER TABLE procedure requires: the pragma is a no-op inside a transaction. The
 * migration checks the keys itself (PRAGMA foreign_key_check) before it commits.
 */
function applyOne(db: DatabaseSync, m: Migration): void {
  const rebuild = /^--\s*loopd:\s*foreign-keys-off\b/m.test(m.sql);
  if (rebuild) db.exec('PRAGMA foreign_keys = OFF');
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(m.sql);
      if (rebuild) assertForeignKeys(db, m.name);
      db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
        m.version,
        m.name,
        createHash('sha256').update(m.sql).digest('hex'),
        Date.now(),
      );
      db.exec('COMMIT');
    } catch (e) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw e;
    }
  } finally {
    if (rebuild) db.exec('PRAGMA foreign_keys = ON');
  }
}

function assertForeignKeys(db: DatabaseSync, name: string): void {
  const broken = db.prepare('PRAGMA foreign_key_check').all() as unknown as { table: string; rowid: number; parent: string }[];
  if (broken.length > 0) {
    const first = broken[0]!;
    throw new Error(`migration ${name} would break ${broken.length} foreign key(s), first ${first.table} row ${first.rowid} -> ${first.parent}; nothing was changed`);
  }
}

/**
 * Migrations run before the daemon serves anything, so waiting synchronously is harmless there;
 * Atomics.wait sleeps without spinning the CPU. Up to ~5 s, then the busy error.
 */
function startupRetry<T>(fn: () => T): T {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || attempt >= 50) throw e;
      Atomics.wait(pause, 0, 0, 100);
    }
  }
}
