// What the reviewer agent is asked, and how its answer is read.

export interface ReviewPromptInput {
  specPath: string;
  planPath: string | null;
  diffPath: string;
  diff: string;
  iteration: number;
  /** The tasks ticked in this diff: APPROVED marks exactly these reviewed. */
  ticked?: { id: number; text: string }[];
}

/** Diffs beyond this are cut: the reviewer can read the full diff file if it needs to. */
const MAX_INLINE_DIFF = 60_000;

export function buildReviewPrompt(p: ReviewPromptInput): string {
  const diff = p.diff.length > MAX_INLINE_DIFF ? `${p.diff.slice(0, MAX_INLINE_DIFF)}\n[... diff cut; the whole diff is in ${p.diffPath}]\n` : p.diff;
  return [
    `You are the reviewer of iteration ${p.iteration} of an automated coding loop. Another agent was asked to do`,
    'one task of the plan at a time, mark it [x] and commit. Review its change independently; do not edit files.',
    '',
    `Spec: ${p.specPath}`,
    `Plan: ${p.planPath ?? '(no plan file)'}`,
    `Diff since the last approved review: ${p.diffPath}`,
    '',
    ...tickedLines(p.ticked ?? []),
    'Check that the change does what each ticked task says, matches the spec, is correct and complete, and',
    'did not break or fake anything (no disabled tests, no hard-coded results, no TODO left in place of the work).',
    '',
    'If the change is acceptable, answer with the single word APPROVED on the last line.',
    'Otherwise do not write APPROVED anywhere: list the problems, one per line, each concrete enough to fix.',
    '',
    '```diff',
    diff.trimEnd() === '' ? '(no changes)' : diff.trimEnd(),
    '```',
    '',
  ].join('\n');
}

function tickedLines(ticked: readonly { id: number; text: string }[]): string[] {
  if (ticked.length === 0) return ['No task was ticked in this diff: judge the change itself.', ''];
  return [
    'Tasks ticked in this diff (APPROVED marks exactly these reviewed; a rejection sends them back to be redone):',
    ...ticked.map((t) => `- task ${t.id}: ${t.text}`),
    '',
  ];
}

/** APPROVED alone on the last non-empty line (markdown emphasis and a trailing period tolerated). */
export function isApproved(text: string): boolean {
  const last = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .at(-1);
  if (!last) return false;
  return /^[*_`]*APPROVED[*_`]*\.?$/.test(last);
}
