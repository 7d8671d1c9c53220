// Where runs live and what they leave: workspaces, the spec files the watcher saw, artifacts, and
// review decisions.
import type { DatabaseSync } from 'node:sqlite';
import type { WriteTx } from './connection.js';
import type { ArtifactRow, ReviewRow, SpecFileRow, WorkspaceRow } from './rows.js';
import { cached } from './connection.js';

export function upsertArtifact(tx: WriteTx, a: Omit<ArtifactRow, 'id'>): void {
  const now = Date.now();
  cached(tx.db, 
      `INSERT INTO artifacts (run_id, step_id, kind, location, path, checksum, bytes, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, location, path) DO UPDATE SET checksum = excluded.checksum, bytes = excluded.bytes,
         step_id = excluded.step_id, kind = excluded.kind, updated_at = excluded.updated_at`,
    )
    .run(a.run_id, a.step_id, a.kind, a.location, a.path, a.checksum, a.bytes, now, now);
}

export function artifactsForRun(db: DatabaseSync, runId: string): ArtifactRow[] {
  return cached(db, 'SELECT id, run_id, step_id, kind, location, path, checksum, bytes FROM artifacts WHERE run_id = ? ORDER BY id').all(runId) as unknown as ArtifactRow[];
}

export function ensureWorkspace(tx: WriteTx, root: string): void {
  const now = Date.now();
  cached(tx.db, 'INSERT INTO workspaces (root, watched, created_at, updated_at) VALUES (?, 0, ?, ?) ON CONFLICT (root) DO NOTHING').run(root, now, now);
}

export function getWorkspace(db: DatabaseSync, root: string): WorkspaceRow | undefined {
  return cached(db, 'SELECT * FROM workspaces WHERE root = ?').get(root) as WorkspaceRow | undefined;
}

export function listWorkspaces(db: DatabaseSync, filter: { watched?: boolean } = {}): WorkspaceRow[] {
  if (filter.watched === undefined) return cached(db, 'SELECT * FROM workspaces ORDER BY root').all() as unknown as WorkspaceRow[];
  return cached(db, 'SELECT * FROM workspaces WHERE watched = ? ORDER BY root').all(filter.watched ? 1 : 0) as unknown as WorkspaceRow[];
}

export function setWatched(tx: WriteTx, root: string, watched: boolean): WorkspaceRow {
  ensureWorkspace(tx, root);
  cached(tx.db, 'UPDATE workspaces SET watched = ?, updated_at = ? WHERE root = ?').run(watched ? 1 : 0, Date.now(), root);
  return getWorkspace(tx.db, root)!;
}

export function getSpecFile(db: DatabaseSync, root: string, path: string): SpecFileRow | undefined {
  return cached(db, 'SELECT * FROM spec_files WHERE workspace_root = ? AND path = ?').get(root, path) as SpecFileRow | undefined;
}

export function listSpecFiles(db: DatabaseSync, root: string): SpecFileRow[] {
  return cached(db, 'SELECT * FROM spec_files WHERE workspace_root = ? ORDER BY path').all(root) as unknown as SpecFileRow[];
}

export function upsertSpecFile(
  tx: WriteTx,
  row: { workspace_root: string; path: string; content_hash: string; status: string; last_run_id?: string | null },
): SpecFileRow {
  const now = Date.now();
  const existing = getSpecFile(tx.db, row.workspace_root, row.path);
  const lastRun = row.last_run_id === undefined ? (existing?.last_run_id ?? null) : row.last_run_id;
  cached(tx.db, 
      `INSERT INTO spec_files (workspace_root, path, content_hash, status, last_run_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (workspace_root, path) DO UPDATE SET content_hash = excluded.content_hash, status = excluded.status,
         last_run_id = excluded.last_run_id, updated_at = excluded.updated_at`,
    )
    .run(row.workspace_root, row.path, row.content_hash, row.status, lastRun, now, now);
  return getSpecFile(tx.db, row.workspace_root, row.path)!;
}

/** The trigger's decision (LoopStore.claimSpecChange): false when this content was triggered already. */
export function claimSpecChange(tx: WriteTx, c: { workspace_root: string; path: string; content_hash: string; run_id: string }): boolean {
  const row = getSpecFile(tx.db, c.workspace_root, c.path);
  if (row && row.status === 'triggered' && row.content_hash === c.content_hash) return false;
  ensureWorkspace(tx, c.workspace_root);
  upsertSpecFile(tx, { workspace_root: c.workspace_root, path: c.path, content_hash: c.content_hash, status: 'triggered', last_run_id: c.run_id });
  return true;
}

export function getReview(db: DatabaseSync, runId: string): ReviewRow | undefined {
  return cached(db, 'SELECT * FROM run_reviews WHERE run_id = ?').get(runId) as ReviewRow | undefined;
}

export function putReview(tx: WriteTx, runId: string, status: ReviewRow['status'], actor: string, detail: Record<string, unknown>): ReviewRow {
  const now = Date.now();
  cached(tx.db, 
      `INSERT INTO run_reviews (run_id, status, actor, detail_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, actor = excluded.actor, detail_json = excluded.detail_json,
         updated_at = excluded.updated_at`,
    )
    .run(runId, status, actor, JSON.stringify(detail), now, now);
  return getReview(tx.db, runId)!;
}
