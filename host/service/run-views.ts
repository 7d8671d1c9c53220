// Views: what the API shows of runs, steps, events and workspaces, built from the store's decoded
// records. Pure reads; nothing here writes.
import type { StoreReads, EventRecord, RunRecord, StepRecord } from '../store/types.js';
import { runConfig } from '../run-input.js';
import { reviewView } from '../review-view.js';
import type { EventView, RunDetail, RunView, StepView, WorkspaceView } from '../views.js';

/** Task counts: the ledger is the truth; older runs without one fall back to what the last step counted. */
function taskCounts(steps: readonly StepRecord[], ledger: { total: number; open: number } | null): Pick<RunView, 'tasksDone' | 'tasksTotal' | 'tasksReviewed'> {
  const lastImpl = [...steps].reverse().find((s) => s.phase === 'implementation' && s.result);
  const res = lastImpl?.result ?? null;
  // The newest plan count any phase took (implementation, review): review turns [x] into [R].
  const counted = [...steps].reverse().find((s) => typeof s.result?.tasksTotal === 'number')?.result ?? null;
  return {
    tasksDone: ledger && ledger.total > 0 ? ledger.total - ledger.open : typeof res?.tasksDone === 'number' ? res.tasksDone : null,
    tasksTotal: ledger && ledger.total > 0 ? ledger.total : typeof res?.tasksTotal === 'number' ? res.tasksTotal : null,
    tasksReviewed:
      typeof counted?.tasksDone === 'number' && typeof counted.unreviewedTasks === 'number' ? Math.max(0, counted.tasksDone - counted.unreviewedTasks) : null,
  };
}

export async function runView(store: StoreReads, run: RunRecord, stepsIn?: StepRecord[]): Promise<RunView> {
  const steps = stepsIn ?? (await store.stepsForRun(run.id));
  const last = steps[steps.length - 1];
  const ledger = await store.ledgerSummary(run.id);
  return {
    id: run.id,
    shortId: await store.shortRunId(run.id),
    name: run.name,
    nameSource: run.name_source,
    status: run.status,
    workspaceRoot: run.workspace_root,
    specPath: run.spec_path,
    planPath: run.plan_path,
    baseBranch: run.base_branch,
    runBranch: run.run_branch,
    mergeTargetBranch: run.merge_target_branch,
    mergeStrategy: run.merge_strategy,
    worktreePath: run.worktree_path,
    worktreeProvider: run.worktree_provider,
    origin: run.origin,
    exitReason: run.exit_reason,
    pauseReason: run.pause_reason,
    lastError: run.last_error,
    createdAt: run.created_at,
    updatedAt: run.updated_at,
    startedAt: run.started_at,
    endedAt: run.ended_at,
    iteration: last?.iteration ?? 0,
    phase: last?.phase ?? null,
    ...taskCounts(steps, ledger),
    completion: ledger?.completion ?? null,
    runDir: run.run_dir,
    globalRunDir: run.global_run_dir,
    costUsd: run.cost_usd,
    inputTokens: run.input_tokens,
    outputTokens: run.output_tokens,
    review: await reviewView(store, run, steps),
  };
}

export async function runDetail(store: StoreReads, run: RunRecord): Promise<RunDetail> {
  const steps = await store.stepsForRun(run.id);
  return {
    ...(await runView(store, run, steps)),
    tasks: (await store.ledgerFor(run.id)).map((t) => ({
      id: t.taskId,
      text: t.text,
      section: t.section,
      state: t.state,
      doneBeforeRun: t.doneBeforeRun,
      addedIteration: t.addedIteration,
      tickedIteration: t.tickedIteration,
    })),
    steps: steps.map(stepView),
    artifacts: (await store.artifactsForRun(run.id)).map((a) => ({ kind: a.kind, location: a.location, path: a.path, checksum: a.checksum, bytes: a.bytes, stepId: a.step_id })),
    config: runConfig(run) as unknown as Record<string, unknown>,
  };
}

export function stepView(s: StepRecord): StepView {
  return {
    id: s.id,
    phase: s.phase,
    status: s.status,
    iteration: s.iteration,
    attempt: s.attempt,
    exitCode: s.exit_code,
    promptPath: s.prompt_path,
    outputPath: s.output_path,
    error: s.error,
    startedAt: s.started_at,
    endedAt: s.ended_at,
    result: s.result as Record<string, unknown> | null,
    costUsd: s.cost_usd ?? null,
    inputTokens: s.input_tokens ?? null,
    outputTokens: s.output_tokens ?? null,
    costSource: s.cost_source ?? null,
  };
}

export async function eventView(store: StoreReads, e: EventRecord): Promise<EventView> {
  const runShortId = e.runId ? await store.shortRunId(e.runId) : null;
  return { seq: e.seq, runId: e.runId, runShortId, stepId: e.stepId, type: e.type, ts: e.ts, payload: e.payload } as EventView;
}

export async function eventViews(store: StoreReads, rows: readonly EventRecord[]): Promise<EventView[]> {
  // A page of events names few runs: shorten each id once.
  const short = new Map<string, Promise<string>>();
  const shortOf = (id: string) => short.get(id) ?? short.set(id, store.shortRunId(id)).get(id)!;
  return Promise.all(
    rows.map(async (e) => ({ seq: e.seq, runId: e.runId, runShortId: e.runId ? await shortOf(e.runId) : null, stepId: e.stepId, type: e.type, ts: e.ts, payload: e.payload }) as EventView),
  );
}

export async function workspaceView(store: StoreReads, root: string): Promise<WorkspaceView> {
  const row = await store.getWorkspace(root);
  return {
    root,
    watched: row?.watched === true,
    runs: await store.countRuns(root),
    specs: (await store.listSpecFiles(root)).map((f) => ({ path: f.path, status: f.status, lastRunId: f.last_run_id, updatedAt: f.updated_at })),
    createdAt: row?.created_at ?? 0,
    updatedAt: row?.updated_at ?? 0,
  };
}
