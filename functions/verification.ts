// Verification: the repo's own commands (tests, lint, typecheck) run in the worktree. The first
// failure stops the phase and writes runner-notes.txt, which the next implementation prompt
// points at; the plan does not advance. Commands are cheap to repeat, so a step re-adopted after a
// restart simply runs them again (after making sure the old process is gone).
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { runFiles, verifyFiles } from '../core/artifact-names.js';
import { lastLines, writeFileAtomic } from '../core/artifacts.js';
import { appendReport } from '../core/report.js';
import { parsePlan } from '../core/plan.js';
import { countLines, findStep } from './agent-step.js';
import { guardHistory } from './judge.js';
import { abandonStepProcess, awaitStepProcess, launchStepProcess } from './step-process.js';
import type { Handler } from './types.js';

export const NOTES_TAIL_LINES = 120;

export const verification: Handler<'verification'> = async (input) => {
  const result = await runCommands(input);
  // The commands are the repo's own scripts, which the agent can edit: they must not rewrite the
  // run branch either. The head to keep is the one the implementation of this iteration left.
  const impl = findStep(input.history, 'implementation', input.step.iteration, 'SUCCEEDED');
  const recorded = typeof impl?.result?.commitAfter === 'string' && impl.result.commitAfter ? impl.result.commitAfter : null;
  if (result.status === 'CANCELED' || recorded === null) return result;
  const found = await guardHistory({ run: input.run, worktree: input.run.worktreePath, stepId: input.step.id, recorded, what: 'the verification commands' });
  if (!found) return result;
  input.sink.event('SIGNAL', { signal: 'history_rewritten', iteration: input.step.iteration, phase: 'verification', ...found.payload });
  return { ...result, result: { ...result.result, tampering: ['history_rewritten'], loopdNotes: [found.note] } };
};

const runCommands: Handler<'verification'> = async (input) => {
  const { run, step, sink, signal } = input;
  // Commands are cheap to repeat: an adopted one is ended and the commands run again.
  if (input.adopt) await abandonStepProcess(input.adopt);
  mkdirSync(run.runDir, { recursive: true });
  const notesPath = runFiles(run.runDir).runnerNotes;
  const planFile = run.planPath ? join(run.worktreePath, run.planPath) : null;
  const counts = planFile && existsSync(planFile) ? parsePlan(readFileSync(planFile, 'utf8')).counts : null;
  const cmds = run.config.verify_cmds;
  const timeoutSec = run.config.verify_timeout_sec;

  for (let k = 0; k < cmds.length; k++) {
    const cmd = cmds[k]!;
    const { log: logPath, exit: exitPath } = verifyFiles(run.runDir, step.iteration, k + 1);
    const started = Date.now();
    const proc = await launchStepProcess(sink, {
      command: cmd,
      cwd: run.worktreePath,
      env: { LOOP_RUN_ID: run.id, LOOP_RUN_DIR: run.runDir, LOOP_ITERATION: String(step.iteration), LOOP_PHASE: 'verification' },
      stdinPath: '/dev/null',
      logPath,
      exitPath,
      guard: input.guard ?? null,
    });
    sink.event('VERIFY_STARTED', { iteration: step.iteration, index: k + 1, command: cmd, log: logPath });
    const exit = await awaitStepProcess(proc, { timeoutMs: timeoutSec * 1000, signal });
    sink.outputGrew();
    sink.artifact('verify_log', logPath);
    const output = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
    if (exit.canceled) return { status: 'CANCELED', error: 'canceled', outputPath: logPath, result: { passed: false, canceled: true } };
    const passed = !exit.timedOut && exit.exitCode === 0;
    const why = exit.timedOut ? `timed out after ${timeoutSec}s (verify_timeout_sec)` : `exit code ${exit.exitCode ?? 'unknown'}`;
    appendReport(run.runDir, {
      kind: 'verify',
      iteration: step.iteration,
      durationMs: Date.now() - started,
      exitCode: exit.exitCode,
      outputPath: logPath,
      outputBytes: Buffer.byteLength(output),
      outputLines: countLines(output),
      message: `${passed ? 'passed' : `failed (${why})`}: ${cmd}`,
      tasksDone: counts ? counts.done + counts.reviewed : null,
      tasksTotal: counts ? counts.total : null,
    });
    if (!passed) {
      writeFileAtomic(
        notesPath,
        [
          `Verification failed in iteration ${step.iteration}.`,
          `Command: ${cmd}`,
          `Result: ${why}`,
          `Full output: ${logPath}`,
          '',
          `Last ${NOTES_TAIL_LINES} lines of output:`,
          lastLines(output, NOTES_TAIL_LINES),
        ].join('\n'),
      );
      sink.artifact('runner_notes', notesPath);
      sink.event('VERIFY_FAILED', { iteration: step.iteration, index: k + 1, command: cmd, exitCode: exit.exitCode, timedOut: exit.timedOut, notesPath });
      return {
        status: 'FAILED',
        exitCode: exit.exitCode,
        outputPath: logPath,
        error: `verification failed: ${cmd} (${why})`,
        result: { passed: false, failedCommand: cmd, index: k + 1, exitCode: exit.exitCode, timedOut: exit.timedOut, notesPath },
      };
    }
  }
  sink.event('VERIFY_PASSED', { iteration: step.iteration, commands: cmds.length });
  return { status: 'SUCCEEDED', exitCode: 0, result: { passed: true, commands: cmds.length } };
};
