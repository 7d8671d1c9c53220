// The review status a run shows: a reviewer's recorded decision wins; otherwise a run that merged
// itself counts as merged by loopd; otherwise it is pending.
import type { RunRecord, StepRecord, StoreReads } from './store/types.js';
import type { ReviewView } from './views.js';

export async function reviewView(store: Pick<StoreReads, 'getReview'>, run: RunRecord, steps: readonly StepRecord[]): Promise<ReviewView> {
  const decided = await store.getReview(run.id);
  if (decided) return { status: decided.status, actor: decided.actor, at: decided.updated_at, automatic: false, detail: decided.detail };
  const merged = [...steps].reverse().find((s) => s.phase === 'merge' && s.status === 'SUCCEEDED');
  const res = merged?.result ?? null;
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
