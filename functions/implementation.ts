// One implementation iteration: the agent does one plan task in the run's worktree.
// The handler reports facts (exit code, token claim, open tasks); whether the run is complete is
// decided by the transition rules, never by the agent's word alone.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { buildAgentCommand, parseAgentOutput } from '../core/agents/adapters.js';
import { spawnDetached, waitForExit } from '../core/agents/process.js';
import { appendReportRow, iterName, lastLines, writeFileAtomic } from '../core/artifacts.js';
import { detectCompletion } from '../core/completion.js';
import { commitAll, commitsSince, createWorktree, headCommit } from '../core/git.js';
import { parsePlan, planDigest } from '../core/plan.js';
import { buildPrompt } from '../core/prompt.js';
import type { AgentProcessInfo, Handler, HandlerInput, HandlerResult } from './types.js';

const FOLLOW_INTERVAL_MS = 100;

/** Makes sure the worktree exists and holds the workspace's spec and plan. Safe to repeat. */
export async function prepareWorktree(input: HandlerInput): Promise<void> {
  const { run, step, sink } = input;
  const wt = await createWorktree({ repoRoot: run.workspaceRoot, branch: run.runBranch, path: run.worktreePath, base: run.baseBranch });
  if (!wt.reused) sink.event('WORKTREE_READY', { path: wt.path, branch: run.runBranch, base: run.baseBranch, provider: run.worktreeProvider });
  if (step.iteration !== 1 || step.attempt !== 1) return;
  // The user may not have committed the spec or plan yet: snapshot the workspace's versions into
  // the run branch so the agent works from what the user handed over.
  let copied = false;
  for (const rel of [run.specPath, run.planPath]) {
    if (!rel) continue;
    const src = join(run.workspaceRoot, rel);
    const dst = join(run.worktreePath, rel);
    if (!existsSync(src)) continue;
    if (existsSync(dst) && readFileSync(dst).equals(readFileSync(src))) continue;
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(src, dst);
    copied = true;
  }
  if (copied) {
    await commitAll(run.worktreePath, `loopd: snapshot spec and plan for run ${run.name}`);
    sink.event('SPEC_SNAPSHOT', { spec: run.specPath, plan: run.planPath });
  }
}

function readPlan(worktree: string, planPath: string | null): { text: string | null } {
  if (!planPath) return { text: null };
  const p = join(worktree, planPath);
  return { text: existsSync(p) ? readFileSync(p, 'utf8') : null };
}

function readPromptTemplate(run: HandlerInput['run']): string | null {
  const configured = run.config.prompt_file;
  if (configured) {
    const p = isAbsolute(configured) ? configured : resolve(run.workspaceRoot, configured);
    if (!existsSync(p)) throw new Error(`prompt_file not found: ${p}`);
    return readFileSync(p, 'utf8');
  }
  const local = join(run.workspaceRoot, '.loop', 'prompt.txt');
  return existsSync(local) ? readFileSync(local, 'utf8') : null;
}

export function composePrompt(run: HandlerInput['run'], iteration: number, extras: { runnerNotesPath?: string | null; reviewNotesPath?: string | null; rewrite?: string | null } = {}): string {
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
    runnerNotesPath: extras.runnerNotesPath ?? null,
    reviewNotesPath: extras.reviewNotesPath ?? null,
    rewrite: extras.rewrite ?? null,
    completionMode: run.config.completion_mode,
    iteration,
  });
}

export const implementation: Handler = async (input) => {
  const { run, step, sink, signal } = input;
  const started = input.adopt?.startedAt ?? Date.now();
  const nn = iterName(step.iteration);
  const suffix = step.attempt > 1 ? `.attempt-${step.attempt}` : '';
  mkdirSync(run.runDir, { recursive: true });
  const logPath = join(run.runDir, `iter-${nn}${suffix}.log`);
  const exitPath = join(run.runDir, `.iter-${nn}${suffix}.exit`);
  const tailPath = join(run.runDir, `iter-${nn}.tail.txt`);
  const promptPath = join(run.runDir, 'prompt.txt');

  let proc: AgentProcessInfo;
  if (input.adopt) {
    proc = input.adopt;
    sink.event('AGENT_ADOPTED', { iteration: step.iteration, attempt: step.attempt, pid: proc.pid });
  } else {
    await prepareWorktree(input);
    const planText = readPlan(run.worktreePath, run.planPath).text;
    const commitBefore = await headCommit(run.worktreePath);
    const prompt = composePrompt(run, step.iteration);
    writeFileAtomic(promptPath, prompt);
    const iterPromptPath = join(run.runDir, `iter-${nn}${suffix}.prompt.txt`);
    writeFileAtomic(iterPromptPath, prompt);
    sink.artifact('prompt', promptPath);

    const command = buildAgentCommand({ kind: run.config.agent, agentCmd: run.config.agent_cmd, model: run.config.model });
    const env: Record<string, string> = {
      LOOP_PROMPT_FILE: iterPromptPath,
      LOOP_RUN_ID: run.id,
      LOOP_RUN_DIR: run.runDir,
      LOOP_ITERATION: String(step.iteration),
      LOOP_PHASE: 'implementation',
      LOOP_SPEC_PATH: join(run.worktreePath, run.specPath),
      LOOP_PLAN_PATH: run.planPath ? join(run.worktreePath, run.planPath) : '',
    };
    writeFileSync(logPath, '');
    rmSync(exitPath, { force: true });
    const handle = await spawnDetached({ shellCommand: command, cwd: run.worktreePath, env, stdinPath: iterPromptPath, logPath, exitPath });
    proc = { ...handle, logPath, exitPath, commitBefore, planBefore: planText, startedAt: started };
    sink.processStarted(proc);
    sink.event('AGENT_STARTED', { iteration: step.iteration, attempt: step.attempt, pid: handle.pid, agent: run.config.agent, log: logPath });
  }
  const planBefore = proc.planBefore;
  const commitBefore = proc.commitBefore;

  let lastSize = 0;
  const follower = setInterval(() => {
    try {
      const size = statSync(logPath).size;
      if (size !== lastSize) {
        lastSize = size;
        sink.outputGrew();
      }
    } catch {
      /* the log may not exist for a moment */
    }
  }, FOLLOW_INTERVAL_MS);
  let exit;
  try {
    exit = await waitForExit(proc, proc.exitPath, { timeoutMs: run.config.claude_timeout_sec * 1000, signal });
  } finally {
    clearInterval(follower);
  }
  sink.outputGrew();

  const raw = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
  writeFileAtomic(tailPath, lastLines(raw, 200));
  sink.artifact('iteration_log', logPath);
  sink.artifact('iteration_tail', tailPath);
  const parsed = parseAgentOutput(run.config.agent, raw);

  // An agent that forgot to commit must not lose its work: the merge only sees commits.
  const leftover = await commitAll(run.worktreePath, `loopd: uncommitted changes left by iteration ${step.iteration}`);
  if (leftover) sink.event('LEFTOVER_COMMITTED', { iteration: step.iteration, commit: leftover });

  const planAfter = readPlan(run.worktreePath, run.planPath).text;
  const counts = planAfter !== null ? parsePlan(planAfter).counts : null;
  const completion = detectCompletion(parsed.text, run.config.completion_mode);
  const commits = await commitsSince(run.worktreePath, commitBefore);
  const planChanged = (planBefore === null ? null : planDigest(planBefore)) !== (planAfter === null ? null : planDigest(planAfter));
  const durationMs = Date.now() - started;

  let status: HandlerResult['status'] = 'SUCCEEDED';
  let error: string | null = null;
  if (exit.canceled) {
    status = 'CANCELED';
    error = 'canceled';
  } else if (exit.timedOut) {
    status = 'FAILED';
    error = `agent timed out after ${run.config.claude_timeout_sec}s (claude_timeout_sec); its process tree was killed`;
  } else if (exit.vanished) {
    status = 'FAILED';
    error = 'agent process ended without an exit status';
  } else if (exit.exitCode !== 0) {
    status = 'FAILED';
    error = `agent exited with code ${exit.exitCode}`;
  }

  const outputLines = raw === '' ? 0 : raw.split('\n').length - (raw.endsWith('\n') ? 1 : 0);
  const reportPath = appendReportRow(run.runDir, {
    timestamp_ms: Date.now(),
    kind: 'implementation',
    iteration: step.iteration,
    duration_ms: durationMs,
    exit_code: exit.exitCode,
    output_bytes: Buffer.byteLength(raw),
    output_lines: outputLines,
    output_path: logPath,
    message: error ?? (completion.claimed ? 'claimed complete' : 'ok'),
    tasks_done: counts ? counts.done + counts.reviewed : null,
    tasks_total: counts ? counts.total : null,
  });
  sink.artifact('report', reportPath);

  return {
    status,
    exitCode: exit.exitCode,
    promptPath,
    outputPath: logPath,
    error,
    usage: parsed.usage,
    result: {
      claimed: completion.claimed,
      malformed: completion.malformed,
      openTasks: counts ? counts.open : 0,
      tasksDone: counts ? counts.done + counts.reviewed : null,
      tasksTotal: counts ? counts.total : null,
      commits,
      planChanged,
      timedOut: exit.timedOut,
      durationMs,
      transientError: parsed.transientError,
      tailPath,
    },
  };
};
