// What an implementation step reads after its agent exits, besides the judge's checks: the git
// facts taken at once (the status, the agent's commits, what they changed), and the plan's
// tallies for the step's result and report row.
import { changesBeyond, headCommitFromFiles, linearAhead } from '../core/git-files.js';
import { aheadBehind, worktreeStatus, type WorktreeStatus } from '../core/git.js';
import { changedPaths } from '../core/history.js';
import { ledgerCounts, type LedgerTask } from '../core/ledger.js';
import { parsePlan } from '../core/plan.js';
import type { RunInput } from './types.js';

export interface AfterExitFacts {
  /** Branch, HEAD and leftovers; null when it could not be read (taken again, with its error, later). */
  status: WorktreeStatus | null;
  /** The agent's commits on top of commitBefore, for the HEAD the status saw. */
  agentCommits: number | null;
  /** Whether commitBefore is still an ancestor of that HEAD. */
  descends?: boolean;
  /** Paths the agent's commits changed (commitBefore to that HEAD), when git was asked. */
  changed?: string[];
  /** Whether they changed anything but the plan and the spec, when read from the objects. */
  codeChanged?: boolean;
}

/**
 * One `git status` (branch check, leftover check, HEAD), against the HEAD read from the git
 * directory's files first. Whether the agent's commits changed anything but the plan and spec
 * comes from comparing the loose tree objects (else `diff --name-only`, beside the status); their
 * count and whether they descend from commitBefore from the commit objects when they form a
 * straight line (else one `rev-list --left-right`). Nothing but the status is needed when HEAD
 * did not move. The answers are kept only if the status saw that same HEAD.
 */
export async function afterExitFacts(run: Pick<RunInput, 'worktreePath' | 'planPath' | 'specPath'>, commitBefore: string): Promise<AfterExitFacts> {
  const worktree = run.worktreePath;
  const seen = headCommitFromFiles(worktree);
  const still = commitBefore !== '' && seen === commitBefore;
  const moved = commitBefore !== '' && seen !== undefined && !still;
  // A straight line of the agent's commits on top of commitBefore is counted from the objects,
  // and their trees compared there too, when the objects are loose.
  const linear = moved ? linearAhead(worktree, commitBefore, seen) : undefined;
  const notes = [run.planPath, run.specPath].filter((p): p is string => !!p);
  const codeChanged = moved ? changesBeyond(worktree, commitBefore, seen, notes) : undefined;
  const none = { ahead: linear ?? 0, behind: 0 };
  const [status, ab, changed] = await Promise.all([
    worktreeStatus(worktree).catch(() => null),
    !commitBefore || still || linear !== undefined ? Promise.resolve(none) : aheadBehind(worktree, commitBefore, seen ?? 'HEAD').catch(() => null),
    still ? Promise.resolve([]) : moved && codeChanged === undefined ? changedPaths(worktree, commitBefore, seen).catch(() => null) : Promise.resolve(null),
  ]);
  if (status === null || (seen !== undefined && status.head !== seen)) return { status, agentCommits: null };
  return {
    status,
    agentCommits: ab ? ab.ahead : null,
    ...(ab && commitBefore ? { descends: ab.behind === 0 } : {}),
    ...(changed ? { changed } : {}),
    ...(codeChanged !== undefined ? { codeChanged } : {}),
  };
}

/** The facts in the judge's terms (JudgeInput's known*), so it asks git only for what is missing. */
export function knownToJudge(facts: AfterExitFacts): { known?: WorktreeStatus; knownDescends?: boolean; knownChanged?: string[]; knownCodeChanged?: boolean } {
  const { status } = facts;
  if (!status) return {};
  return {
    known: status,
    ...(facts.descends !== undefined ? { knownDescends: facts.descends } : {}),
    ...(facts.changed ? { knownChanged: facts.changed } : {}),
    ...(facts.codeChanged !== undefined ? { knownCodeChanged: facts.codeChanged } : {}),
  };
}

export interface PlanTallies {
  openTasks: number;
  unreviewedTasks: number;
  tasksDone: number | null;
  tasksTotal: number | null;
}

/** Task counts from loopd's ledger, or from the plan file for runs without a recorded plan. */
export function planTallies(run: RunInput, ledger: LedgerTask[], planAfter: string | null): PlanTallies {
  if (ledger.length > 0 && run.planText != null) {
    const lc = ledgerCounts(ledger);
    return { openTasks: lc.open, unreviewedTasks: lc.pendingReview, tasksDone: lc.total - lc.open, tasksTotal: lc.total };
  }
  if (planAfter === null) return { openTasks: 0, unreviewedTasks: 0, tasksDone: null, tasksTotal: null };
  const counts = parsePlan(planAfter).counts;
  return { openTasks: counts.open, unreviewedTasks: counts.done, tasksDone: counts.done + counts.reviewed, tasksTotal: counts.total };
}
