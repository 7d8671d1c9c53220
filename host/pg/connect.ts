// Opening the shared PostgreSQL database: the URL check, the pool, and one transaction helper.
// BIGINT columns (epoch ms, sequence numbers) are returned as JS numbers: every value loopd stores
// fits in 2^53, and the rest of the code compares them as numbers.
import pg from 'pg';
import { checkDatabaseUrl } from './url.js';

export { checkDatabaseUrl };

pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

export function openPool(url: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString: checkDatabaseUrl(url), max, application_name: 'loopd' });
  // An idle client losing its connection (the server restarted) must not crash the daemon; the
  // next query gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}

/** Runs fn in one transaction on one connection; any throw rolls it back. */
export async function inTx<T>(pool: Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  // A connection whose ROLLBACK failed may still hold the failed transaction open: back in the
  // pool, the next transaction's BEGIN would only warn and its COMMIT would commit both. It is
  // closed instead (release with an error); the pool opens a fresh one when needed.
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw e;
  } finally {
    c.release(broken);
  }
}
