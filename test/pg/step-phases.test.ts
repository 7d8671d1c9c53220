// migrations/postgres/0002_step_phases.sql on a real PostgreSQL: a database written at 0001 with
// steps in it gets the step_phases lookup table and the foreign key, its rows kept.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { openPool, type Pool } from '../../host/pg/connect.js';
import { loadPgMigrations, migratePg } from '../../host/pg/migrate.js';
import { STEP_PHASES } from '../../core/types.js';

const admin = () => inject('pgUrl');
const name = `loopd_t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
let pool: Pool;

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: admin() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await adminQuery(`CREATE DATABASE ${name}`);
  const u = new URL(admin());
  u.pathname = `/${name}`;
  pool = openPool(u.toString(), 4);
  // Written by a loopd that knew only 0001.
  await migratePg(pool, loadPgMigrations().filter((m) => m.version <= 1));
});
afterAll(async () => {
  await pool.end().catch(() => {});
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

async function insertStep(runId: string, phase: string): Promise<number> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO steps (run_id, phase, status, iteration, attempt, created_at, updated_at) VALUES ($1, $2, 'QUEUED', 1, 1, 1, 1) RETURNING id`,
    [runId, phase],
  );
  return Number(rows[0]!.id);
}

describe('0002_step_phases', () => {
  it('adds the lookup table and the foreign key, keeps the steps, refuses an unknown phase, and takes a new phase as one INSERT', async () => {
    const runId = randomUUID();
    await pool.query(
      `INSERT INTO runs (id, name, name_source, status, workspace_root, spec_path, base_branch, run_branch, merge_target_branch, merge_strategy,
                         worktree_path, worktree_provider, agent, config_json, origin, run_dir, created_at, updated_at)
       VALUES ($1, 'r', 'explicit', 'RUNNING', '/ws', 'spec.md', 'main', $2, 'main', 'merge', '/wt', 'git', 'claude', '{}', 'cli', '/run', 1, 1)`,
      [runId, `loop/${runId}`],
    );
    const ids = [await insertStep(runId, 'implementation'), await insertStep(runId, 'merge')];
    const before = (await pool.query('SELECT * FROM steps ORDER BY id')).rows;

    expect((await migratePg(pool)).applied).toContain('0002_step_phases.sql');

    expect((await pool.query('SELECT * FROM steps ORDER BY id')).rows).toEqual(before);
    const phases = (await pool.query<{ phase: string }>('SELECT phase FROM step_phases ORDER BY phase')).rows.map((r) => r.phase);
    expect(phases).toEqual([...STEP_PHASES].sort());
    await expect(insertStep(runId, 'bogus')).rejects.toThrow(/steps_phase_fkey/);
    await pool.query("INSERT INTO step_phases (phase) VALUES ('x')");
    expect(await insertStep(runId, 'x')).toBeGreaterThan(ids[1]!);
  });
});
