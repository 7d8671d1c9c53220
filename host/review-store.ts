// Persistence of review decisions (migration 0004). The decision and its event are written in one
// transaction by the caller (see ReviewService); these are the row-level reads and writes.
import type { ReviewRow, Store } from './store.js';

export type { ReviewRow };

export function getReview(store: Store, runId: string): ReviewRow | undefined {
  return store.getReview(runId);
}

/** Must run inside store.tx, together with the decision's event. */
export function putReview(store: Store, runId: string, status: ReviewRow['status'], actor: string, detail: Record<string, unknown>): ReviewRow {
  return store.putReview(runId, status, actor, detail);
}
