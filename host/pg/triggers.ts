// The watch trigger's decision on PostgreSQL (LoopStore.claimSpecChange). Several hosts may watch
// the same workspace and all see the same save; the decision "this content of this spec makes run
// X" is one conditional upsert on the spec's row, so exactly one host's transaction wins and keeps
// its run, the others get false and roll theirs back. A concurrent claimer waits on the row lock
// (or on the unique key of a row being inserted) and then sees the winner's committed content.
import type { Client, Pool } from './connect.js';

export interface SpecClaim {
  workspace_root: string;
  path: string;
  content_hash: string;
  run_id: string;
}

export async function claimSpecChange(c: Pick<Client | Pool, 'query'>, claim: SpecClaim): Promise<boolean> {
  await c.query(
    `INSERT INTO workspaces (root, watched, created_at, updated_at) VALUES ($1, 0, loopd_now_ms(), loopd_now_ms())
     ON CONFLICT (root) DO NOTHING`,
    [claim.workspace_root],
  );
  const { rowCount } = await c.query(
    `INSERT INTO spec_files (workspace_root, path, content_hash, status, last_run_id, created_at, updated_at)
     VALUES ($1, $2, $3, 'triggered', $4, loopd_now_ms(), loopd_now_ms())
     ON CONFLICT (workspace_root, path) DO UPDATE SET content_hash = EXCLUDED.content_hash, status = 'triggered',
       last_run_id = EXCLUDED.last_run_id, updated_at = loopd_now_ms()
       WHERE NOT (spec_files.status = 'triggered' AND spec_files.content_hash = EXCLUDED.content_hash)`,
    [claim.workspace_root, claim.path, claim.content_hash, claim.run_id],
  );
  return rowCount === 1;
}
