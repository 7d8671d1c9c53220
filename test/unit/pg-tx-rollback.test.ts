import { describe, expect, it } from 'vitest';
import { inTx, type Pool } from '../../host/pg/connect.js';

/** A pool of one fake connection: records the SQL it is sent and how it is given back. */
function fakePool(failOn: Set<string>) {
  const sent: string[] = [];
  const released: (Error | undefined)[] = [];
  const client = {
    query: async (sql: string) => {
      sent.push(sql);
      if (failOn.has(sql)) throw new Error(`${sql} failed`);
      return { rows: [] };
    },
    release: (err?: Error) => void released.push(err),
  };
  const pool = { connect: async () => client } as unknown as Pool;
  return { pool, sent, released };
}

describe('inTx', () => {
  it('commits and gives the connection back to the pool', async () => {
    const { pool, sent, released } = fakePool(new Set());
    expect(await inTx(pool, async (c) => (await c.query('SELECT 1'), 'done'))).toBe('done');
    expect(sent).toEqual(['BEGIN', 'SELECT 1', 'COMMIT']);
    expect(released).toEqual([undefined]);
  });

  it('rolls back on a throw and still gives a healthy connection back', async () => {
    const { pool, sent, released } = fakePool(new Set());
    await expect(inTx(pool, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(sent).toEqual(['BEGIN', 'ROLLBACK']);
    expect(released).toEqual([undefined]);
  });

  it('closes a connection whose ROLLBACK failed instead of pooling an open transaction', async () => {
    const { pool, released } = fakePool(new Set(['ROLLBACK']));
    await expect(inTx(pool, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(released).toHaveLength(1);
    expect(released[0]).toBeInstanceOf(Error);
    expect(released[0]?.message).toBe('ROLLBACK failed');
  });
});
