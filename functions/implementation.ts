// One implementation iteration: the agent does one plan task in the run's worktree.
// The handler reports facts (exit code, token claim, open tasks, commits, similarity with the
// previous iteration); whether the run is complete is decided by the transition rules, never by
// the agent's word alone.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseAgentOutput } from '../core/agents/adapters.js';
import { readTail } from '../core/logfile.js';
import { checkRunPlace } from '../core/run-place.js';
import { implementationFiles, runFiles } from '../core/artifact-names.js';
import { lastLines, writeFileAtomic } from '../core/artifacts.js';
import { appendReport } from '../core/report.js';
import { detectCompletion } from '../core/completion.js';
import { aheadBehind, commitsSince, commitAll, headCommit, worktreeStatus, type WorktreeStatus } from '../core/git.js';
import { ledgerCounts } from '../core/ledger.js';
import { parsePlan, planDigest } from '../core/plan.js';
import { buildPrompt } from '../core/prompt.js';
import { outputSimilarity } from '../core/signals.js';
import { ensureRunWorktree } from '../core/worktree.js';
import { agentOutcome, findStep, runAgent } from './agent-step.js';
import { judgeImplementation, readRegular } from './judge.js';
import type { Handler, HandlerInput, RunInput } from './types.js';

/**
 * Makes sure the worktree exists and holds the workspace's spec and plan. Safe to repeat. Returns
 * its path, and its HEAD commit when that was read on the way (null: the caller reads it).
 */
export async function prepareWorktree(input: HandlerInput): Promise<{ path: string; head: string | null }> {
  const { run, step, sink } = input;
  const wt = await ensureRunWorktree({
    provider: run.worktreeProvider === 'worktrunk' ? 'worktrunk' : 'git',
    repoRoot: run.workspaceRoot,
    branch: run.runBranch,
    path: run.worktreePath,
    base: run.baseBranch,
  });
  if (!wt.reused) sink.event('WORKTREE_READY', { path: wt.path, branch: run.runBranch, base: run.baseBranch, provider: run.worktreeProvider });
  // Only before any agent touched the worktree; a step re-run after a crash still gets it.
  const agentRanBefore = input.history.some((h) => h.phase === 'implementation' && h.result?.requeued !== true);
  const head = wt.head ?? null;
  if (step.iteration !== 1 || agentRanBefore) return { path: wt.path, head };
  // The user may not have committed the spec or plan yet: snapshot the workspace's versions into
  // the run branch so the agent works from what the user handed over.
  // The texts recorded at creation are what the ledger was parsed from; older runs copy the files.
  let copied = false;
  const files: [string | null, string | null | undefined][] = [
    [run.specPath, run.specText],
    [run.planPath, run.planText],
  ];
  for (const [rel, truth] of files) {
    if (!rel) continue;
    const src = join(run.workspaceRoot, rel);
    const dst = join(wt.path, rel);
    const content = truth ?? (existsSync(src) ? readFileSync(src, 'utf8') : null);
    if (content === null) continue;
    if (readRegular(dst) === content) continue;
    mkdirSync(dirname(dst), { recursive: true });
    // By rename: a committed symlink at dst is replaced, never written through.
    writeFileAtomic(dst, content);
    copied = true;
  }
  if (copied) {
    const commit = await commitAll(wt.path, `loopd: snapshot spec and plan for run ${run.name}`);
    sink.event('SPEC_SNAPSHOT', { spec: run.specPath, plan: run.planPath });
    return { path: wt.path, head: commit ?? null };
  }
  return { path: wt.path, head };
}

function readPlan(worktree: string, planPath: string | null): string | null {
  if (!planPath) return null;
  return readRegular(join(worktree, planPath));
}

function readPromptTemplate(run: RunInput): string | null {
  const configured = run.config.prompt_file;
  if (configured) {
    const p = isAbsolute(configured) ? configured : resolve(run.workspaceRoot, configured);
    if (!existsSync(p)) throw new Error(`prompt_file not found: ${p}`);
    return readFileSync(p, 'utf8');
  }
  const local = join(run.workspaceRoot, '.loop', 'prompt.txt');
  return existsSync(local) ? readFileSync(local, 'utf8') : null;
}

export interface PromptExtras {
  /** What loopd undid in the previous iteration, and why. */
  loopdNotes?: string[];
  runnerNotesPath?: string | null;
  reviewNotesPath?: string | null;
  rewrite?: string | null;
}

export function composePrompt(run: RunInput, iteration: number, extras: PromptExtras = {}): string {
  const contextFiles = run.config.context_files.map((f) => {
    const p = isAbsolute(f) ? f : resolve(run.workspaceRoot, f);
    if (!existsSync(p)) throw new Error(`context file not found: ${f} (context_files in the loop config)`);
    return { path: f, content: readFileSync(p, 'utf8') };
  });
  return buildPrompt({
    specPath: join(run.worktreePath, run.specPath),
    planPath: run.planPath ? join(run.worktreePath, run.planPath) : null,
    template: readPromptTemplate(run),
    contextFiles,
    loopdNotes: extras.loopdNotes ?? [],
    runnerNotesPath: extras.runnerNotesPath ?? null,
    reviewNotesPath: extras.reviewNotesPath ?? null,
    rewrite: extras.rewrite ?? null,
    completionMode: run.config.completion_mode,
    iteration,
  });
}

/** What the previous iteration left for this one: runner notes, review notes, a watchdog rewrite. */
export function promptExtrasFor(input: Pick<HandlerInput, 'history' | 'run'>, iteration: number): PromptExtras & { rewritePath: string | null } {
  const prev = iteration - 1;
  const verification = findStep(input.history, 'verification', prev);
  const review = findStep(input.history, 'review', prev);
  const watchdog = findStep(input.history, 'watchdog', prev, 'SUCCEEDED');
  const notes = runFiles(input.run.runDir).runnerNotes;
  // What loopd undid after the previous implementation and its verification.
  const undone = input.history.filter((h) => (h.phase === 'implementation' || h.phase === 'verification') && h.iteration === prev && Array.isArray(h.result?.loopdNotes));
  const latest = (phase: string) => [...undone].reverse().find((h) => h.phase === phase);
  const loopdNotes = [latest('implementation'), latest('verification')].flatMap((h) => (h?.result?.loopdNotes as string[] | undefined) ?? []);
  return {
    loopdNotes,
    runnerNotesPath: verification && verification.result?.passed !== true && existsSync(notes) ? notes : null,
    reviewNotesPath: review && review.result?.approved !== true && typeof review.result?.notesPath === 'string' ? review.result.notesPath : null,
    rewrite: watchdog && typeof watchdog.result?.intervention === 'string' ? watchdog.result.intervention : null,
    rewritePath: watchdog && typeof watchdog.result?.rewritePath === 'string' ? watchdog.result.rewritePath : null,
  };
}

export const implementation: Handler<'implementation'> = async (input) => {
  const { step, sink } = input;
  let run = input.run;
  const started = input.adopt?.startedAt ?? Date.now();
  mkdirSync(run.runDir, { recursive: true });
  const files = implementationFiles(run.runDir, step.iteration, step.attempt);
  const { log: logPath, exit: exitPath, tail: tailPath, prompt: iterPromptPath } = files;
  const promptPath = runFiles(run.runDir).prompt;

  // Not the agent's failure: say what is really wrong instead of "agent exited with code 1".
  const gone = await checkRunPlace(run, { worktree: false });
  if (gone) return { status: 'FAILED', error: gone.message, result: { fatal: true, failReason: gone.reason } };

  let runPatch: { worktreePath: string } | undefined;
  let commitBefore = input.adopt?.commitBefore ?? '';
  let planBefore = input.adopt?.planBefore ?? null;
  if (!input.adopt) {
    const { path, head } = await prepareWorktree(input);
    if (path !== run.worktreePath) {
      // worktrunk decides where worktrees live; the run follows it.
      run = { ...run, worktreePath: path };
      runPatch = { worktreePath: path };
    }
    planBefore = readPlan(run.worktreePath, run.planPath);
    commitBefore = head ?? (await headCommit(run.worktreePath));
    const extras = promptExtrasFor({ history: input.history, run }, step.iteration);
    // A watchdog rewrite is used exactly as saved, so what the agent got is what was recorded.
    const prompt = extras.rewritePath && existsSync(extras.rewritePath) ? readFileSync(extras.rewritePath, 'utf8') : composePrompt(run, step.iteration, extras);
    writeFileAtomic(promptPath, prompt);
    writeFileAtomic(iterPromptPath, prompt);
    sink.artifact('prompt', promptPath);
  }

  const agent = await runAgent(
    { ...input, run },
    {
      kind: run.config.agent,
      agentCmd: run.config.agent_cmd,
      model: run.config.model,
      promptPath: iterPromptPath,
      logPath,
      exitPath,
      commitBefore,
      planBefore,
      env: {
        LOOP_PROMPT_FILE: iterPromptPath,
        LOOP_RUN_ID: run.id,
        LOOP_RUN_DIR: run.runDir,
        LOOP_ITERATION: String(step.iteration),
        LOOP_PHASE: 'implementation',
        LOOP_SPEC_PATH: join(run.worktreePath, run.specPath),
        LOOP_PLAN_PATH: run.planPath ? join(run.worktreePath, run.planPath) : '',
      },
    },
  );
  const { window, parsed, exit } = agent;

  // The agent (or someone) may have deleted the worktree or the workspace: committing or judging
  // anything there would be wrong, and it is not an agent failure to retry.
  // One `git status` answers the branch check here and the leftover check below; the count of
  // the agent's commits is read at the same time (read-only; taken again if a leftover commit
  // moves HEAD).
  // A read that fails here is simply taken again below, where its error is reported.
  let status: WorktreeStatus | null = null;
  let agentCommits: number | null = null;
  // Whether the recorded head is still an ancestor of HEAD, from the same rev-list (the judge's
  // history check then needs no `merge-base` of its own).
  let descends: boolean | undefined;
  if (!exit.canceled && existsSync(run.workspaceRoot) && existsSync(run.worktreePath)) {
    const [st, ab] = await Promise.all([
      worktreeStatus(run.worktreePath).catch(() => null),
      commitBefore ? aheadBehind(run.worktreePath, commitBefore).catch(() => null) : Promise.resolve({ ahead: 0, behind: 0 }),
    ]);
    status = st;
    if (ab) {
      agentCommits = ab.ahead;
      if (commitBefore) descends = ab.behind === 0;
    }
  }
  // A switched branch is not fatal here: the judge below puts the run branch back
  // (history_rewritten, docs/truth.md).
  const moved = exit.canceled ? null : await checkRunPlace(run, { worktree: true, checkBranch: false });
  if (moved) {
    return {
      status: 'FAILED',
      exitCode: exit.exitCode,
      promptPath: iterPromptPath,
      outputPath: logPath,
      error: moved.message,
      usage: parsed.usage,
      ...(runPatch ? { runPatch } : {}),
      result: { fatal: true, failReason: moved.reason, logPath, durationMs: Date.now() - started },
    };
  }

  writeFileAtomic(tailPath, lastLines(window, 200));
  sink.artifact('iteration_log', logPath);
  sink.artifact('iteration_tail', tailPath);

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
    ...(status ? { known: status } : {}),
    ...(status && descends !== undefined ? { knownDescends: descends } : {}),
  });
  const planAfter = readPlan(run.worktreePath, run.planPath);
  const ledger = judgement.ledger ?? input.ledger;
  const ledgerKnown = ledger.length > 0 && run.planText != null;
  const lc = ledgerKnown ? ledgerCounts(ledger) : null;
  const counts = !ledgerKnown && planAfter !== null ? parsePlan(planAfter).counts : null;
  const openTasks = lc ? lc.open : counts ? counts.open : 0;
  const tasksDone = lc ? lc.total - lc.open : counts ? counts.done + counts.reviewed : null;
  const tasksTotal = lc ? lc.total : counts ? counts.total : null;
  const completion = detectCompletion(parsed.text, run.config.completion_mode);
  const commitAfter = judgement.finalHead ?? (await headCommit(run.worktreePath));
  // The count read with the status holds unless loopd committed (leftovers, repairs) since.
  const unchanged = agentCommits !== null && status !== null && commitAfter === status.head;
  const commits = !commitBefore ? 0 : unchanged ? agentCommits! : await commitsSince(run.worktreePath, commitBefore, commitAfter);
  const planChanged = (planBefore === null ? null : planDigest(planBefore)) !== (planAfter === null ? null : planDigest(planAfter));
  const durationMs = Date.now() - started;
  const outcome = agentOutcome(exit, run.config.claude_timeout_sec, parsed, run.config.agent);

  // Similarity with the previous iteration's output feeds the repeated_task signal.
  let similarity: number | null = null;
  const prev = findStep(input.history, 'implementation', step.iteration - 1, 'SUCCEEDED');
  const prevLog = typeof prev?.result?.logPath === 'string' ? prev.result.logPath : null;
  if (prevLog && existsSync(prevLog)) {
    similarity = outputSimilarity(parseAgentOutput(run.config.agent, readTail(prevLog).text).text, parsed.text);
  }

  const reportPath = appendReport(run.runDir, {
    kind: 'implementation',
    iteration: step.iteration,
    durationMs,
    exitCode: exit.exitCode,
    outputPath: logPath,
    outputBytes: agent.outputBytes,
    outputLines: agent.outputLines,
    message: outcome.error ?? (completion.claimed ? 'claimed complete' : 'ok'),
    tasksDone,
    tasksTotal,
    usage: parsed.usage,
  });
  sink.artifact('report', reportPath);

  return {
    ...(judgement.ledger ? { ledger: judgement.ledger } : {}),
    status: outcome.status,
    exitCode: exit.exitCode,
    promptPath: iterPromptPath,
    outputPath: logPath,
    error: outcome.error,
    usage: parsed.usage,
    ...(runPatch ? { runPatch } : {}),
    result: {
      claimed: completion.claimed,
      malformed: completion.malformed,
      openTasks,
      unreviewedTasks: lc ? lc.pendingReview : counts ? counts.done : 0,
      tasksDone,
      tasksTotal,
      ticked: judgement.ticked,
      added: judgement.added,
      codeChanged: judgement.codeChanged,
      tampering: judgement.tampering,
      loopdNotes: judgement.notes,
      commits,
      commitBefore,
      commitAfter,
      planChanged,
      similarity,
      timedOut: exit.timedOut,
      durationMs,
      ...outcome.facts,
      outputBytes: agent.outputBytes,
      outputTruncated: agent.cap?.truncated === true,
      logPath,
      tailPath,
    },
  };
};
