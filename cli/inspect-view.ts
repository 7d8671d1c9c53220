// The `loopctl inspect` text, shared by the oclif command and the fast path.
import type { RunDetail } from '../router/index.js';
import { formatDuration, formatTime, renderTable } from './format.js';
import { escapeControls } from './text.js';

/** Lines of `  key            value`, skipping empty values. */
class Fields {
  readonly out: string[] = [];
  field(k: string, v: string | number | null | undefined): void {
    if (v !== null && v !== undefined && v !== '') this.out.push(`  ${k.padEnd(14)} ${typeof v === 'string' ? escapeControls(v) : v}`);
  }
}

export async function renderDetail(r: RunDetail): Promise<string[]> {
  return [
    `run ${r.id} (short ${r.shortId})`,
    ...summary(r),
    '',
    'files',
    ...files(r),
    '',
    'branches',
    ...branches(r),
    '',
    'artifacts',
    ...artifacts(r),
    '',
    'usage',
    ...usage(r),
    ...tasks(r),
    '',
    'steps',
    ...(await steps(r)),
  ];
}

function summary(r: RunDetail): string[] {
  const f = new Fields();
  f.field('name', `${r.name} (${r.nameSource})`);
  f.field('status', r.status === 'PAUSED' ? `PAUSED (${pauseReasonText(r.pauseReason)})` : r.status);
  f.field('phase', r.phase ? `${r.phase}, iteration ${r.iteration}` : `iteration ${r.iteration}`);
  const reviewed = r.tasksReviewed !== null && r.tasksReviewed !== undefined ? `, ${r.tasksReviewed} reviewed` : '';
  f.field('tasks', r.tasksTotal === null ? null : `${r.tasksDone ?? 0}/${r.tasksTotal} done${reviewed}`);
  f.field('origin', r.origin);
  f.field('created', formatTime(r.createdAt));
  f.field('started', r.startedAt === null ? null : formatTime(r.startedAt));
  f.field('ended', r.endedAt === null ? null : formatTime(r.endedAt));
  if (r.startedAt !== null) f.field('duration', formatDuration((r.endedAt ?? Date.now()) - r.startedAt));
  f.field('exit reason', r.exitReason);
  f.field('completion', r.completion);
  f.field('last error', r.lastError);
  return f.out;
}

function files(r: RunDetail): string[] {
  const f = new Fields();
  f.field('workspace', r.workspaceRoot);
  f.field('spec', r.specPath);
  f.field('plan', r.planPath);
  return f.out;
}

function branches(r: RunDetail): string[] {
  const f = new Fields();
  f.field('base', r.baseBranch);
  f.field('run', r.runBranch);
  f.field('merge target', r.mergeTargetBranch ? `${r.mergeTargetBranch} (${r.mergeStrategy})` : `none (${r.mergeStrategy})`);
  f.field('worktree', r.worktreePath);
  f.field('provider', r.worktreeProvider);
  f.field('review', reviewText(r.review));
  return f.out;
}

function artifacts(r: RunDetail): string[] {
  const f = new Fields();
  f.field('run dir', r.runDir);
  f.field('global dir', r.globalRunDir);
  // With artifact_mode=mirror the global copies repeat the workspace files; a count is enough.
  const local = r.artifacts.filter((x) => x.location === 'workspace');
  const global = r.artifacts.filter((x) => x.location === 'global');
  for (const a of local.length > 0 ? local : global) f.field(a.kind, a.path);
  if (local.length > 0 && global.length > 0) {
    f.field('mirrored', `${global.length} file${global.length === 1 ? '' : 's'} in the global dir`);
  }
  return f.out;
}

function usage(r: RunDetail): string[] {
  const f = new Fields();
  const cap = typeof r.config.max_cost_usd === 'number' && r.config.max_cost_usd > 0 ? ` of max $${r.config.max_cost_usd.toFixed(2)}` : '';
  f.field('cost', `$${r.costUsd.toFixed(4)}${cap}`);
  f.field('tokens', `${r.inputTokens} in, ${r.outputTokens} out`);
  return f.out;
}

/** The ledger, not the plan file: what loopd itself recorded about each task. None for an older daemon. */
function tasks(r: RunDetail): string[] {
  const list = r.tasks ?? [];
  if (list.length === 0) return [];
  const mark = { open: '[ ]', blocked: '[~]', done: '[x]', reviewed: '[R]' } as const;
  return [
    '',
    'tasks',
    ...list.map((t) => {
      const when = t.doneBeforeRun ? 'done before the run' : t.tickedIteration !== null ? `ticked in iteration ${t.tickedIteration}` : '';
      const added = t.addedIteration !== null ? `added in iteration ${t.addedIteration}` : '';
      const note = [when, added].filter(Boolean).join(', ');
      return `  ${String(t.id).padStart(3)} ${mark[t.state]} ${oneLine(t.text, 80)}${note ? `  (${note})` : ''}`;
    }),
  ];
}

async function steps(r: RunDetail): Promise<string[]> {
  if (r.steps.length === 0) return ['  none yet'];
  const rows = r.steps.map((s) => [
    s.id,
    s.iteration,
    s.phase,
    s.status,
    s.attempt,
    s.exitCode ?? '',
    s.startedAt !== null && s.endedAt !== null ? formatDuration(s.endedAt - s.startedAt) : '',
    stepCost(s),
    s.error ? escapeControls(oneLine(s.error, 60)) : '',
  ]);
  const table = await renderTable(['STEP', 'ITER', 'PHASE', 'STATUS', 'TRY', 'EXIT', 'TIME', 'COST', 'ERROR'], rows);
  return table.split('\n').map((line) => `  ${line}`);
}

/** "$0.0123 (1,200/300 tok)"; "~" marks a cost computed from tokens and the price table. */
export function stepCost(s: Pick<RunDetail['steps'][number], 'costUsd' | 'inputTokens' | 'outputTokens' | 'costSource'>): string {
  if (s.costUsd === null || s.costUsd === undefined) return '';
  const approx = s.costSource === 'estimated' ? '~' : s.costSource === 'unpriced' ? '?' : '';
  return `${approx}$${s.costUsd.toFixed(4)} (${s.inputTokens ?? 0}/${s.outputTokens ?? 0} tok)`;
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Why a run is PAUSED: the daemon's reason, glossed when it is one of the known ones. */
export function pauseReasonText(reason: string | null): string {
  switch (reason) {
    case null:
    case '':
      return 'no reason recorded';
    case 'user':
      return 'user: paused by request';
    case 'budget_exceeded':
      return 'budget_exceeded: cost reached max_cost_usd';
    default:
      return reason;
  }
}

/** "merged into review/x by loopctl (alice) at 2026-...", "pending". */
function reviewText(rv: RunDetail['review']): string {
  if (rv.status === 'pending') return 'pending (loopctl diff, merge, scrap or pr)';
  const what =
    rv.status === 'merged'
      ? `merged into ${String(rv.detail.target ?? '?')}${rv.automatic ? ' (automatic)' : ''}`
      : rv.status === 'pr_opened'
        ? `pull request ${String(rv.detail.url ?? '?')}`
        : 'scrapped (branch and worktree deleted)';
  return `${what} by ${rv.actor ?? '?'}${rv.at ? ` at ${formatTime(rv.at)}` : ''}`;
}
