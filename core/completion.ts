// Completion rules. The agent's claim is only one input: a run completes when the facts agree.
import type { LedgerCounts } from './ledger.js';
import { COMPLETION_TOKEN, type CompletionMode } from './types.js';

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
// Near misses (case, inner spaces) still reveal an attempt to claim, so they count as malformed.
const LOOSE_TOKEN_RE = /<promise>\s*complete\s*<\/promise>/i;

export function detectCompletion(output: string, mode: CompletionMode): { claimed: boolean; malformed: boolean } {
  // Colour codes are terminal decoration, not text the agent chose to print.
  const clean = output.replace(ANSI_RE, '');
  let claimed: boolean;
  if (mode === 'exact') {
    claimed = clean.trim() === COMPLETION_TOKEN;
  } else {
    claimed = lastNonEmptyLine(clean) === COMPLETION_TOKEN;
  }
  return { claimed, malformed: !claimed && LOOSE_TOKEN_RE.test(clean) };
}

/**
 * The last line (split at \r\n, \n or \r) that is not blank, trimmed; undefined if none. Found from
 * the end: the text is a 4 MiB output window, and splitting all of it into lines to keep the last
 * one made an array and a string per line at every step end. Each separator is looked for once.
 */
export function lastNonEmptyLine(text: string): string | undefined {
  let nl = text.length;
  let cr = text.length;
  for (let end = text.length; end > 0; ) {
    if (nl >= end) nl = text.lastIndexOf('\n', end - 1);
    if (cr >= end) cr = text.lastIndexOf('\r', end - 1);
    const sep = Math.max(nl, cr);
    const line = text.slice(sep + 1, end).trim();
    if (line !== '') return line;
    end = sep;
  }
  return undefined;
}

export type Completion = 'complete_token' | 'complete_facts';

export interface GateInput {
  claimed: boolean;
  /** The task ledger; null for a plan-less run, which can only complete on the agent's claim. */
  ledger: LedgerCounts | null;
  /** Open tasks as the implementation step counted them (plan-less runs: 0). */
  openTasks: number;
  reviewerOn: boolean;
  /** The latest review of the run; null when none has run yet. */
  lastReviewApproved: boolean | null;
  /** The latest verification of the run; null when there are no verification commands. */
  verificationPassed: boolean | null;
}

function tasks(n: number): string {
  return `${n} task${n === 1 ? '' : 's'}`;
}

export interface GateResult {
  complete: boolean;
  /** Which proof: the agent also said so (token), or the facts alone. Set when complete. */
  completion: Completion | null;
  signal: 'malformed_complete' | null;
  reason: string;
}

/**
 * Completion is a fact about the ledger, verification and review, whatever the agent printed: a
 * plan run completes when every task is reviewed (or was done before the run; with the reviewer
 * off, ticked in an iteration that changed code), the last verification passed and the last
 * review approved. The token only decides which proof is recorded. A plan-less run has no ledger,
 * so there the token is required.
 */
export function completionGate(g: GateInput): GateResult {
  const no = (reason: string, signal: GateResult['signal'] = null): GateResult => ({ complete: false, completion: null, signal, reason });
  const open = g.ledger ? g.ledger.open : g.openTasks;
  if (open > 0) {
    if (g.claimed) return no(`the agent claimed completion but ${tasks(open)} ${open === 1 ? 'is' : 'are'} still open`, 'malformed_complete');
    return no(`${tasks(open)} open`);
  }
  if (!g.ledger && !g.claimed) return no('the agent did not claim completion (a plan-less run completes on its token)');
  const blockers: string[] = [];
  if (g.ledger && g.ledger.total === 0) blockers.push('the plan has no task');
  if (g.reviewerOn) {
    if (g.ledger && g.ledger.pendingReview > 0) blockers.push(`${tasks(g.ledger.pendingReview)} ticked but not yet reviewed`);
    if (g.lastReviewApproved === false) blockers.push('the last review did not approve');
    if (!g.ledger && g.lastReviewApproved === null) blockers.push('no review has approved yet');
  }
  if (g.verificationPassed === false) blockers.push('the last verification failed');
  if (blockers.length > 0) return no(blockers.join('; '));
  const checks = [g.ledger ? `all ${tasks(g.ledger.total)} done` : 'claimed by the agent'];
  if (g.reviewerOn && g.lastReviewApproved) checks.push('last review approved');
  if (g.verificationPassed === true) checks.push('last verification passed');
  const completion: Completion = g.claimed ? 'complete_token' : 'complete_facts';
  return { complete: true, completion, signal: null, reason: `${completion}: ${checks.join(', ')}` };
}
