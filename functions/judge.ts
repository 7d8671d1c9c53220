// After an implementation agent exits, loopd checks what it left against its own records and
// undoes what the agent may not do: rewriting the run branch's history, editing the spec, changing
// the plan beyond ticking and adding tasks, and ticking tasks without changing any code.
//
// Judging and repairing are split: the findings are computed from the agent's state and saved to
// a file first, then applied. Every repair is idempotent, so a daemon that dies half-way re-runs
// the step, reads the same findings and finishes the same repairs without losing a signal.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/artifacts.js';
import { commitAll, commitLeftovers, headCommit, worktreeStatus, type WorktreeStatus } from '../core/git.js';
import { changedPaths, currentBranch, descends, discardedRef, headState, resolveRev, restoreBranch, runRef, setRef } from '../core/history.js';
import { ledgerCounts, reconcilePlan, setStates, type LedgerTask, type Violation } from '../core/ledger.js';
import type { TamperingKind } from '../core/types.js';
import type { EventSink, RunInput } from './types.js';

export interface Judgement {
  stepId: number;
  history: { branch: string | null; head: string | null; runHead: string | null } | null;
  specTampered: boolean;
  /** The plan as it must be (null: plan-less run, or the history repair restores it anyway). */
  plan: string | null;
  ledger: LedgerTask[] | null;
  violations: Violation[];
  ticked: number[];
  added: number[];
  /** Ticks undone because the iteration changed nothing but the plan. */
  untickedWithoutWork: number[];
  codeChanged: boolean;
  tampering: TamperingKind[];
  /** What the next prompt tells the agent about it. */
  notes: string[];
  /** The commit loopd made of changes the agent left uncommitted, if any. */
  leftover: string | null;
  /** The run branch head once the agent's state was judged (before loopd's own repairs). */
  headAfter: string | null;
  /** The run branch head after loopd's repairs: what the next step starts from. */
  finalHead?: string;
  /** Set once the repairs are done and the signals emitted. */
  applied: boolean;
  /**
   * On the judgement judgeImplementation returns (never saved): whether this call changed the
   * worktree (a leftover commit, a repair, a restored branch, a rewritten file). When it did not
   * and the caller's status saw a clean tree, that status still describes the worktree.
   */
  touched?: boolean;
}

/** The file as a regular file's text; null if missing, a link, or not a file. */
export function readRegular(path: string): string | null {
  try {
    if (!lstatSync(path).isFile()) return null;
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function quoteIds(ledger: readonly LedgerTask[], ids: readonly number[]): string {
  return ids.map((id) => `task ${id} "${ledger.find((t) => t.taskId === id)?.text ?? '?'}"`).join(', ');
}

function emptyJudgement(stepId: number): Judgement {
  return {
    stepId,
    history: null,
    specTampered: false,
    plan: null,
    ledger: null,
    violations: [],
    ticked: [],
    added: [],
    untickedWithoutWork: [],
    codeChanged: false,
    tampering: [],
    notes: [],
    leftover: null,
    headAfter: null,
    applied: false,
  };
}

type HeadState = { head: string | null; branchHead: string | null; branch: string | null };

/** History is append-only: true (and j filled in) when the run branch was left or rewritten. */
async function historyRewritten(o: JudgeInput, st: WorktreeStatus, state: HeadState, j: Judgement): Promise<boolean> {
  const { run, worktree, commitBefore } = o;
  const { branch, branchHead: runHead } = state;
  const onBranch = branch === run.runBranch;
  // On the run branch, runHead is the HEAD the caller's status saw (or a leftover commit on top
  // of it), so the caller's ancestry answer holds; anything else is asked here.
  const known = onBranch && o.known !== undefined && o.knownDescends !== undefined && st === o.known ? o.knownDescends : undefined;
  const descendsOk = runHead !== null && (runHead === commitBefore || (known ?? (await descends(worktree, commitBefore, runHead))));
  if (onBranch && descendsOk) return false;
  j.history = { branch, head: state.head, runHead };
  j.tampering.push('history_rewritten');
  const what = !onBranch
    ? `you left the worktree on ${branch ? `branch ${branch}` : 'a detached HEAD'} instead of ${run.runBranch}`
    : `the run branch no longer contains commit ${commitBefore.slice(0, 12)} (history was rewritten: reset, rebase or amend)`;
  j.notes.push(
    `History is append-only: ${what}. loopd put ${run.runBranch} back at ${commitBefore.slice(0, 12)}, so everything your last iteration did is gone from the branch. Never reset, rebase, amend or switch branches; only add commits.`,
  );
  return true;
}

/** The plan may only gain ticks (with work in the same iteration) and new tasks. */
function planFindings(o: JudgeInput, j: Judgement): void {
  const { run, worktree, ledger, iteration } = o;
  if (!run.planPath || run.planText == null || ledger.length === 0) return;
  const rec = reconcilePlan(ledger, readRegular(join(worktree, run.planPath)), { iteration, fallback: o.planBefore });
  j.violations = rec.violations;
  j.added = rec.added;
  let plan = rec.plan;
  let next = rec.ledger;
  if (rec.violations.length > 0) {
    j.tampering.push('plan_tampered');
    j.notes.push(
      `Your plan edits went beyond what you may do (tick a task you finished, add new "- [ ]" tasks, edit prose), so loopd undid them:\n${rec.violations.map((v) => `  - ${v.detail}`).join('\n')}`,
    );
  }
  if (!j.codeChanged && rec.ticked.length > 0) {
    j.untickedWithoutWork = rec.ticked;
    ({ plan, ledger: next } = setStates(next, plan, rec.ticked, 'open'));
    j.tampering.push('tick_without_work');
    j.notes.push(
      `You ticked ${quoteIds(next, rec.ticked)} but your commits changed nothing except the plan, so loopd un-ticked ${rec.ticked.length === 1 ? 'it' : 'them'}. A tick needs the work in the same iteration.`,
    );
  }
  j.ticked = rec.ticked.filter((id) => !j.untickedWithoutWork.includes(id));
  j.plan = plan;
  j.ledger = next;
}

/** Did the commits from commitBefore to head change anything but the plan and the spec? */
async function codeChangedSince(o: JudgeInput, st: WorktreeStatus, head: string): Promise<boolean> {
  const { run, worktree, commitBefore } = o;
  if (head === commitBefore) return false;
  // The caller's answers hold for the HEAD its status saw; a leftover commit on top is asked here.
  const sameHead = o.known !== undefined && st === o.known && head === st.head;
  if (sameHead && o.knownCodeChanged !== undefined) return o.knownCodeChanged;
  const changed = (sameHead ? o.knownChanged : undefined) ?? (await changedPaths(worktree, commitBefore, head));
  return changed.some((p) => p !== run.planPath && p !== run.specPath);
}

async function findings(o: JudgeInput): Promise<Judgement> {
  const { run, worktree, commitBefore, iteration } = o;
  const j = emptyJudgement(o.stepId);
  // An agent that forgot to commit must not lose its work: the merge only sees commits. One
  // `git status` (or the one the caller took) answers the leftover check, HEAD and the branch.
  const st = o.known ?? (await worktreeStatus(worktree));
  const left = await commitLeftovers(worktree, `loopd: uncommitted changes left by iteration ${iteration}`, st);
  j.leftover = left.committed;
  const state: HeadState =
    st.branch === run.runBranch ? { head: left.head, branchHead: left.head, branch: st.branch } : await headState(worktree, run.runBranch);
  if (commitBefore && (await historyRewritten(o, st, state, j))) return j;
  const spec = readRegular(join(worktree, run.specPath));
  const specTruth = run.specText ?? null;
  if (specTruth !== null && spec !== specTruth) {
    j.specTampered = true;
    j.tampering.push('spec_tampered');
    j.notes.push(`The spec ${run.specPath} is read-only: your changes to it were reverted. Implement the spec as written.`);
  }
  const head = state.head ?? (await headCommit(worktree));
  j.headAfter = head;
  // Without a recorded start (a step adopted from an older daemon) no tick is taken back.
  j.codeChanged = commitBefore ? await codeChangedSince(o, st, head) : true;
  planFindings(o, j);
  return j;
}

export interface JudgeInput {
  run: RunInput;
  worktree: string;
  stepId: number;
  iteration: number;
  /** The run branch head when the step started: the head loopd recorded last. */
  commitBefore: string;
  planBefore: string | null;
  ledger: LedgerTask[];
  judgementPath: string;
  sink: EventSink;
  /** A `git status` the caller took after the agent ended (nothing changed since). */
  known?: WorktreeStatus;
  /** With `known`: whether commitBefore is an ancestor of the HEAD that status saw (rev-list --left-right). */
  knownDescends?: boolean;
  /** With `known`: the paths changed from commitBefore to the HEAD that status saw (diff --name-only). */
  knownChanged?: string[];
  /** With `known`: whether those commits changed anything but the plan and the spec. */
  knownCodeChanged?: boolean;
}

/** Judges and repairs the worktree after an implementation agent; safe to run again after a crash. */
export async function judgeImplementation(o: JudgeInput): Promise<Judgement> {
  const { run, worktree, sink } = o;
  let j: Judgement | null = null;
  if (existsSync(o.judgementPath)) {
    const saved = JSON.parse(readFileSync(o.judgementPath, 'utf8')) as Judgement;
    if (saved.stepId === o.stepId) j = saved;
  }
  if (!j) {
    j = await findings(o);
    writeFileAtomic(o.judgementPath, JSON.stringify(j, null, 2));
  }
  let touched = j.leftover !== null;
  if (j.history) {
    touched = true;
    // Nothing committed is ever lost: the agent's heads stay reachable under refs/loopd/.
    if (j.history.head) await setRef(worktree, discardedRef(run.id, o.stepId, 'head'), j.history.head);
    if (j.history.runHead && j.history.runHead !== j.history.head) await setRef(worktree, discardedRef(run.id, o.stepId, 'branch'), j.history.runHead);
    await restoreBranch(worktree, run.runBranch, o.commitBefore);
  } else {
    const fixes: string[] = [];
    if (j.specTampered && run.specText != null) {
      const specFile = join(worktree, run.specPath);
      if (readRegular(specFile) !== run.specText) {
        writeFileAtomic(specFile, run.specText);
        touched = true;
      }
      fixes.push('spec');
    }
    if (j.plan !== null && run.planPath) {
      const planFile = join(worktree, run.planPath);
      if (readRegular(planFile) !== j.plan) {
        writeFileAtomic(planFile, j.plan);
        touched = true;
      }
      if (j.violations.length > 0 || j.untickedWithoutWork.length > 0) fixes.push('plan');
    }
    if (fixes.length > 0) {
      await commitAll(worktree, `loopd: undo the agent's changes to the ${fixes.join(' and ')} in iteration ${o.iteration}`);
      touched = true;
    }
  }
  // Without a repair the head is the one judged; a repair (or a re-run after a crash) asks git.
  const repaired = j.history !== null || j.specTampered || j.violations.length > 0 || j.untickedWithoutWork.length > 0;
  const head = !repaired && j.applied === false && j.headAfter ? j.headAfter : await headCommit(worktree);
  await setRef(worktree, runRef(run.id), head);
  j.finalHead = head;
  if (!j.applied) {
    const it = o.iteration;
    if (j.leftover) sink.event('LEFTOVER_COMMITTED', { iteration: it, commit: j.leftover });
    if (j.history) sink.event('SIGNAL', { signal: 'history_rewritten', iteration: it, ...j.history, restoredTo: o.commitBefore });
    if (j.specTampered) sink.event('SIGNAL', { signal: 'spec_tampered', iteration: it, spec: run.specPath });
    if (j.violations.length > 0) sink.event('SIGNAL', { signal: 'plan_tampered', iteration: it, changes: j.violations.map((v) => v.detail) });
    if (j.untickedWithoutWork.length > 0) sink.event('SIGNAL', { signal: 'tick_without_work', iteration: it, tasks: j.untickedWithoutWork });
    if (j.ledger && (j.ticked.length > 0 || j.added.length > 0 || j.violations.length > 0 || j.untickedWithoutWork.length > 0)) {
      sink.event('LEDGER_UPDATED', { iteration: it, ticked: j.ticked, added: j.added, ...ledgerCounts(j.ledger) });
    }
    j.applied = true;
    writeFileAtomic(o.judgementPath, JSON.stringify(j, null, 2));
  }
  return { ...j, touched };
}

/**
 * After a step that runs commands the agent may control (verification runs the repo's own test
 * scripts): puts the run branch back at the head loopd recorded if the step moved the worktree off
 * it or rewrote it. Returns what was found, or null when history is intact. Idempotent.
 */
export async function guardHistory(o: { run: RunInput; worktree: string; stepId: number; recorded: string; what: string }): Promise<{ note: string; payload: Record<string, unknown> } | null> {
  const { run, worktree, recorded } = o;
  const branch = await currentBranch(worktree);
  const runHead = await resolveRev(worktree, `refs/heads/${run.runBranch}`);
  const head = await resolveRev(worktree, 'HEAD');
  const intact = branch === run.runBranch && runHead !== null && (await descends(worktree, recorded, runHead));
  if (intact) return null;
  if (head) await setRef(worktree, discardedRef(run.id, o.stepId, 'head'), head);
  if (runHead && runHead !== head) await setRef(worktree, discardedRef(run.id, o.stepId, 'branch'), runHead);
  await restoreBranch(worktree, run.runBranch, recorded);
  await setRef(worktree, runRef(run.id), recorded);
  return {
    note: `History is append-only: ${o.what} left ${run.runBranch} rewritten or the worktree on another branch; loopd put it back at ${recorded.slice(0, 12)}. Never reset, rebase, amend or switch branches, not even from test scripts.`,
    payload: { branch, head, runHead, restoredTo: recorded },
  };
}
