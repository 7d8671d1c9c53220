// The review status a run shows: a reviewer's recorded decision wins; otherwise a run that merged
// itself counts as merged by loopd; otherwise it is pending.
import { getReview } from './review-store.js';
import type { RunRow, StepRow, Store } from './store.js';
import type { ReviewView } from './views.js';

export function reviewView(store: Store, run: RunRow, steps: StepRow[]): ReviewView {
  const row = getReview(store, run.id);
  if (row) {
    return { status: row.status, actor: row.actor, at: row.updated_at, automatic: false, detail: JSON.parse(row.detail_json) as Record<string, unknown> };
  }
  const merged = [...steps].reverse().find((s) => s.phase === 'merge' && s.status === 'SUCCEEDED');
  const res = merged?.result_json ? (JSON.parse(merged.result_json) as Record<string, unknown>) : null;
  if (merged && (res?.mergeStatus === 'merged' || res?.mergeStatus === 'already_merged')) {
    return {
      status: 'merged',
      actor: 'loopd',
      at: merged.ended_at,
      automatic: true,
      detail: { target: run.merge_target_branch, strategy: run.merge_strategy, commit: res.commit ?? null },
    };
  }
  return { status: 'pending', actor: null, at: null, automatic: false, detail: {} };
}
