// The parts of a review around the reviewer agent (functions/review.ts runs them in order): the
// facts taken before it starts, setting aside whatever it changed, and loopd's own verdict
// commit on the plan. Each is safe to run again after a crash.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/artifacts.js';
import { commitAll, commitFiles, diffSince, headCommit, worktreeStatus, type WorktreeStatus } from '../core/git.js';
import { gitDirsOf, readHead } from '../core/git-files.js';
import { diffAheadPath, takeDiffAhead } from './review-diff-ahead.js';
import { changedPaths, discardedRef, parentOf, restoreBranch, setRef } from '../core/history.js';
import { pendingReview, setStates, type LedgerTask } from '../core/ledger.js';
import { buildReviewPrompt } from '../core/review-prompt.js';
import { checkRunPlace } from '../core/run-place.js';
import { readRegular } from './judge.js';
import type { HandlerInput, HandlerResult } from './types.js';

export interface ReviewFiles {
  prompt: string;
  diff: string;
  log: string;
  exit: string;
  notes: string;
  /** The plan in the worktree; null for a plan-less run. */
  plan: string | null;
}

export interface BeforeReviewer {
  /** The worktree's state just before the reviewer; null when it could not be read. */
  status: WorktreeStatus | null;
  headBefore: string;
  /** Files verification left behind are not the reviewer's doing. */
  dirtyBefore: boolean;
  pending: LedgerTask[];
}

/**
 * Where the reviewed diff starts: the head after the last approved review, else the head the
 * first implementation started from. So a review sees all the work no review approved yet.
 */
export function reviewBase(history: HandlerInput['history']): string | null {
  const approved = [...history].reverse().find((h) => h.phase === 'review' && h.status === 'SUCCEEDED' && h.result?.approved === true && typeof h.result?.headAfter === 'string');
  if (approved) return approved.result!.headAfter as string;
  const first = history.find((h) => h.phase === 'implementation' && typeof h.result?.commitBefore === 'string' && h.result.commitBefore !== '');
  return first ? (first.result!.commitBefore as string) : null;
}

/**
 * The worktree's state as loopd recorded it at the end of the step just before this review, when
 * that proves it now: the implementation saw (with its own `git status`, after the agent's
 * processes were gone) a clean tree on the run branch and changed nothing after it (its result's
 * `cleanAt`), no step ran since, and HEAD, read from the git directory's files, is still that
 * commit on that branch. null: take a `git status`.
 */
export function recordedClean(input: Pick<HandlerInput, 'run' | 'history' | 'adopt'>): WorktreeStatus | null {
  const { run } = input;
  if (input.adopt) return null;
  const last = input.history[input.history.length - 1];
  const at = last?.phase === 'implementation' && last.status === 'SUCCEEDED' ? last.result?.cleanAt : undefined;
  if (typeof at !== 'string' || at === '') return null;
  const dirs = gitDirsOf(run.worktreePath);
  const now = dirs ? readHead(dirs) : undefined;
  if (now?.head !== at || now.branch !== run.runBranch) return null;
  return { head: at, branch: run.runBranch, dirty: false };
}

/**
 * The place checks and facts before the reviewer starts, and (unless re-adopting) its prompt with
 * the diff. One `git status` answers the branch check, HEAD and the dirty check, unless the step
 * before recorded them (recordedClean); the diff is taken beside it when its start is known. A
 * failure is returned as the step's result.
 */
export async function beforeReviewer(input: HandlerInput, files: ReviewFiles): Promise<BeforeReviewer | { failed: HandlerResult }> {
  const { run, step, sink } = input;
  const placed = await checkRunPlace(run, { worktree: true, checkBranch: false });
  if (placed) return { failed: { status: 'FAILED', error: placed.message, result: { fatal: true, failReason: placed.reason } } };
  const recorded = recordedClean(input);
  const taking = recorded ? Promise.resolve(recorded) : worktreeStatus(run.worktreePath).catch(() => null);
  const base = reviewBase(input.history);
  // The implementation just before may have taken this very diff already (review-diff-ahead.ts).
  const ahead =
    !input.adopt && recorded?.head && base !== null ? takeDiffAhead(input.history[input.history.length - 1]?.result?.diffAhead, base, recorded.head, diffAheadPath(run.runDir, step.iteration)) : null;
  // Read-only, so it may start before the branch check below; it is used only if that passes.
  const diffing =
    input.adopt || base === null
      ? null
      : ahead !== null
        ? Promise.resolve(ahead)
        : diffSince(run.worktreePath, base, recorded?.head ? { clean: true, head: recorded.head } : { clean: taking.then((s) => s !== null && !s.dirty) });
  diffing?.catch(() => {});
  const status = await taking;
  // If the status cannot be read, the place check asks for the branch itself.
  const gone = await checkRunPlace(run, status ? { worktree: true, branch: status.branch } : { worktree: true });
  if (gone) return { failed: { status: 'FAILED', error: gone.message, result: { fatal: true, failReason: gone.reason } } };
  const headNow = async (): Promise<string> => status?.head ?? (await headCommit(run.worktreePath));
  const pending = pendingReview(input.ledger);
  const headBefore = input.adopt?.commitBefore || (await headNow());
  const dirtyBefore = !input.adopt && (status ? status.dirty : (await worktreeStatus(run.worktreePath)).dirty);
  if (!input.adopt) {
    const diff = (await diffing) ?? (await diffSince(run.worktreePath, base ?? headBefore, { clean: status !== null && !status.dirty }));
    writeFileAtomic(files.diff, diff);
    // Used or not, it was for this review only.
    rmSync(diffAheadPath(run.runDir, step.iteration), { force: true });
    writeFileAtomic(
      files.prompt,
      buildReviewPrompt({
        specPath: join(run.worktreePath, run.specPath),
        planPath: files.plan,
        diffPath: files.diff,
        diff,
        iteration: step.iteration,
        ticked: pending.map((t) => ({ id: t.taskId, text: t.text })),
      }),
    );
    sink.artifact('review_prompt', files.prompt);
  }
  return { status, headBefore, dirtyBefore, pending };
}

/**
 * The reviewer only reads: anything it changed or committed is set aside (under refs/loopd/) and
 * the branch put back. HEAD, the branch and leftovers from one `git status` (`taken`: one started
 * once the reviewer's processes were gone). Returns whether the worktree was put back, the head
 * the status saw, and whether the tree is known clean now.
 */
export async function setAsideReviewerChanges(
  input: HandlerInput,
  before: BeforeReviewer,
  taken: Promise<WorktreeStatus | null> | null = null,
): Promise<{ restored: boolean; head: string | null; clean: boolean }> {
  const { run, step, sink } = input;
  const { headBefore } = before;
  const after = await (taken ?? worktreeStatus(run.worktreePath).catch(() => null));
  const head = after?.head ?? null;
  let moved = after === null || after.branch !== run.runBranch || head !== headBefore;
  // Re-run after a crash: loopd's own verdict commit (the plan alone, on top of the head before the
  // reviewer) may already be there; it is redone below, not the reviewer's doing.
  if (moved && input.adopt && head && run.planPath && (await parentOf(run.worktreePath, head)) === headBefore) {
    const paths = await changedPaths(run.worktreePath, headBefore, head);
    if (paths.length === 1 && paths[0] === run.planPath) moved = false;
  }
  const restored = moved || (!before.dirtyBefore && after !== null && after.dirty);
  if (restored) {
    if (head && head !== headBefore) await setRef(run.worktreePath, discardedRef(run.id, step.id, 'review'), head);
    await restoreBranch(run.worktreePath, run.runBranch, headBefore);
    sink.event('REVIEWER_CHANGES_DISCARDED', { iteration: step.iteration, head, restoredTo: headBefore });
  }
  return { restored, head, clean: restored || (after !== null && !after.dirty) };
}

/**
 * Turns the reviewed tasks into [R] (approved) or back to [ ] in the plan and commits that on the
 * run branch. Committed even when the plan already had the marks: a daemon that died between
 * writing the plan and committing it re-runs this step and must still get them onto the branch.
 */
export async function commitVerdict(
  input: HandlerInput,
  plan: { file: string; path: string; text: string },
  pending: LedgerTask[],
  approved: boolean,
  clean: boolean,
): Promise<{ ledger: LedgerTask[]; commit: string | null }> {
  const { run, step } = input;
  const ids = pending.map((t) => t.taskId);
  const verdict = setStates(input.ledger, plan.text, ids, approved ? 'reviewed' : 'open');
  if (verdict.plan !== plan.text) writeFileAtomic(plan.file, verdict.plan);
  const n = `${ids.length} task${ids.length === 1 ? '' : 's'}`;
  const msg = approved ? `loopd: review approved iteration ${step.iteration} (${n} [R])` : `loopd: review rejected iteration ${step.iteration} (${n} back to [ ])`;
  // The tree was clean (or just put back) and only the plan now differs: commit that file alone.
  const commit = verdict.plan !== plan.text && clean ? await commitFiles(run.worktreePath, msg, [plan.path]) : await commitAll(run.worktreePath, msg);
  return { ledger: verdict.ledger, commit };
}

/** The plan file's text when the run has a plan and it is a regular file. */
export function planOf(run: HandlerInput['run'], file: string | null): { file: string; path: string; text: string } | null {
  if (!file || !run.planPath) return null;
  const text = readRegular(file);
  return text === null ? null : { file, path: run.planPath, text };
}
