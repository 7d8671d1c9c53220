// Plan checklist rules. The plan file is the source of truth for progress, so parsing is strict
// about what counts as a task and edits touch only the marker characters.
import { createHash } from 'node:crypto';

export type TaskMarker = 'pending' | 'blocked' | 'done' | 'reviewed';

export interface PlanTask {
  /** 0-based line index in the plan text. */
  line: number;
  marker: TaskMarker;
  text: string;
  /** Text of the nearest heading above the task, or null. */
  heading: string | null;
}

export interface PlanCounts {
  pending: number;
  blocked: number;
  done: number;
  reviewed: number;
  total: number;
  /** pending + blocked */
  open: number;
}

const MARKERS: Record<string, TaskMarker> = {
  ' ': 'pending',
  '~': 'blocked',
  x: 'done',
  X: 'done',
  R: 'reviewed',
};

// Bullet (-, *, +) or ordered (1. / 1)) list item, then a one-character checkbox.
const TASK_RE = /^(\s*(?:[-*+]|\d{1,9}[.)])\s+\[)([ ~xXR])\](.*)$/;
const HEADING_RE = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;
const FENCE_RE = /^\s*(`{3,}|~{3,})(.*)$/;

// A section is left out only when its heading *is* a verification or manual-QA checklist: every
// word of it is one of these, and it names QA or verification. "## Phase 4: Reviewer,
// Verification, Watchdog" is a phase that builds those things, and its tasks count.
const CHECKLIST_WORDS = new Set([
  'qa', 'verification', 'verifications', 'verify', 'manual', 'human', 'final', 'post', 'pre', 'checklist', 'checklists',
  'check', 'checks', 'step', 'steps', 'test', 'tests', 'testing', 'acceptance', 'smoke', 'and', 'the', 'for',
  // numbering that may precede the name: "5. Verification", "Phase 6: QA"
  'phase', 'part', 'section', 'stage',
]);

export function isChecklistHeading(heading: string): boolean {
  const words = heading
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '' && !/^\d+$/.test(w));
  if (words.length === 0 || !words.every((w) => CHECKLIST_WORDS.has(w))) return false;
  const names = (w: string) => w === 'qa' || w.startsWith('verif');
  const manualTests = words.includes('manual') && words.some((w) => w.startsWith('test'));
  return words.some(names) || manualTests;
}

function splitLines(text: string): string[] {
  // Split on \n only: a CRLF line keeps its \r, so rejoining with \n is byte-identical.
  return text.split('\n');
}

function stripCR(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function normaliseText(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

export function parsePlan(text: string): { tasks: PlanTask[]; counts: PlanCounts } {
  const tasks: PlanTask[] = [];
  let fence: { char: string; len: number } | null = null;
  let heading: string | null = null;
  let excludedLevel: number | null = null;

  splitLines(text).forEach((rawLine, index) => {
    const line = stripCR(rawLine);
    const fenceMatch = FENCE_RE.exec(line);
    if (fence) {
      if (fenceMatch?.[1] && fenceMatch[1][0] === fence.char && fenceMatch[1].length >= fence.len && fenceMatch[2]?.trim() === '') {
        fence = null;
      }
      return;
    }
    if (fenceMatch?.[1]) {
      const char = fenceMatch[1][0] ?? '`';
      // A backtick fence's info string cannot contain backticks; otherwise it is inline code.
      if (!(char === '`' && fenceMatch[2]?.includes('`'))) {
        fence = { char, len: fenceMatch[1].length };
        return;
      }
    }
    const h = HEADING_RE.exec(line);
    if (h?.[1]) {
      const level = h[1].length;
      const title = (h[2] ?? '').replace(/[ \t]+#+$/, '').replace(/^#+$/, '').trim();
      if (excludedLevel !== null && level <= excludedLevel) excludedLevel = null;
      if (excludedLevel === null && isChecklistHeading(title)) excludedLevel = level;
      heading = title;
      return;
    }
    if (excludedLevel !== null) return;
    const m = TASK_RE.exec(line);
    if (!m) return;
    const rest = m[3] ?? '';
    // `[ ]?` marks a manual QA step for a human; the text must follow whitespace as in GFM.
    if (rest.startsWith('?')) return;
    if (rest !== '' && !/^\s/.test(rest)) return;
    const marker = MARKERS[m[2] ?? ''];
    if (!marker) return;
    tasks.push({ line: index, marker, text: rest.trim(), heading });
  });

  const counts: PlanCounts = { pending: 0, blocked: 0, done: 0, reviewed: 0, total: tasks.length, open: 0 };
  for (const t of tasks) counts[t.marker]++;
  counts.open = counts.pending + counts.blocked;
  return { tasks, counts };
}

const DIGEST_MARK: Record<TaskMarker, string> = { pending: ' ', blocked: '~', done: 'x', reviewed: 'R' };

/** sha256 of the task list alone, so reformatting or prose edits do not count as progress. */
export function planDigest(text: string): string {
  const normalised = parsePlan(text)
    .tasks.map((t) => `[${DIGEST_MARK[t.marker]}] ${normaliseText(t.text)}`)
    .join('\n');
  return createHash('sha256').update(normalised).digest('hex');
}
