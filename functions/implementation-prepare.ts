// What an implementation step does before its agent starts: the run's worktree in place with the
// spec and plan handed over, the head and plan the agent starts from, and the iteration's prompt.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runFiles } from '../core/artifact-names.js';
import { writeFileAtomic } from '../core/artifacts.js';
import { commitAll, headCommit } from '../core/git.js';
import { composePrompt, type PromptExtras } from '../core/run-prompt.js';
import { ensureRunWorktree } from '../core/worktree.js';
import { findStep } from './agent-step.js';
import { readRegular } from './judge.js';
import type { HandlerInput, RunInput } from './types.js';

/** Copies the spec and plan as handed over into the worktree; true when one had to be written. */
function snapshotInputs(run: RunInput, worktree: string): boolean {
  // The texts recorded at creation are what the ledger was parsed from; older runs copy the files.
  let copied = false;
  const files: [string | null, string | null | undefined][] = [
    [run.specPath, run.specText],
    [run.planPath, run.planText],
  ];
  for (const [rel, truth] of files) {
    if (!rel) continue;
    const src = join(run.workspaceRoot, rel);
    const dst = join(worktree, rel);
    const content = truth ?? (existsSync(src) ? readFileSync(src, 'utf8') : null);
    if (content === null) continue;
    if (readRegular(dst) === content) continue;
    mkdirSync(dirname(dst), { recursive: true });
    // By rename: a committed symlink at dst is replaced, never written through.
    writeFileAtomic(dst, content);
    copied = true;
  }
  return copied;
}

/**
 * The run's worktree could not be put in place: not the agent's failure, and not a worktree that
 * was deleted (the step's error says git's own reason and what to do).
 */
export class WorktreePrepareError extends Error {
  override name = 'WorktreePrepareError';
}

/**
 * Makes sure the worktree exists and holds the workspace's spec and plan. Safe to repeat. Returns
 * its path, and its HEAD commit when that was read on the way (null: the caller reads it).
 */
export async function prepareWorktree(input: HandlerInput): Promise<{ path: string; head: string | null }> {
  const { run, step, sink } = input;
  let wt: Awaited<ReturnType<typeof ensureRunWorktree>>;
  try {
    wt = await ensureRunWorktree({
      provider: run.worktreeProvider === 'worktrunk' ? 'worktrunk' : 'git',
      repoRoot: run.workspaceRoot,
      branch: run.runBranch,
      path: run.worktreePath,
      base: run.baseBranch,
    });
  } catch (e) {
    throw new WorktreePrepareError(`cannot prepare the run's worktree ${run.worktreePath} (branch ${run.runBranch}): ${e instanceof Error ? e.message : String(e)}`);
  }
  // What a crash left and loopd put right is told, even when the worktree itself was there.
  const repaired = wt.repaired.length > 0 ? { repaired: wt.repaired.join('; ') } : {};
  if (!wt.reused || wt.repaired.length > 0) sink.event('WORKTREE_READY', { path: wt.path, branch: run.runBranch, base: run.baseBranch, provider: run.worktreeProvider, ...repaired });
  // Only before any agent touched the worktree; a step re-run after a crash still gets it.
  const agentRanBefore = input.history.some((h) => h.phase === 'implementation' && h.result?.requeued !== true);
  const head = wt.head ?? null;
  if (step.iteration !== 1 || agentRanBefore) return { path: wt.path, head };
  // The user may not have committed the spec or plan yet: snapshot the workspace's versions into
  // the run branch so the agent works from what the user handed over.
  if (!snapshotInputs(run, wt.path)) return { path: wt.path, head };
  const commit = await commitAll(wt.path, `loopd: snapshot spec and plan for run ${run.name}`);
  sink.event('SPEC_SNAPSHOT', { spec: run.specPath, plan: run.planPath });
  return { path: wt.path, head: commit ?? null };
}

export function readPlan(worktree: string, planPath: string | null): string | null {
  if (!planPath) return null;
  return readRegular(join(worktree, planPath));
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

export interface Prepared {
  run: RunInput;
  /** Set when the worktree is not where the run said (worktrunk decides where worktrees live). */
  runPatch?: { worktreePath: string };
  commitBefore: string;
  planBefore: string | null;
}

/**
 * Worktree, starting facts and prompt files for a new agent (`paths`: the run's and this
 * iteration's copy of the prompt); a re-adopted agent keeps the facts recorded with it.
 */
export async function prepareImplementation(input: HandlerInput, paths: { prompt: string; iterPrompt: string }): Promise<Prepared> {
  if (input.adopt) return { run: input.run, commitBefore: input.adopt.commitBefore ?? '', planBefore: input.adopt.planBefore ?? null };
  const { path, head } = await prepareWorktree(input);
  const moved = path !== input.run.worktreePath;
  const run = moved ? { ...input.run, worktreePath: path } : input.run;
  const planBefore = readPlan(run.worktreePath, run.planPath);
  const commitBefore = head ?? (await headCommit(run.worktreePath));
  const extras = promptExtrasFor({ history: input.history, run }, input.step.iteration);
  // A watchdog rewrite is used exactly as saved, so what the agent got is what was recorded.
  const prompt = extras.rewritePath && existsSync(extras.rewritePath) ? readFileSync(extras.rewritePath, 'utf8') : composePrompt(run, input.step.iteration, extras);
  writeFileAtomic(paths.prompt, prompt);
  writeFileAtomic(paths.iterPrompt, prompt);
  input.sink.artifact('prompt', paths.prompt);
  return { run, ...(moved ? { runPatch: { worktreePath: path } } : {}), commitBefore, planBefore };
}
