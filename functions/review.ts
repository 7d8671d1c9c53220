// Review: a separate agent process judges the work since the last approved review. It is told
// exactly which tasks were ticked in that diff; APPROVED makes loopd itself (not an agent) turn
// exactly those into [R] and commit that on the run branch; anything else puts them back to [ ],
// is saved as review-NN.md and fed to the next implementation prompt. Tasks done before the run
// are never marked reviewed: no review saw their work.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { reviewFiles } from '../core/artifact-names.js';
import { writeFileAtomic } from '../core/artifacts.js';
import { appendReport } from '../core/report.js';
import { commitAll, diffSince, headCommit, worktreeStatus, type WorktreeStatus } from '../core/git.js';
import { changedPaths, discardedRef, parentOf, restoreBranch, runRef, setRef } from '../core/history.js';
import { ledgerCounts, pendingReview, setStates } from '../core/ledger.js';
import { buildReviewPrompt, isApproved } from '../core/review-prompt.js';
import { checkRunPlace } from '../core/run-place.js';
import { agentOutcome, runAgent } from './agent-step.js';
import { readRegular } from './judge.js';
import type { Handler, HandlerInput } from './types.js';

export const review: Handler<'review'> = async (input) => {
  const { run, step, sink } = input;
  const started = input.adopt?.startedAt ?? Date.now();
  mkdirSync(run.runDir, { recursive: true });
  const { prompt: promptPath, diff: diffPath, log: logPath, exit: exitPath, notes: notesPath } = reviewFiles(run.runDir, step.iteration, step.attempt);
  const planFile = run.planPath ? join(run.worktreePath, run.planPath) : null;

  const placed = await checkRunPlace(run, { worktree: true, checkBranch: false });
  if (placed) return { status: 'FAILED', error: placed.message, result: { fatal: true, failReason: placed.reason } };
  // One `git status` answers the branch check, HEAD and the dirty check before the reviewer. If it
  // cannot be read, the place check asks for the branch itself and HEAD is read on its own.
  const before = await worktreeStatus(run.worktreePath).catch(() => null);
  const gone = await checkRunPlace(run, before ? { worktree: true, branch: before.branch } : { worktree: true });
  if (gone) return { status: 'FAILED', error: gone.message, result: { fatal: true, failReason: gone.reason } };
  const headNow = async () => before?.head ?? (await headCommit(run.worktreePath));

  const from = reviewBase(input.history) ?? (await headNow());
  const pending = pendingReview(input.ledger);
  const headBefore = input.adopt?.commitBefore || (await headNow());
  // Files verification left behind are not the reviewer's doing.
  const dirtyBefore = !input.adopt && (before ? before.dirty : (await worktreeStatus(run.worktreePath)).dirty);
  if (!input.adopt) {
    const diff = await diffSince(run.worktreePath, from, { clean: before !== null && !before.dirty });
    writeFileAtomic(diffPath, diff);
    writeFileAtomic(
      promptPath,
      buildReviewPrompt({
        specPath: join(run.worktreePath, run.specPath),
        planPath: planFile,
        diffPath,
        diff,
        iteration: step.iteration,
        ticked: pending.map((t) => ({ id: t.taskId, text: t.text })),
      }),
    );
    sink.artifact('review_prompt', promptPath);
  }

  const kind = run.config.reviewer_agent || run.config.agent;
  const agent = await runAgent(input, {
    kind,
    agentCmd: run.config.reviewer_cmd || run.config.agent_cmd,
    model: run.config.reviewer_model || run.config.model,
    promptPath,
    logPath,
    exitPath,
    commitBefore: headBefore,
    planBefore: null,
    env: {
      LOOP_PROMPT_FILE: promptPath,
      LOOP_RUN_ID: run.id,
      LOOP_RUN_DIR: run.runDir,
      LOOP_ITERATION: String(step.iteration),
      LOOP_PHASE: 'review',
      LOOP_SPEC_PATH: join(run.worktreePath, run.specPath),
      LOOP_PLAN_PATH: planFile ?? '',
      LOOP_DIFF_FILE: diffPath,
    },
  });
  sink.artifact('review_log', logPath);
  const outcome = agentOutcome(agent.exit, run.config.claude_timeout_sec, agent.parsed, kind);
  const common = {
    usage: agent.parsed.usage,
    exitCode: agent.exit.exitCode,
    promptPath,
    outputPath: logPath,
  };
  if (outcome.status !== 'SUCCEEDED') {
    return {
      ...common,
      status: outcome.status,
      error: outcome.error,
      result: { ...outcome.facts, timedOut: agent.exit.timedOut, outputBytes: agent.outputBytes, outputTruncated: agent.cap?.truncated === true },
    };
  }

  // The reviewer only reads: anything it changed or committed is set aside (under refs/loopd/).
  // HEAD, the branch and leftovers in one `git status`.
  const after: WorktreeStatus | null = await worktreeStatus(run.worktreePath).catch(() => null);
  const head = after?.head ?? null;
  let moved = after === null || after.branch !== run.runBranch || head !== headBefore;
  // Re-run after a crash: loopd's own verdict commit (the plan alone, on top of the head before the
  // reviewer) may already be there; it is redone below, not the reviewer's doing.
  if (moved && input.adopt && head && run.planPath && (await parentOf(run.worktreePath, head)) === headBefore) {
    const paths = await changedPaths(run.worktreePath, headBefore, head);
    if (paths.length === 1 && paths[0] === run.planPath) moved = false;
  }
  const restored = moved || (!dirtyBefore && after !== null && after.dirty);
  if (restored) {
    if (head && head !== headBefore) await setRef(run.worktreePath, discardedRef(run.id, step.id, 'review'), head);
    await restoreBranch(run.worktreePath, run.runBranch, headBefore);
    sink.event('REVIEWER_CHANGES_DISCARDED', { iteration: step.iteration, head, restoredTo: headBefore });
  }

  const approved = isApproved(agent.parsed.text);
  const ids = pending.map((t) => t.taskId);
  let ledger = input.ledger;
  const plan = planFile ? readRegular(planFile) : null;
  let verdictCommit: string | null = null;
  if (ids.length > 0 && plan !== null && planFile) {
    const verdict = setStates(input.ledger, plan, ids, approved ? 'reviewed' : 'open');
    ledger = verdict.ledger;
    if (verdict.plan !== plan) writeFileAtomic(planFile, verdict.plan);
    // Committed even when the plan already had the marks: a daemon that died between writing the
    // plan and committing it re-runs this step and must still get them onto the branch.
    const msg = approved
      ? `loopd: review approved iteration ${step.iteration} (${ids.length} task${ids.length === 1 ? '' : 's'} [R])`
      : `loopd: review rejected iteration ${step.iteration} (${ids.length} task${ids.length === 1 ? '' : 's'} back to [ ])`;
    // The tree was clean (or just put back) and the plan now differs: there is something to commit.
    const changed = verdict.plan !== plan && (restored || (after !== null && !after.dirty));
    verdictCommit = await commitAll(run.worktreePath, msg, { changed });
  }
  const reviewed = approved ? ids.length : 0;
  if (approved) {
    sink.event('REVIEW_APPROVED', { iteration: step.iteration, reviewed, tasks: ids });
  } else {
    writeFileAtomic(
      notesPath,
      `# Review of iteration ${step.iteration}: changes requested\n\n${ids.length > 0 ? `Tasks put back to [ ]: ${pending.map((t) => `task ${t.taskId} "${t.text}"`).join(', ')}\n\n` : ''}${agent.parsed.text.trim()}\n`,
    );
    sink.artifact('review_notes', notesPath);
    sink.event('REVIEW_REJECTED', { iteration: step.iteration, notesPath, reopened: ids });
  }
  // The verdict commit, else the head put back, else the head the status saw (nothing moved it since).
  const headAfter = verdictCommit ?? (restored ? headBefore : head) ?? (await headCommit(run.worktreePath));
  await setRef(run.worktreePath, runRef(run.id), headAfter);
  const lc = ledger.length > 0 ? ledgerCounts(ledger) : null;
  const reportPath = appendReport(run.runDir, {
    kind: 'review',
    iteration: step.iteration,
    durationMs: Date.now() - started,
    exitCode: agent.exit.exitCode,
    outputPath: logPath,
    outputBytes: agent.outputBytes,
    outputLines: agent.outputLines,
    message: approved ? `approved (${reviewed} marked [R])` : `changes requested: ${notesPath}`,
    tasksDone: lc ? lc.total - lc.open : null,
    tasksTotal: lc ? lc.total : null,
    usage: agent.parsed.usage,
  });
  sink.artifact('report', reportPath);
  return {
    ...common,
    status: 'SUCCEEDED',
    error: null,
    ...(ids.length > 0 ? { ledger } : {}),
    result: {
      approved,
      reviewed,
      tasks: ids,
      notesPath: approved ? null : notesPath,
      headAfter,
      openTasks: lc ? lc.open : 0,
      unreviewedTasks: lc ? lc.pendingReview : 0,
      tasksDone: lc ? lc.total - lc.open : null,
      tasksTotal: lc ? lc.total : null,
    },
  };
};

/**
 * Where the reviewed diff starts: the head after the last approved review, else the head the
 * first implementation started from. So a review sees all the work no review approved yet.
 */
export function reviewBase(history: HandlerInput['history']): string | null {
  const approved = [...history].reverse().find((h) => h.phase === 'review' && h.status === 'SUCCEEDED' && h.result?.approved === true && typeof h.result?.headAfter === 'string');
  if (approved) return approved.result!.headAfter as string;
  const first = history.find((h) => h.phase === 'implementation' && typeof h.result?.commitBefore === 'string' && h.result.commitBefore !== '');
  return first ? (first.result!.commitBefore as string) : null;
}
