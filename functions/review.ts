// Review: a separate agent process judges the work since the last approved review. It is told
// exactly which tasks were ticked in that diff; APPROVED makes loopd itself (not an agent) turn
// exactly those into [R] and commit that on the run branch; anything else puts them back to [ ],
// is saved as review-NN.md and fed to the next implementation prompt. Tasks done before the run
// are never marked reviewed: no review saw their work.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { reviewFiles as reviewFileNames } from '../core/artifact-names.js';
import { writeFileAtomic } from '../core/artifacts.js';
import { appendReport } from '../core/report.js';
import { headCommit, worktreeStatus, type WorktreeStatus } from '../core/git.js';
import type { WaitResult } from '../core/agents/process.js';
import { runRef, setRef } from '../core/history.js';
import { ledgerCounts } from '../core/ledger.js';
import { isApproved } from '../core/review-prompt.js';
import { traceMark } from '../core/trace.js';
import type { AgentKind } from '../core/agents/kinds/index.js';
import { agentOutcome, runAgent, runDirOutsideWorktree, type AgentRun } from './agent-step.js';
import { beforeReviewer, commitVerdict, planOf, setAsideReviewerChanges, type ReviewFiles } from './review-steps.js';
import type { Handler, HandlerInput } from './types.js';

export { reviewBase } from './review-steps.js';

function reviewFiles(input: HandlerInput): ReviewFiles {
  const { run, step } = input;
  return { ...reviewFileNames(run.runDir, step.iteration, step.attempt), plan: run.planPath ? join(run.worktreePath, run.planPath) : null };
}

export const review: Handler<'review'> = async (input) => {
  const { run, step, sink } = input;
  const started = input.adopt?.startedAt ?? Date.now();
  mkdirSync(run.runDir, { recursive: true });
  const files = reviewFiles(input);
  const before = await beforeReviewer(input, files);
  traceMark(step.id, 'prepared');
  if ('failed' in before) return before.failed;

  const kind = run.config.reviewer_agent || run.config.agent;
  // What the reviewer left is read as soon as its processes are gone, beside the output read.
  let after: Promise<WorktreeStatus | null> | null = null;
  const onEnded = (exit: WaitResult): void => {
    if (!exit.canceled && runDirOutsideWorktree(run)) after = worktreeStatus(run.worktreePath).catch(() => null);
  };
  const agent = await runReviewer(input, files, kind, before.headBefore, onEnded);
  sink.artifact('review_log', files.log);
  const outcome = agentOutcome(agent.exit, run.config.claude_timeout_sec, agent.parsed, kind);
  const common = { usage: agent.parsed.usage, exitCode: agent.exit.exitCode, promptPath: files.prompt, outputPath: files.log };
  if (outcome.status !== 'SUCCEEDED') {
    // Not needed then, but not left running past the step either.
    await after;
    return {
      ...common,
      status: outcome.status,
      error: outcome.error,
      result: { ...outcome.facts, timedOut: agent.exit.timedOut, outputBytes: agent.outputBytes, outputTruncated: agent.cap?.truncated === true },
    };
  }

  const put = await setAsideReviewerChanges(input, before, after);
  traceMark(step.id, 'git facts');
  const approved = isApproved(agent.parsed.text);
  const ids = before.pending.map((t) => t.taskId);
  const plan = planOf(run, files.plan);
  const verdict = ids.length > 0 && plan ? await commitVerdict(input, plan, before.pending, approved, put.clean) : null;
  const ledger = verdict?.ledger ?? input.ledger;
  traceMark(step.id, 'verdict committed');
  const reviewed = approved ? ids.length : 0;
  if (approved) {
    sink.event('REVIEW_APPROVED', { iteration: step.iteration, reviewed, tasks: ids });
  } else {
    const reopened = ids.length > 0 ? `Tasks put back to [ ]: ${before.pending.map((t) => `task ${t.taskId} "${t.text}"`).join(', ')}\n\n` : '';
    writeFileAtomic(files.notes, `# Review of iteration ${step.iteration}: changes requested\n\n${reopened}${agent.parsed.text.trim()}\n`);
    sink.artifact('review_notes', files.notes);
    sink.event('REVIEW_REJECTED', { iteration: step.iteration, notesPath: files.notes, reopened: ids });
  }
  // The verdict commit, else the head put back, else the head the status saw (nothing moved it since).
  const headAfter = verdict?.commit ?? (put.restored ? before.headBefore : put.head) ?? (await headCommit(run.worktreePath));
  await setRef(run.worktreePath, runRef(run.id), headAfter);
  traceMark(step.id, 'ref set');
  const lc = ledger.length > 0 ? ledgerCounts(ledger) : null;
  appendReviewRow(input, agent, started, lc, approved ? `approved (${reviewed} marked [R])` : `changes requested: ${files.notes}`, files.log);
  return {
    ...common,
    status: 'SUCCEEDED',
    error: null,
    ...(ids.length > 0 ? { ledger } : {}),
    result: {
      approved,
      reviewed,
      tasks: ids,
      notesPath: approved ? null : files.notes,
      headAfter,
      openTasks: lc ? lc.open : 0,
      unreviewedTasks: lc ? lc.pendingReview : 0,
      tasksDone: lc ? lc.total - lc.open : null,
      tasksTotal: lc ? lc.total : null,
    },
  };
};

/** The reviewer agent itself, with the review's files and environment. */
function runReviewer(input: HandlerInput, files: ReviewFiles, kind: AgentKind, headBefore: string, onEnded: (exit: WaitResult) => void): ReturnType<typeof runAgent> {
  const { run, step } = input;
  return runAgent(input, {
    onEnded,
    kind,
    agentCmd: run.config.reviewer_cmd || run.config.agent_cmd,
    model: run.config.reviewer_model || run.config.model,
    promptPath: files.prompt,
    logPath: files.log,
    exitPath: files.exit,
    commitBefore: headBefore,
    planBefore: null,
    env: {
      LOOP_PROMPT_FILE: files.prompt,
      LOOP_RUN_ID: run.id,
      LOOP_RUN_DIR: run.runDir,
      LOOP_ITERATION: String(step.iteration),
      LOOP_PHASE: 'review',
      LOOP_SPEC_PATH: join(run.worktreePath, run.specPath),
      LOOP_PLAN_PATH: files.plan ?? '',
      LOOP_DIFF_FILE: files.diff,
    },
  });
}

function appendReviewRow(input: HandlerInput, agent: AgentRun, started: number, lc: ReturnType<typeof ledgerCounts> | null, message: string, logPath: string): void {
  const reportPath = appendReport(input.run.runDir, {
    kind: 'review',
    iteration: input.step.iteration,
    durationMs: Date.now() - started,
    exitCode: agent.exit.exitCode,
    outputPath: logPath,
    outputBytes: agent.outputBytes,
    outputLines: agent.outputLines,
    message,
    tasksDone: lc ? lc.total - lc.open : null,
    tasksTotal: lc ? lc.total : null,
    usage: agent.parsed.usage,
  });
  input.sink.artifact('report', reportPath);
}
