// What a handler and the transition rules see of a run, built from the store's decoded record.
// Shared by the dispatcher, the loop service and the review service, so none of them imports
// another's file for it.
import type { LoopConfig } from '../core/config.js';
import type { RunInput } from '../functions/types.js';
import type { RunRecord } from './store/types.js';
import type { TransitionConfig } from './transitions.js';

/** The run's frozen config (validated when the run was created; the store only decodes it). */
export function runConfig(run: Pick<RunRecord, 'config'>): LoopConfig {
  return run.config as unknown as LoopConfig;
}

export function runInput(run: RunRecord, truth?: { spec_text: string; plan_text: string | null } | undefined): RunInput {
  return {
    specText: truth?.spec_text ?? null,
    planText: truth?.plan_text ?? null,
    id: run.id,
    name: run.name,
    workspaceRoot: run.workspace_root,
    specPath: run.spec_path,
    planPath: run.plan_path,
    baseBranch: run.base_branch,
    runBranch: run.run_branch,
    mergeTargetBranch: run.merge_target_branch,
    mergeStrategy: run.merge_strategy as RunInput['mergeStrategy'],
    worktreePath: run.worktree_path,
    worktreeProvider: run.worktree_provider,
    runDir: run.run_dir,
    config: runConfig(run),
  };
}

export function transitionConfig(run: RunRecord): TransitionConfig {
  const cfg = runConfig(run);
  return {
    iterations: cfg.iterations,
    agentRetries: cfg.claude_retries,
    agentRetryBackoffSec: cfg.claude_retry_backoff_sec,
    transientRetries: cfg.transient_retries,
    mergeEnabled: run.merge_strategy !== 'none' && run.merge_target_branch !== null,
    reviewer: cfg.reviewer,
    verify: cfg.verify_cmds.length > 0,
    maxConsecutiveVerificationFailures: cfg.max_consecutive_verification_failures,
    maxConsecutiveReviewFailures: cfg.max_consecutive_review_failures,
    watchdogMaxRewrites: cfg.watchdog_max_rewrites,
    noProgressIterations: cfg.watchdog_no_progress_iterations,
  };
}

/** The agent kind a step of this phase runs, or null for phases that run no agent. */
export function agentKindFor(cfg: LoopConfig, phase: string): string | null {
  if (phase === 'implementation') return cfg.agent;
  if (phase === 'review') return cfg.reviewer_agent || cfg.agent;
  return null;
}
