// The file work after a run's end: summary.json, the run row of report.tsv, the mirror to the
// global run dir, the worktree cleanup. Owed work is a fact in the database (runs.finalized_at),
// so a restarted daemon, or another host, finishes it. Files are written outside any transaction;
// their artifact rows and finalized_at land together in one afterwards.
import { existsSync } from 'node:fs';
import { runFiles } from '../../core/artifact-names.js';
import { checksumFile, mirrorDir, writeSummary, type Summary } from '../../core/artifacts.js';
import { appendReport } from '../../core/report.js';
import { ledgerCounts } from '../../core/ledger.js';
import { isTerminalRunStatus } from '../../core/types.js';
import { removeRunWorktree } from '../../core/worktree.js';
import { runConfig } from '../run-input.js';
import type { ArtifactRecord, RunRecord, StepRecord, StoreReads } from '../store/types.js';
import { errorText, inTx, type DispatchContext } from './context.js';

const SUMMARY_REASONS = new Set(['complete_plan', 'iterations_exhausted', 'claude_failed', 'agent_failed', 'canceled']);

/** summary.json keeps the coarse categories (claude_failed:auth is claude_failed); the precise reason goes to exit_detail. */
export function summaryExitReason(reason: string | null): string {
  const coarse = reason?.split(':')[0] ?? null;
  return coarse && SUMMARY_REASONS.has(coarse) ? coarse : 'failed';
}

type NewArtifact = Omit<ArtifactRecord, 'id'>;

/** The artifact row of a file as it is now, or null when it vanished (not worth failing over). */
export function artifactOf(run: RunRecord, stepId: number | null, kind: string, path: string): NewArtifact | null {
  try {
    const { checksum, bytes } = checksumFile(path);
    const g = run.global_run_dir;
    return { run_id: run.id, step_id: stepId, kind, location: g !== null && path.startsWith(g) ? 'global' : 'workspace', path, checksum, bytes };
  } catch {
    return null;
  }
}

/**
 * Writes an ended run's summary and marks it finalised, when that is owed. Idempotent (files by
 * rename, artifact rows upserted). Returns the run when this call finalised it, for the cleanup.
 */
export async function finaliseRun(ctx: DispatchContext, runId: string): Promise<RunRecord | null> {
  const run = await ctx.store.getRun(runId);
  if (!run || !isTerminalRunStatus(run.status) || run.finalized_at !== null) return null;
  try {
    const artifacts = await writeRunFiles(ctx.store, run);
    await inTx(ctx, async (tx) => {
      for (const a of artifacts) await tx.recordArtifact(a);
      await tx.markFinalized(run.id, ctx.clock.now());
    }, `finalising run ${run.id}`);
  } catch (e) {
    ctx.log?.(`writing the summary of run ${run.id} failed: ${errorText(e)}`, { level: 'error', runId: run.id });
  }
  return run;
}

/** Removes an ended run's worktree when its config asks for it (worktree_cleanup). */
export async function cleanupWorktree(ctx: DispatchContext, run: RunRecord): Promise<void> {
  if (!runConfig(run).worktree_cleanup || !existsSync(run.worktree_path)) return;
  try {
    await removeRunWorktree({
      provider: run.worktree_provider === 'worktrunk' ? 'worktrunk' : 'git',
      repoRoot: run.workspace_root,
      branch: run.run_branch,
      path: run.worktree_path,
    });
    await inTx(ctx, (tx) => tx.appendEvent(run.id, null, 'WORKTREE_REMOVED', { path: run.worktree_path }));
  } catch (e) {
    ctx.log?.(`worktree cleanup failed for ${run.id}: ${String(e)}`, { level: 'warn', runId: run.id });
  }
}

/** After a restart: every ended run whose file work is owed, page by page (oldest pages too). */
export async function finaliseOwed(ctx: DispatchContext, pageSize = ctx.finalisePageSize): Promise<number> {
  let done = 0;
  for (let cursor: string | undefined; ; ) {
    const page = await ctx.store.runsToFinalize(pageSize, cursor);
    for (const run of page) await ctx.finalise(run.id);
    done += page.length;
    if (page.length < pageSize) return done;
    cursor = page[page.length - 1]!.id;
  }
}

async function writeRunFiles(store: StoreReads, run: RunRecord): Promise<NewArtifact[]> {
  const steps = await store.stepsForRun(run.id);
  const tasks = await store.ledgerFor(run.id);
  const completion = (await store.getRunTruth(run.id))?.completion ?? null;
  const summary = summarize(run, steps, tasks.length > 0 ? ledgerCounts(tasks) : null, completion);
  // Every ending gets a report row, so report.tsv exists even for a run canceled before it began.
  const files = runFiles(run.run_dir);
  appendReport(run.run_dir, {
    at: summary.end_ms,
    kind: 'run',
    iteration: summary.iterations_run,
    durationMs: summary.total_duration_ms,
    exitCode: summary.last_exit_code,
    outputPath: files.summary,
    outputBytes: null,
    outputLines: null,
    message: `${run.status}: ${run.exit_reason ?? 'failed'}${run.last_error && run.status !== 'COMPLETED' ? ` (${run.last_error})` : ''}`,
    tasksDone: summary.tasks_done,
    tasksTotal: summary.tasks_total,
    usage: { costUsd: run.cost_usd, inputTokens: run.input_tokens, outputTokens: run.output_tokens },
  });
  const out = [artifactOf(run, null, 'report', files.report), artifactOf(run, null, 'summary', writeSummary(run.run_dir, summary))];
  const g = run.global_run_dir;
  if (g && g !== run.run_dir) for (const copied of mirrorDir(run.run_dir, g)) out.push(artifactOf(run, null, 'mirror', copied));
  return out.filter((a): a is NewArtifact => a !== null);
}

function summarize(run: RunRecord, steps: StepRecord[], ledger: { total: number; open: number } | null, completion: string | null): Summary {
  const cfg = runConfig(run);
  const impl = steps.filter((s) => s.phase === 'implementation' && s.ended_at !== null);
  const iterations = new Set(impl.map((s) => s.iteration));
  const lastImpl = impl[impl.length - 1];
  const lastResult = lastImpl?.result ?? null;
  const durations = impl.filter((s) => s.started_at !== null).map((s) => s.ended_at! - s.started_at!);
  const merge = [...steps].reverse().find((s) => s.phase === 'merge' && s.status === 'SUCCEEDED');
  const start = run.started_at ?? run.created_at;
  const end = run.ended_at ?? Date.now();
  const files = runFiles(run.run_dir);
  return {
    run_id: run.id,
    run_name: run.name,
    status: run.status,
    start_ms: start,
    end_ms: end,
    total_duration_ms: end - start,
    iterations_run: iterations.size,
    completed_iteration: run.status === 'COMPLETED' && lastImpl ? lastImpl.iteration : null,
    avg_duration_ms: durations.length ? Math.round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
    last_exit_code: lastImpl?.exit_code ?? null,
    completion_mode: cfg.completion_mode,
    model: cfg.model,
    exit_reason: summaryExitReason(run.exit_reason),
    exit_detail: run.exit_reason ?? 'failed',
    tasks_done: ledger ? ledger.total - ledger.open : typeof lastResult?.tasksDone === 'number' ? lastResult.tasksDone : null,
    tasks_total: ledger ? ledger.total : typeof lastResult?.tasksTotal === 'number' ? lastResult.tasksTotal : null,
    completion,
    cost_usd: run.cost_usd,
    input_tokens: run.input_tokens,
    output_tokens: run.output_tokens,
    last_error: run.last_error,
    run_branch: run.run_branch,
    merge_target_branch: run.merge_target_branch,
    merge_commit: merge ? ((merge.result?.commit as string | null | undefined) ?? null) : null,
    run_log: lastImpl?.output_path ?? null,
    report: files.report,
    prompt_snapshot: existsSync(files.prompt) ? files.prompt : null,
    last_iteration_log: lastImpl?.output_path ?? null,
    last_iteration_tail: typeof lastResult?.tailPath === 'string' ? lastResult.tailPath : null,
  };
}
