// The implementation agent's prompt for one iteration of a run: the prompt template (the
// configured prompt_file, the workspace's .loop/prompt.txt, or the built-in one) filled with the
// run's spec, plan, context files and what the previous iteration left. Shared by the
// implementation phase, the watchdog's rewrite and the prompt preview of `runs.create`.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { LoopConfig } from './config.js';
import { buildPrompt } from './prompt.js';

/** What a prompt needs of a run. */
export interface PromptRun {
  workspaceRoot: string;
  worktreePath: string;
  specPath: string;
  planPath: string | null;
  config: Pick<LoopConfig, 'prompt_file' | 'context_files' | 'completion_mode'>;
}

export interface PromptExtras {
  /** What loopd undid in the previous iteration, and why. */
  loopdNotes?: string[];
  runnerNotesPath?: string | null;
  reviewNotesPath?: string | null;
  rewrite?: string | null;
}

function readPromptTemplate(run: PromptRun): string | null {
  const configured = run.config.prompt_file;
  if (configured) {
    const p = isAbsolute(configured) ? configured : resolve(run.workspaceRoot, configured);
    if (!existsSync(p)) throw new Error(`prompt_file not found: ${p}`);
    return readFileSync(p, 'utf8');
  }
  const local = join(run.workspaceRoot, '.loop', 'prompt.txt');
  return existsSync(local) ? readFileSync(local, 'utf8') : null;
}

// Generic so a caller may hand over a whole run record, not only these fields.
export function composePrompt<R extends PromptRun>(run: R, iteration: number, extras: PromptExtras = {}): string {
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
