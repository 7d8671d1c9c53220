// Completion rules. The agent's claim is only one input: a run completes when the facts agree.
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
    const lines = clean.split(/\r\n|\n|\r/).map((l) => l.trim());
    const last = lines.filter((l) => l !== '').at(-1);
    claimed = last === COMPLETION_TOKEN;
  }
  return { claimed, malformed: !claimed && LOOSE_TOKEN_RE.test(clean) };
}

export interface GateInput {
  claimed: boolean;
  openTasks: number;
  reviewerOn: boolean;
  /** Tasks marked [x] but not yet [R]. */
  unreviewedTasks: number;
  /** null when no review has run yet. */
  lastReviewApproved: boolean | null;
  /** null when there are no verification commands. */
  verificationPassed: boolean | null;
}

function tasks(n: number): string {
  return `${n} task${n === 1 ? '' : 's'}`;
}

export function completionGate(g: GateInput): { complete: boolean; signal: 'malformed_complete' | null; reason: string } {
  if (!g.claimed) return { complete: false, signal: null, reason: 'the agent did not claim completion' };
  if (g.openTasks > 0) {
    return {
      complete: false,
      signal: 'malformed_complete',
      reason: `the agent claimed completion but ${tasks(g.openTasks)} ${g.openTasks === 1 ? 'is' : 'are'} still open`,
    };
  }
  const blockers: string[] = [];
  if (g.reviewerOn) {
    if (g.lastReviewApproved === null) blockers.push('no review has approved yet');
    else if (!g.lastReviewApproved) blockers.push('the last review did not approve');
    if (g.unreviewedTasks > 0) blockers.push(`${tasks(g.unreviewedTasks)} not yet reviewed`);
  }
  if (g.verificationPassed === false) blockers.push('verification failed');
  if (blockers.length > 0) return { complete: false, signal: null, reason: `claimed, but ${blockers.join('; ')}` };
  const checks = ['no open tasks'];
  if (g.reviewerOn) checks.push('review approved');
  if (g.verificationPassed === true) checks.push('verification passed');
  return { complete: true, signal: null, reason: `complete: ${checks.join(', ')}` };
}
