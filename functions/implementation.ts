// One implementation iteration: the agent does one plan task in the run's worktree.
// The handler reports facts (exit code, token claim, open tasks, commits, similarity with the
// previous iteration); whether the run is complete is decided by the transition rules, never by
// the agent's word alone.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAgentOutput } from '../core/agents/kinds/index.js';
import { readTail, writeLastLines } from '../core/logfile.js';
import { checkRunPlace } from '../core/run-place.js';
import { implementationFiles, runFiles } from '../core/artifact-names.js';
import { appendReport } from '../core/report.js';
import { detectCompletion } from '../core/completion.js';
import { commitsSince, headCommit } from '../core/git.js';
import { planDigest } from '../core/plan.js';
import { outputSimilarity, SIMILARITY_WINDOW_BYTES, textTail } from '../core/signals.js';
import { traceMark } from '../core/trace.js';
import { agentOutcome, findStep, runAgent, runDirOutsideWorktree, type AgentRun } from './agent-step.js';
import type { WaitResult } from '../core/agents/process.js';
import { afterExitFacts, knownToJudge, planTallies, type AfterExitFacts } from './implementation-facts.js';
import { prepareImplementation, readPlan, WorktreePrepareError } from './implementation-prepare.js';
import { judgeImplementation } from './judge.js';
import { diffAheadPath, keepDiffAhead, startDiffAhead, type StartedDiff } from './review-diff-ahead.js';
import { reviewBase } from './review-steps.js';
import type { Handler, HandlerInput, RunInput } from './types.js';

export { prepareWorktree, promptExtrasFor } from './implementation-prepare.js';

/** The attempt's own files plus the run's latest prompt (the snapshot summary.json points at). */
function iterationFiles(run: RunInput, iteration: number, attempt: number) {
  const { prompt: iterPrompt, ...attemptFiles } = implementationFiles(run.runDir, iteration, attempt);
  return { ...attemptFiles, iterPrompt, prompt: runFiles(run.runDir).prompt };
}

function agentEnv(run: RunInput, iteration: number, promptPath: string): Record<string, string> {
  return {
    LOOP_PROMPT_FILE: promptPath,
    LOOP_RUN_ID: run.id,
    LOOP_RUN_DIR: run.runDir,
    LOOP_ITERATION: String(iteration),
    LOOP_PHASE: 'implementation',
    LOOP_SPEC_PATH: join(run.worktreePath, run.specPath),
    LOOP_PLAN_PATH: run.planPath ? join(run.worktreePath, run.planPath) : '',
  };
}

/**
 * Similarity with the previous iteration's output feeds the repeated_task signal. It compares only
 * the ends of both outputs, so the previous log is read with that window, not the parsers' 4 MiB.
 */
function similarityWithPrevious(input: HandlerInput, run: RunInput, text: string): number | null {
  const prev = findStep(input.history, 'implementation', input.step.iteration - 1, 'SUCCEEDED');
  const prevLog = typeof prev?.result?.logPath === 'string' ? prev.result.logPath : null;
  if (!prevLog || !existsSync(prevLog)) return null;
  return outputSimilarity(parseAgentOutput(run.config.agent, readTail(prevLog, SIMILARITY_WINDOW_BYTES).text).text, text);
}

/** The agent's commits this iteration: the count read after exit holds unless loopd committed since. */
async function agentCommitCount(run: RunInput, commitBefore: string, facts: AfterExitFacts, commitAfter: string): Promise<number> {
  if (!commitBefore) return 0;
  if (facts.agentCommits !== null && facts.status !== null && commitAfter === facts.status.head) return facts.agentCommits;
  return commitsSince(run.worktreePath, commitBefore, commitAfter);
}

/**
 * The facts after the agent exited, once its place is confirmed. The agent (or someone) may have
 * deleted the worktree or the workspace: committing or judging anything there would be wrong, and
 * it is not an agent failure to retry. A read that fails here is simply taken again by the judge,
 * where its error is reported.
 */
async function settleAfterExit(
  run: RunInput,
  agent: EndedAgent,
  files: ReturnType<typeof iterationFiles>,
  commitBefore: string,
  taking: Promise<AfterExitFacts> | null,
): Promise<{ facts: AfterExitFacts } | { failed: { status: 'FAILED'; exitCode: number | null; outputPath: string; error: string; result: { fatal: true; failReason: string; logPath: string } } }> {
  const { exit } = agent;
  const placed = !exit.canceled && existsSync(run.workspaceRoot) && existsSync(run.worktreePath);
  const facts: AfterExitFacts = placed ? ((await taking) ?? (await afterExitFacts(run, commitBefore))) : { status: null, agentCommits: null };
  // A switched branch is not fatal here: the judge puts the run branch back (history_rewritten,
  // docs/truth.md).
  const moved = exit.canceled ? null : await checkRunPlace(run, { worktree: true, checkBranch: false });
  if (moved) {
    const result = { fatal: true as const, failReason: moved.reason, logPath: files.log };
    return { failed: { status: 'FAILED', exitCode: exit.exitCode, outputPath: files.log, error: moved.message, result } };
  }
  writeLastLines(agent.proc.logPath, files.tail, 200);
  return { facts };
}

/**
 * Whether the status taken after the agent still describes the worktree at the step's end: it saw
 * a clean tree on the run branch at commitAfter, and the judge changed nothing in the worktree
 * since. Not when the run directory is inside the worktree: the step writes its files there after
 * the status.
 */
function seenClean(run: RunInput, facts: AfterExitFacts, judgement: { touched?: boolean }, commitAfter: string): boolean {
  const st = facts.status;
  if (st === null || st.dirty || st.branch !== run.runBranch || st.head !== commitAfter || judgement.touched !== false) return false;
  return runDirOutsideWorktree(run);
}

/**
 * Runs the agent and takes from its output window what the step needs later (the completion claim,
 * the end the similarity compares), then lets the window go: it is up to 4 MiB, and held through
 * the judge's git work it was 4 MiB per run at every step end (five runs ending together: 20).
 */
async function runAndRead(input: HandlerInput, spec: Parameters<typeof runAgent>[1]): Promise<{ agent: EndedAgent; completion: ReturnType<typeof detectCompletion>; recentText: string }> {
  const { window: _window, parsed: { text, ...parsed }, ...ran } = await runAgent(input, spec);
  return { agent: { ...ran, parsed }, completion: detectCompletion(text, input.run.config.completion_mode), recentText: textTail(text, SIMILARITY_WINDOW_BYTES) };
}

/** The agent's run without its output window (runAndRead). */
type EndedAgent = Omit<AgentRun, 'window' | 'parsed'> & { parsed: Omit<AgentRun['parsed'], 'text'> };

export const implementation: Handler<'implementation'> = async (input) => {
  const { step, sink } = input;
  const started = input.adopt?.startedAt ?? Date.now();
  mkdirSync(input.run.runDir, { recursive: true });
  const files = iterationFiles(input.run, step.iteration, step.attempt);

  // Not the agent's failure: say what is really wrong instead of "agent exited with code 1".
  const gone = await checkRunPlace(input.run, { worktree: false });
  traceMark(step.id, 'place checked');
  if (gone) return { status: 'FAILED', error: gone.message, result: { fatal: true, failReason: gone.reason } };
  let prepared: Awaited<ReturnType<typeof prepareImplementation>>;
  try {
    prepared = await prepareImplementation(input, { prompt: files.prompt, iterPrompt: files.iterPrompt });
  } catch (e) {
    // Retried like an ordinary failure (a lock a live git held may be gone by then), then the run fails as worktree_failed.
    if (e instanceof WorktreePrepareError) return { status: 'FAILED', error: e.message, result: { failReason: 'worktree_failed' } };
    throw e;
  }
  const { run, runPatch, commitBefore, planBefore } = prepared;
  traceMark(step.id, 'prepared');
  const spec = { kind: run.config.agent, agentCmd: run.config.agent_cmd, model: run.config.model, promptPath: files.iterPrompt, logPath: files.log, exitPath: files.exit };
  // The git facts are taken as soon as the agent's processes are gone, beside the output read.
  let taking: Promise<AfterExitFacts> | null = null;
  // And the diff a review right after this step would need (review-diff-ahead.ts).
  let diffing: StartedDiff | null = null;
  const onEnded = (ended: WaitResult): void => {
    if (!ended.canceled && existsSync(run.workspaceRoot) && existsSync(run.worktreePath) && runDirOutsideWorktree(run)) {
      taking = afterExitFacts(run, commitBefore);
      // Awaited below; a failure before that must not count as unhandled.
      taking.catch(() => undefined);
      if (ended.exitCode === 0 && !ended.timedOut) diffing = startDiffAhead(run, reviewBase(input.history), commitBefore);
    }
  };
  const { agent, completion, recentText } = await runAndRead({ ...input, run }, { ...spec, commitBefore, planBefore, env: agentEnv(run, step.iteration, files.iterPrompt), onEnded });
  const { parsed, exit } = agent;
  const patch = runPatch ? { runPatch } : {};

  const settled = await settleAfterExit(run, agent, files, commitBefore, taking);
  traceMark(step.id, 'git facts');
  if ('failed' in settled) {
    const result = { ...settled.failed.result, durationMs: Date.now() - started };
    return { ...settled.failed, promptPath: files.iterPrompt, usage: parsed.usage, ...patch, result };
  }
  const { facts } = settled;
  sink.artifact('iteration_log', files.log);
  sink.artifact('iteration_tail', files.tail);
  const judgement = await judgeImplementation({
    run,
    worktree: run.worktreePath,
    stepId: step.id,
    iteration: step.iteration,
    commitBefore,
    planBefore,
    ledger: input.ledger,
    judgementPath: files.judgement,
    sink,
    ...knownToJudge(facts),
  });
  traceMark(step.id, 'judged');
  const planAfter = readPlan(run.worktreePath, run.planPath);
  const tallies = planTallies(run, judgement.ledger ?? input.ledger, planAfter);
  const commitAfter = judgement.finalHead ?? (await headCommit(run.worktreePath));
  const cleanAt = seenClean(run, facts, judgement, commitAfter) ? commitAfter : null;
  // A review follows only work that changed more than the plan.
  const diffAhead = await keepDiffAhead(judgement.codeChanged ? diffing : null, cleanAt, diffAheadPath(run.runDir, step.iteration));
  const commits = await agentCommitCount(run, commitBefore, facts, commitAfter);
  const planChanged = (planBefore === null ? null : planDigest(planBefore)) !== (planAfter === null ? null : planDigest(planAfter));
  const durationMs = Date.now() - started;
  const outcome = agentOutcome(exit, run.config.claude_timeout_sec, parsed, run.config.agent);
  const similarity = similarityWithPrevious(input, run, recentText);
  appendIterationRow(input, agent, { durationMs, logPath: files.log, message: outcome.error ?? (completion.claimed ? 'claimed complete' : 'ok'), tallies });

  return {
    ...(judgement.ledger ? { ledger: judgement.ledger } : {}),
    status: outcome.status,
    exitCode: exit.exitCode,
    promptPath: files.iterPrompt,
    outputPath: files.log,
    error: outcome.error,
    usage: parsed.usage,
    ...patch,
    result: {
      claimed: completion.claimed,
      malformed: completion.malformed,
      ...tallies,
      ticked: judgement.ticked,
      added: judgement.added,
      codeChanged: judgement.codeChanged,
      tampering: judgement.tampering,
      loopdNotes: judgement.notes,
      commits,
      commitBefore,
      commitAfter,
      cleanAt,
      ...(diffAhead ? { diffAhead } : {}),
      planChanged,
      similarity,
      timedOut: exit.timedOut,
      durationMs,
      ...outcome.facts,
      outputBytes: agent.outputBytes,
      outputTruncated: agent.cap?.truncated === true,
      logPath: files.log,
      tailPath: files.tail,
    },
  };
};

function appendIterationRow(
  input: HandlerInput,
  agent: EndedAgent,
  o: { durationMs: number; logPath: string; message: string; tallies: ReturnType<typeof planTallies> },
): void {
  const reportPath = appendReport(input.run.runDir, {
    kind: 'implementation',
    iteration: input.step.iteration,
    durationMs: o.durationMs,
    exitCode: agent.exit.exitCode,
    outputPath: o.logPath,
    outputBytes: agent.outputBytes,
    outputLines: agent.outputLines,
    message: o.message,
    tasksDone: o.tallies.tasksDone,
    tasksTotal: o.tallies.tasksTotal,
    usage: agent.parsed.usage,
  });
  input.sink.artifact('report', reportPath);
}
