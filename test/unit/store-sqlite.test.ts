// The LoopStore contract against the embedded default (node:sqlite), and its statement cache.
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { cached } from '../../host/store/sqlite/connection.js';
import { SqliteStore } from '../../host/store/sqlite.js';
import { tempDir } from '../integration/harness.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('sqlite', { open: async () => new SqliteStore(join(tempDir(), 'loopd.db')) });

// Statements prepared once per connection (cached): reused safely, and never stale.

describe('cached statements', () => {
  it('reuses one statement per connection and SQL text, with no binding carried over', () => {
    const a = new DatabaseSync(':memory:');
    const b = new DatabaseSync(':memory:');
    const sql = 'SELECT $x AS x, $y AS y';
    expect(cached(a, sql)).toBe(cached(a, sql));
    expect(cached(a, sql)).not.toBe(cached(b, sql));
    expect(cached(a, sql).get({ x: 1, y: 2 })).toEqual({ x: 1, y: 2 });
    expect(cached(a, sql).get({ x: 3 })).toEqual({ x: 3, y: null });
  });

  it('sees a schema change made after it was prepared (a migration)', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (a INTEGER)');
    db.exec('INSERT INTO t VALUES (1)');
    expect(cached(db, 'SELECT * FROM t').get()).toEqual({ a: 1 });
    db.exec('ALTER TABLE t ADD COLUMN b TEXT');
    expect(cached(db, 'SELECT * FROM t').get()).toEqual({ a: 1, b: null });
  });

  it('keeps a bounded number of statements: past the bound it starts over, each still correct', () => {
    const db = new DatabaseSync(':memory:');
    const first = cached(db, 'SELECT 0 AS n');
    for (let i = 1; i <= 600; i++) expect(cached(db, `SELECT ${i} AS n`).get()).toEqual({ n: i });
    const again = cached(db, 'SELECT 0 AS n');
    expect(again).not.toBe(first);
    expect(again.get()).toEqual({ n: 0 });
  });
});
