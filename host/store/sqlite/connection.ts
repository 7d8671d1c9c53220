// The two connections of the embedded store and its write transactions.
//
// The writer holds every transaction. Reads outside a transaction go to a second, read-only
// connection: in WAL mode each of its statements sees the last committed snapshot, so it never
// sees the writes of a transaction still open on the writer (which may be awaiting between its
// operations), and it never waits on the write lock, whoever holds it (this daemon or another
// process, host/busy.ts).
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BUSY_TIMEOUT_MS, isBusy, StoreBusyError } from '../../busy.js';
import type { EventBus } from '../../bus.js';
import type { EventRow } from './rows.js';

export type Params = Record<string, SQLInputValue>;

/** The writer inside an open transaction: its connection and the events to publish after COMMIT. */
export interface WriteTx {
  readonly db: DatabaseSync;
  readonly pending: EventRow[];
}

export function openWriter(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  return db;
}

/**
 * Opened after the writer has migrated the database (WAL mode is then a property of the file).
 * An in-memory database is private to its connection, so there the writer also serves the reads.
 */
export function openReader(path: string, writer: DatabaseSync): DatabaseSync {
  if (path === ':memory:') return writer;
  return new DatabaseSync(path, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
}

/** BEGIN IMMEDIATE, or StoreBusyError when another process holds the write lock (the caller retries). */
export function begin(db: DatabaseSync): WriteTx {
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (e) {
    throw isBusy(e) ? new StoreBusyError(e) : e;
  }
  return { db, pending: [] };
}

/** COMMIT, then the transaction's events: a subscriber never hears of a change that was rolled back. */
export function commit(tx: WriteTx, bus: EventBus | null): void {
  tx.db.exec('COMMIT');
  for (const ev of tx.pending.splice(0)) bus?.publish(ev);
}

export function rollback(tx: WriteTx): void {
  tx.pending.length = 0;
  if (tx.db.isTransaction) tx.db.exec('ROLLBACK');
}

/** A PRAGMA's value (journal_mode, busy_timeout...), for the checks of the store's own tests. */
export function pragma(db: DatabaseSync, name: string): unknown {
  const row = db.prepare(`PRAGMA ${name.replace(/[^a-z_]/g, '')}`).get() as Record<string, unknown> | undefined;
  return row ? Object.values(row)[0] : undefined;
}

const prepared = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

/**
 * Statements kept per connection. The texts are the store's own, with placeholders for every value;
 * only their shape varies (an IN list's length, the columns an update sets), so the set stays small,
 * and this bound only guards against a caller that would build texts without end.
 */
const MAX_PREPARED = 512;

/**
 * A statement prepared once per connection: every store call used to prepare its SQL again, ~20-60
 * statements per agent call. node:sqlite resets a statement and clears its bindings after each use,
 * and SQLite prepares it again by itself after a schema change (a migration).
 */
export function cached(db: DatabaseSync, sql: string): StatementSync {
  let stmts = prepared.get(db);
  if (!stmts) prepared.set(db, (stmts = new Map()));
  let stmt = stmts.get(sql);
  if (!stmt) {
    if (stmts.size >= MAX_PREPARED) stmts.clear();
    stmts.set(sql, (stmt = db.prepare(sql)));
  }
  return stmt;
}
