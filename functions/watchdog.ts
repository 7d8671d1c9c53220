// Watchdog: runs only when a signal fired at the end of an iteration. It rewrites the next
// implementation prompt with a short intervention for that signal, saved as prompt.rewrite.N.txt;
// the next implementation uses that file as its prompt. The transition rules cap the number of
// rewrites per run (watchdog_max_rewrites) and fail the run past it.
import { join } from 'node:path';
import { promptRewriteFile, runFiles } from '../core/artifact-names.js';
import { writeFileAtomic } from '../core/artifacts.js';
import { appendReport } from '../core/report.js';
import { ledgerCounts } from '../core/ledger.js';
import { computeSignals, iterationFacts, type StepFact, type StepResultFacts } from '../core/signals.js';
import type { WatchdogSignal } from '../core/types.js';
import { composePrompt } from '../core/run-prompt.js';
import { promptExtrasFor } from './implementation-prepare.js';
import type { Handler } from './types.js';

export function intervention(signal: WatchdogSignal, cfg: { noProgressIterations: number; openTasks?: number }): string {
  // With nothing open, "pick a task" would send the agent looking for work that does not exist.
  const none = cfg.openTasks === 0;
  switch (signal) {
    case 'repeated_task':
      return none
        ? 'Your last iteration produced almost the same output as the one before it. No task is open: do not look for one. Read the runner notes or review notes named in this prompt and fix exactly what they report, then commit.'
        : 'Your last iteration produced almost the same output as the one before it: you are going in circles. Re-read the plan, and this time finish the task differently or pick another open task. Make a real change and commit it.';
    case 'no_progress':
      return none
        ? `There has been no commit and no plan change for ${cfg.noProgressIterations} iterations, and no task is open. Fix what the runner notes or review notes in this prompt report and commit it; there is no new task to start.`
        : `There has been no commit and no plan change for ${cfg.noProgressIterations} iterations. Make one small, concrete change now, commit it, and tick the task it finishes. If a task cannot be done, leave it [ ], write why on the line below it, and move on to another open task.`;
    case 'malformed_complete':
      if (none) return 'You printed the completion token, but not as required. No task is open: there is nothing to pick. Fix what the notes in this prompt report, if any; loopd completes the run by itself once review and verification pass. Print <promise>COMPLETE</promise> only alone on the last line.';
      return 'You printed the completion token while the plan still had open tasks, or not as required. Never print <promise>COMPLETE</promise> unless every task is done, and then only as the last line. Work on the next open task now.';
    case 'verification_failed':
      return 'Verification has failed in consecutive iterations. Before anything else, read the runner notes, reproduce the failing command, and fix it. Do not start a new task while verification fails.';
  }
}

export const watchdog: Handler<'watchdog'> = async (input) => {
  const { run, step, sink, history } = input;
  const facts: StepFact[] = history.map((h) => ({ ...h, result: h.result as StepResultFacts | null }));
  // The signals come with the step (queued by the transition rules); steps queued by an older
  // daemon carry none, and derive them from the history as the rules did.
  const signals =
    step.input?.signals ??
    computeSignals(
      iterationFacts(facts).filter((f) => f.iteration <= step.iteration),
      { noProgressIterations: run.config.watchdog_no_progress_iterations },
    );
  if (signals.length === 0) {
    // Nothing to correct (the facts changed since the step was queued): no rewrite spent.
    return { status: 'SUCCEEDED', result: { signal: null, signals: [] } };
  }
  const n = history.filter((h) => h.phase === 'watchdog' && h.status === 'SUCCEEDED' && typeof h.result?.rewritePath === 'string').length + 1;
  const openTasks = input.ledger.length > 0 ? ledgerCounts(input.ledger).open : undefined;
  const text = signals.map((s) => intervention(s, { noProgressIterations: run.config.watchdog_no_progress_iterations, ...(openTasks !== undefined ? { openTasks } : {}) })).join('\n\n');
  const next = step.iteration + 1;
  const extras = promptExtrasFor({ history: [...history, { phase: 'watchdog', status: 'SUCCEEDED', iteration: step.iteration, attempt: 1, result: {} }], run }, next);
  const prompt = composePrompt(run, next, { ...extras, rewrite: text });
  const rewritePath = promptRewriteFile(run.runDir, n);
  writeFileAtomic(rewritePath, prompt);
  sink.artifact('prompt_rewrite', rewritePath);
  const promptPath = runFiles(run.runDir).prompt;
  sink.event('WATCHDOG_REWRITE', { signal: signals[0], signals, iteration: step.iteration, promptPath, rewritePath, rewrite: n });
  appendReport(run.runDir, {
    kind: 'watchdog',
    iteration: step.iteration,
    durationMs: 0,
    exitCode: null,
    outputPath: rewritePath,
    outputBytes: Buffer.byteLength(prompt),
    outputLines: null,
    message: `rewrite ${n}: ${signals.join(', ')}`,
  });
  return { status: 'SUCCEEDED', promptPath: rewritePath, result: { signal: signals[0], signals, rewritePath, intervention: text, rewrite: n } };
};
