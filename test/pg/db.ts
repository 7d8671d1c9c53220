// A fresh, migrated database per test file on the test cluster, so files run in parallel: a copy of
// the template the global setup migrated (test/pg/global-setup.ts).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openPool, type Pool } from '../../host/pg/connect.js';

export async function freshDatabase(): Promise<{ url: string; pool: Pool; drop: () => Promise<void> }> {
  const admin = inject('pgUrl');
  const name = `loopd_t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')} STRATEGY FILE_COPY`); // tiny databases: ~40 % cheaper to copy and drop than WAL_LOG's block-by-block copy
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = openPool(url, 20);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end().catch(() => {}); // a test may have ended it already
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

let runCounter = 0;

/** A RUNNING run with its first step queued, the minimum the claim tests need. */
export async function seedRun(pool: Pool, o: { workspace?: string; agent?: string; target?: string | null; phase?: string; status?: string } = {}): Promise<{ runId: string; stepId: number }> {
  const runId = randomUUID();
  const ws = o.workspace ?? '/srv/ws';
  runCounter++;
  await pool.query(
    `INSERT INTO runs (id, name, name_source, status, workspace_root, spec_path, base_branch, run_branch, merge_target_branch, merge_strategy,
                       worktree_path, worktree_provider, agent, config_json, origin, run_dir, created_at, updated_at)
     VALUES ($1, $2, 'explicit', $3, $4, 'spec.md', 'main', $5, $6, 'merge', '/tmp/wt', 'git', $7, '{}', 'cli', '/tmp/run', loopd_now_ms(), loopd_now_ms())`,
    [runId, `run-${runCounter}`, o.status ?? 'RUNNING', ws, `loop/${runId}`, o.target === undefined ? 'main' : o.target, o.agent ?? 'claude'],
  );
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO steps (run_id, phase, status, iteration, attempt, created_at, updated_at)
     VALUES ($1, $2, 'QUEUED', 1, 1, loopd_now_ms(), loopd_now_ms()) RETURNING id`,
    [runId, o.phase ?? 'implementation'],
  );
  return { runId, stepId: rows[0]!.id };
}

/** Polls probe every `everyMs` until it answers truthy; the deadline only matters when a test fails. */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, limitMs = 60_000, everyMs = 50): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
