// The run page's checklist: where a run stands in its life, from the daemon's recorded facts
// (steps and events), never from the agent's claims.
// Types straight from the router (not ./api.js), so unit tests can load this file without a DOM.
import type { EventType } from '../../core/events.js';
import type { EventView, RunDetail } from '../../router/index.js';

export type ItemState = 'done' | 'active' | 'failed' | 'off' | 'todo';

export interface LifecycleItem {
  key: 'worktree' | 'iterations' | 'verifications' | 'reviews' | 'merge' | 'cleanup';
  label: string;
  state: ItemState;
  detail: string;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELED']);

export function lifecycle(run: RunDetail, events: EventView[]): LifecycleItem[] {
  // EventType, not string: a misspelt or removed event type is a compile error, not a silent "todo".
  const has = (type: EventType) => events.some((e) => e.type === type);
  const count = (type: EventType) => events.filter((e) => e.type === type).length;
  const ended = ENDED.has(run.status);
  const cfg = run.config as { reviewer?: boolean; verify_cmds?: unknown[] };
  const items: LifecycleItem[] = [];

  items.push({
    key: 'worktree',
    label: 'Worktree',
    state: has('WORKTREE_READY') ? 'done' : ended ? 'failed' : run.status === 'PENDING' ? 'todo' : 'active',
    detail: has('WORKTREE_READY') ? `${run.runBranch} at ${run.worktreePath}` : ended ? 'never created' : 'waiting to start',
  });

  const impl = run.steps.filter((s) => s.phase === 'implementation');
  const iterations = new Set(impl.map((s) => s.iteration)).size;
  const implActive = impl.some((s) => s.status === 'IN_PROGRESS' || s.status === 'QUEUED');
  items.push({
    key: 'iterations',
    label: 'Iterations',
    state: implActive ? 'active' : iterations === 0 ? (ended ? 'off' : 'todo') : ended && run.status !== 'COMPLETED' ? 'failed' : 'done',
    detail: `${iterations} of at most ${String((run.config as { iterations?: number }).iterations ?? '?')}${run.tasksTotal !== null ? `, ${run.tasksDone ?? 0}/${run.tasksTotal} tasks done` : ''}`,
  });

  const passed = count('VERIFY_PASSED');
  const failed = count('VERIFY_FAILED');
  const verifyActive = run.steps.some((s) => s.phase === 'verification' && (s.status === 'IN_PROGRESS' || s.status === 'QUEUED'));
  const noVerify = !cfg.verify_cmds || cfg.verify_cmds.length === 0;
  items.push({
    key: 'verifications',
    label: 'Verifications',
    state: noVerify ? 'off' : verifyActive ? 'active' : passed + failed === 0 ? (ended ? 'off' : 'todo') : failed > 0 && passed === 0 ? 'failed' : 'done',
    detail: noVerify ? 'no verify_cmds' : `${passed} passed, ${failed} failed`,
  });

  const approved = count('REVIEW_APPROVED');
  const rejected = count('REVIEW_REJECTED');
  const reviewActive = run.steps.some((s) => s.phase === 'review' && (s.status === 'IN_PROGRESS' || s.status === 'QUEUED'));
  items.push({
    key: 'reviews',
    label: 'Reviews',
    state: cfg.reviewer === false ? 'off' : reviewActive ? 'active' : approved + rejected === 0 ? (ended ? 'off' : 'todo') : rejected > 0 && approved === 0 ? 'failed' : 'done',
    detail: cfg.reviewer === false ? 'reviewer off' : `${approved} approved, ${rejected} rejected`,
  });

  const rv = run.review;
  const target = typeof rv.detail.target === 'string' ? rv.detail.target : run.mergeTargetBranch;
  let merge: LifecycleItem;
  if (rv.status === 'merged') merge = { key: 'merge', label: 'Merge', state: 'done', detail: `into ${target ?? '?'} by ${rv.actor ?? '?'}${rv.automatic ? ' (automatic)' : ''}` };
  else if (rv.status === 'pr_opened') merge = { key: 'merge', label: 'Merge', state: 'active', detail: `pull request ${String(rv.detail.url)}` };
  else if (rv.status === 'scrapped') merge = { key: 'merge', label: 'Merge', state: 'off', detail: `scrapped by ${rv.actor ?? '?'}` };
  else if (has('MERGE_CONFLICT')) merge = { key: 'merge', label: 'Merge', state: 'failed', detail: 'conflict: merge by hand after resolving it' };
  else if (run.mergeStrategy === 'none') merge = { key: 'merge', label: 'Merge', state: ended ? 'todo' : 'off', detail: 'automatic merge off: your decision' };
  else merge = { key: 'merge', label: 'Merge', state: run.steps.some((s) => s.phase === 'merge' && s.status === 'IN_PROGRESS') ? 'active' : 'todo', detail: `${run.mergeStrategy} into ${run.mergeTargetBranch ?? '?'}` };
  items.push(merge);

  const removed = has('WORKTREE_REMOVED') || rv.status === 'scrapped';
  items.push({
    key: 'cleanup',
    label: 'Cleanup',
    state: removed ? 'done' : ended ? 'todo' : 'off',
    detail: rv.status === 'scrapped' ? 'branch and worktree deleted' : removed ? 'worktree removed' : ended ? `worktree kept at ${run.worktreePath}` : 'after the run ends',
  });
  return items;
}
