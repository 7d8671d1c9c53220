// The watch trigger's decision on PostgreSQL. Several hosts may watch the same workspace and all
// see the same save; the decision "this content of this spec makes a run" is one conditional
// upsert, so exactly one host's transaction wins and creates the run, the others get false.
import type { Client } from './connect.js';

export async function claimSpecChange(c: Client, workspaceRoot: string, path: string, contentHash: string): Promise<boolean> {
  await c.query(
    `INSERT INTO workspaces (root, watched, created_at, updated_at) VALUES ($1, 1, loopd_now_ms(), loopd_now_ms())
     ON CONFLICT (root) DO NOTHING`,
    [workspaceRoot],
  );
  const { rowCount } = await c.query(
    `INSERT INTO spec_files (workspace_root, path, content_hash, status, created_at, updated_at)
     VALUES ($1, $2, $3, 'triggered', loopd_now_ms(), loopd_now_ms())
     ON CONFLICT (workspace_root, path) DO UPDATE SET content_hash = EXCLUDED.content_hash, status = 'triggered', updated_at = loopd_now_ms()
       WHERE spec_files.content_hash <> EXCLUDED.content_hash`,
    [workspaceRoot, path, contentHash],
  );
  return rowCount === 1;
}
