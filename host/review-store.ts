// Persistence of review decisions (migration 0004). The decision and its event are written in one
// transaction by the caller (see ReviewService); these are the row-level reads and writes.
import type { Store } from './store.js';
import type { ReviewStatus } from './views.js';

export interface ReviewRow {
  run_id: string;
  status: Exclude<ReviewStatus, 'pending'>;
  actor: string;
  detail_json: string;
  created_at: number;
  updated_at: number;
}

export function getReview(store: Store, runId: string): ReviewRow | undefined {
  return store.db.prepare('SELECT * FROM run_reviews WHERE run_id = ?').get(runId) as ReviewRow | undefined;
}

/** Must run inside store.tx, together with the decision's event. */
export function putReview(store: Store, runId: string, status: ReviewRow['status'], actor: string, detail: Record<string, unknown>): ReviewRow {
  const now = Date.now();
  store.db
    .prepare(
      `INSERT INTO run_reviews (run_id, status, actor, detail_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, actor = excluded.actor, detail_json = excluded.detail_json,
         updated_at = excluded.updated_at`,
    )
    .run(runId, status, actor, JSON.stringify(detail), now, now);
  return getReview(store, runId)!;
}
