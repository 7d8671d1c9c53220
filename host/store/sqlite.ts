// The embedded default behind the LoopStore interface: node:sqlite. The SQL lives in the engine
// under host/store/sqlite/, one file per job; this file owns the connections and the transactions.
//
// Two connections: the writer runs every transaction, one at a time (the next waits for the
// previous to settle); reads outside a transaction go to a read-only connection, which sees only
// committed data (WAL) and never waits on the write lock, so a transaction awaiting between its
// operations never leaks its uncommitted writes to a reader.
import type { DatabaseSync } from 'node:sqlite';
import type { EventBus } from '../bus.js';
import type { LoopStore, StoreTx } from './types.js';
import { begin, commit, openReader, openWriter, pragma, rollback } from './sqlite/connection.js';
import { appliedMigrations, loadMigrations, migrate, type Migration } from './sqlite/migrations.js';
import { SqliteReads } from './sqlite/reads.js';
import { SqliteTx } from './sqlite/writes.js';

export { loadMigrations, SchemaTooNewError, type Migration } from './sqlite/migrations.js';

export class SqliteStore extends SqliteReads implements LoopStore {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly writer: DatabaseSync;

  constructor(
    readonly path: string,
    private readonly bus: EventBus | null = null,
    migrations: Migration[] = loadMigrations(),
  ) {
    const writer = openWriter(path);
    try {
      migrate(writer, path, migrations);
    } catch (e) {
      writer.close();
      throw e;
    }
    super(openReader(path, writer));
    this.writer = writer;
  }

  /**
   * One writer, so one transaction at a time: the next waits for the previous to settle.
   * fn should await only store operations, so the write lock is never held across slow I/O.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const tx = begin(this.writer);
      try {
        const result = await fn(new SqliteTx(tx));
        commit(tx, this.bus);
        return result;
      } catch (e) {
        rollback(tx);
        throw e;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async appliedMigrations(): Promise<{ version: number; name: string }[]> {
    return appliedMigrations(this.db);
  }

  /** A PRAGMA's value on the writer (journal_mode, busy_timeout...), for the store's own tests. */
  pragma(name: string): unknown {
    return pragma(this.writer, name);
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.db.isOpen) this.db.close();
    if (this.writer.isOpen) this.writer.close();
  }
}
