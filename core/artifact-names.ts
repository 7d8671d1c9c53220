// The names of the files a run leaves in its run directory: the one place they are spelled, for
// the handlers that write them and the host and CLI code that reads them. A retry of a step
// writes its own files (`.attempt-N`), so an earlier attempt's log stays readable; files that
// describe the iteration rather than one attempt (the tail, the diff, review notes) do not.
import { join } from 'node:path';

/** Two digits, so a directory listing sorts iterations in order. */
export function iterName(iteration: number): string {
  return String(iteration).padStart(2, '0');
}

/** `.attempt-N` for a retry, nothing for the first attempt. */
export function attemptSuffix(attempt: number): string {
  return attempt > 1 ? `.attempt-${attempt}` : '';
}

/** Files of the run as a whole. */
export function runFiles(runDir: string) {
  return {
    /** The latest implementation prompt (the snapshot summary.json points at). */
    prompt: join(runDir, 'prompt.txt'),
    /** Why the last verification failed; the next implementation prompt points at it. */
    runnerNotes: join(runDir, 'runner-notes.txt'),
    report: join(runDir, 'report.tsv'),
    summary: join(runDir, 'summary.json'),
  };
}

/** Files of one implementation attempt (`iter-NN...`). */
export function implementationFiles(runDir: string, iteration: number, attempt: number) {
  const base = `iter-${iterName(iteration)}`;
  const a = attemptSuffix(attempt);
  return {
    log: join(runDir, `${base}${a}.log`),
    exit: join(runDir, `.${base}${a}.exit`),
    prompt: join(runDir, `${base}${a}.prompt.txt`),
    /** loopd's own verdict on what the agent did, kept so a re-run step judges once. */
    judgement: join(runDir, `.${base}${a}.judgement.json`),
    tail: join(runDir, `${base}.tail.txt`),
  };
}

/** Files of one review attempt (`review-NN...`). */
export function reviewFiles(runDir: string, iteration: number, attempt: number) {
  const base = `review-${iterName(iteration)}`;
  const a = attemptSuffix(attempt);
  return {
    log: join(runDir, `${base}${a}.log`),
    exit: join(runDir, `.${base}${a}.exit`),
    prompt: join(runDir, `${base}${a}.prompt.txt`),
    diff: join(runDir, `${base}.diff`),
    /** The reviewer's requested changes, when it asked for any. */
    notes: join(runDir, `${base}.md`),
  };
}

/** Files of the index-th (from 1) verification command of an iteration. */
export function verifyFiles(runDir: string, iteration: number, index: number) {
  const base = `verify-${iterName(iteration)}-${index}`;
  return { log: join(runDir, `${base}.log`), exit: join(runDir, `.${base}.exit`) };
}

/** The n-th prompt the watchdog rewrote for this run. */
export function promptRewriteFile(runDir: string, n: number): string {
  return join(runDir, `prompt.rewrite.${n}.txt`);
}
