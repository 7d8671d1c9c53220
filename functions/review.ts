// Review: a separate agent process judges the iteration's diff. APPROVED makes loopd itself (not
// an agent) turn the reviewed [x] tasks into [R] and commit that on the run branch; anything else
// is saved as review-NN.md and fed to the next implementation prompt.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendReportRow, iterName, writeFileAtomic } from '../core/artifacts.js';
import { commitEverything, diffSince, headCommit } from '../core/git.js';
import { markReviewed, parsePlan } from '../core/plan.js';
import { buildReviewPrompt, isApproved } from '../core/review-prompt.js';
import { checkRunPlace } from '../core/run-place.js';
import { agentOutcome, findStep, runAgent } from './agent-step.js';
import type { Handler } from './types.js';

export const review: Handler<'review'> = async (input) => {
  const { run, step, sink } = input;
  const started = input.adopt?.startedAt ?? Date.now();
  const nn = iterName(step.iteration);
  const suffix = step.attempt > 1 ? `.attempt-${step.attempt}` : '';
  mkdirSync(run.runDir, { recursive: true });
  const promptPath = join(run.runDir, `review-${nn}${suffix}.prompt.txt`);
  const diffPath = join(run.runDir, `review-${nn}.diff`);
  const logPath = join(run.runDir, `review-${nn}${suffix}.log`);
  const exitPath = join(run.runDir, `.review-${nn}${suffix}.exit`);
  const notesPath = join(run.runDir, `review-${nn}.md`);
  const planFile = run.planPath ? join(run.worktreePath, run.planPath) : null;

  const gone = await checkRunPlace(run, { worktree: true });
  if (gone) return { status: 'FAILED', error: gone.message, result: { fatal: true, failReason: gone.reason } };

  const impl = findStep(input.history, 'implementation', step.iteration, 'SUCCEEDED');
  const from = typeof impl?.result?.commitBefore === 'string' && impl.result.commitBefore ? impl.result.commitBefore : await headCommit(run.worktreePath);
  if (!input.adopt) {
    const diff = await diffSince(run.worktreePath, from);
    writeFileAtomic(diffPath, diff);
    writeFileAtomic(
      promptPath,
      buildReviewPrompt({ specPath: join(run.worktreePath, run.specPath), planPath: planFile, diffPath, diff, iteration: step.iteration }),
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
    commitBefore: from,
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

  const approved = isApproved(agent.parsed.text);
  let reviewed = 0;
  let plan = planFile && existsSync(planFile) ? readFileSync(planFile, 'utf8') : null;
  if (approved && plan !== null && planFile) {
    const done = parsePlan(plan).tasks.filter((t) => t.marker === 'done');
    if (done.length > 0) {
      plan = markReviewed(plan, done.map((t) => t.line));
      writeFileAtomic(planFile, plan);
      reviewed = done.length;
    }
    // Committed even when nothing was left to mark: a daemon that died between writing the plan
    // and committing it re-runs this step and must still get the [R] marks onto the branch.
    await commitEverything(run.worktreePath, `loopd: review approved iteration ${step.iteration} (${reviewed} task${reviewed === 1 ? '' : 's'} [R])`);
  }
  if (approved) {
    sink.event('REVIEW_APPROVED', { iteration: step.iteration, reviewed });
  } else {
    writeFileAtomic(notesPath, `# Review of iteration ${step.iteration}: changes requested\n\n${agent.parsed.text.trim()}\n`);
    sink.artifact('review_notes', notesPath);
    sink.event('REVIEW_REJECTED', { iteration: step.iteration, notesPath });
  }
  const counts = plan !== null ? parsePlan(plan).counts : null;
  const reportPath = appendReportRow(run.runDir, {
    timestamp_ms: Date.now(),
    kind: 'review',
    iteration: step.iteration,
    duration_ms: Date.now() - started,
    exit_code: agent.exit.exitCode,
    output_bytes: agent.outputBytes,
    output_lines: agent.outputLines,
    output_path: logPath,
    message: approved ? `approved (${reviewed} marked [R])` : `changes requested: ${notesPath}`,
    tasks_done: counts ? counts.done + counts.reviewed : null,
    tasks_total: counts ? counts.total : null,
    cost_usd: agent.parsed.usage?.costUsd ?? null,
    input_tokens: agent.parsed.usage?.inputTokens ?? null,
    output_tokens: agent.parsed.usage?.outputTokens ?? null,
  });
  sink.artifact('report', reportPath);
  return {
    ...common,
    status: 'SUCCEEDED',
    error: null,
    result: {
      approved,
      reviewed,
      notesPath: approved ? null : notesPath,
      openTasks: counts ? counts.open : 0,
      unreviewedTasks: counts ? counts.done : 0,
      tasksDone: counts ? counts.done + counts.reviewed : null,
      tasksTotal: counts ? counts.total : null,
    },
  };
};
