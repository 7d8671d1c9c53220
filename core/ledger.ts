// The task ledger: loopd's own record of the plan's tasks, kept in SQLite. The plan file in the
// worktree is only the agent's view of it. These pure rules say what an agent may change in that
// view (tick an open task, add a new open task, edit prose), and rewrite the plan so that it
// agrees with the ledger again wherever the agent went further.
import { parsePlan, type PlanTask, type TaskMarker } from './plan.js';

export const LEDGER_STATES = ['open', 'blocked', 'done', 'reviewed'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

export interface LedgerTask {
  /** Stable for the run: 1..n in plan order at creation, then n+1... for tasks the agent adds. */
  taskId: number;
  /** Task text, whitespace-normalised; what a plan line is matched by. */
  text: string;
  /** The plan line as loopd last saw it, used to put a removed or reworded task back. */
  line: string;
  section: string | null;
  /** Position in the plan, for display and for where a restored line goes. */
  ord: number;
  state: LedgerState;
  /** Already [x]/[R] when the run was created: counts as done, never marked reviewed by a review. */
  doneBeforeRun: boolean;
  /** null for tasks that were in the plan at creation. */
  addedIteration: number | null;
  /** The iteration whose implementation ticked it, while it waits for (or passed) review. */
  tickedIteration: number | null;
}

export interface Violation {
  /** removed: a ledger task is gone or reworded; marker: a marker the agent may not write. */
  kind: 'removed' | 'marker' | 'plan_missing';
  taskId: number | null;
  detail: string;
}

export interface Reconciliation {
  /** The plan as it must be: the agent's plan with every violation undone. */
  plan: string;
  ledger: LedgerTask[];
  violations: Violation[];
  /** Ledger tasks (and new tasks written as [x]) ticked by this step. */
  ticked: number[];
  added: number[];
}

const STATE_MARK: Record<LedgerState, string> = { open: ' ', blocked: '~', done: 'x', reviewed: 'R' };
const MARKER_STATE: Record<TaskMarker, LedgerState> = { pending: 'open', blocked: 'blocked', done: 'done', reviewed: 'reviewed' };
const MARK_SHOWN: Record<TaskMarker, string> = { pending: '[ ]', blocked: '[~]', done: '[x]', reviewed: '[R]' };

export function normaliseTaskText(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

/** A plan that is not text (a binary file) has no tasks, whatever bytes look like checkboxes. */
export function isTextPlan(text: string): boolean {
  return !text.includes('\0');
}

/** The ledger of a plan handed over at run creation. */
export function ledgerFromPlan(text: string): LedgerTask[] {
  if (!isTextPlan(text)) return [];
  const lines = text.split('\n');
  return parsePlan(text).tasks.map((t, i) => {
    const state = MARKER_STATE[t.marker];
    return {
      taskId: i + 1,
      text: normaliseTaskText(t.text),
      line: stripCR(lines[t.line] ?? ''),
      section: t.heading,
      ord: i + 1,
      state,
      doneBeforeRun: state === 'done' || state === 'reviewed',
      addedIteration: null,
      tickedIteration: null,
    };
  });
}

export interface LedgerCounts {
  total: number;
  /** [ ] and [~] */
  open: number;
  /** [x] ticked during the run, waiting for review (reviewer on) */
  pendingReview: number;
  reviewed: number;
  doneBeforeRun: number;
}

export function ledgerCounts(ledger: readonly LedgerTask[]): LedgerCounts {
  const c: LedgerCounts = { total: ledger.length, open: 0, pendingReview: 0, reviewed: 0, doneBeforeRun: 0 };
  for (const t of ledger) {
    if (t.state === 'open' || t.state === 'blocked') c.open++;
    else if (t.state === 'reviewed' && !t.doneBeforeRun) c.reviewed++;
    else if (t.doneBeforeRun) c.doneBeforeRun++;
    else c.pendingReview++;
  }
  return c;
}

/** Ticked during the run and not yet reviewed: what the next review is about. */
export function pendingReview(ledger: readonly LedgerTask[]): LedgerTask[] {
  return ledger.filter((t) => t.state === 'done' && !t.doneBeforeRun);
}

function stripCR(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

const TASK_PREFIX_RE = /^(\s*(?:[-*+]|\d{1,9}[.)])\s+\[)([ ~xXR])\]/;

function withMark(line: string, mark: string): string {
  const m = TASK_PREFIX_RE.exec(line);
  if (!m?.[1]) return line;
  return line.slice(0, m[1].length) + mark + line.slice(m[1].length + 1);
}

interface Match {
  /** ledger taskId -> the plan task it was found as */
  found: Map<number, PlanTask>;
  /** plan tasks that match no ledger task, in plan order */
  extra: PlanTask[];
}

// A note the agent appends to a task line ("- [x] add login (see auth.ts)") is free text, not a
// rewording: the task's own words are all still there. Only a note set off by a bracket, colon,
// semicolon, dash, arrow or check mark counts, so "add tests" -> "add tests later" or "add tests,
// unit only" is still a rewording.
const NOTE_RE = /^\s*[([{:;\u2013\u2014\u2192\u2713\u2714-]/;

function isAnnotated(planText: string, ledgerText: string): boolean {
  return planText.length > ledgerText.length && planText.startsWith(ledgerText) && NOTE_RE.test(planText.slice(ledgerText.length));
}

/**
 * Plan tasks are matched to ledger tasks by text, so the agent may reorder and move them freely:
 * exact text first, then a ledger task still unmatched to a line that only appends a note to it.
 */
function match(ledger: readonly LedgerTask[], tasks: readonly PlanTask[]): Match {
  const byText = new Map<string, LedgerTask[]>();
  for (const t of [...ledger].sort((a, b) => a.ord - b.ord)) {
    const list = byText.get(t.text) ?? [];
    list.push(t);
    byText.set(t.text, list);
  }
  const found = new Map<number, PlanTask>();
  const rest: PlanTask[] = [];
  for (const p of tasks) {
    const queue = byText.get(normaliseTaskText(p.text));
    const l = queue?.shift();
    if (l) found.set(l.taskId, p);
    else rest.push(p);
  }
  const unmatched = [...byText.values()].flat().sort((a, b) => b.text.length - a.text.length || a.ord - b.ord);
  const extra: PlanTask[] = [];
  for (const p of rest) {
    const text = normaliseTaskText(p.text);
    const i = unmatched.findIndex((l) => isAnnotated(text, l.text));
    if (i >= 0) found.set(unmatched.splice(i, 1)[0]!.taskId, p);
    else extra.push(p);
  }
  return { found, extra };
}

/**
 * Rewrites `plan` so every ledger task is present with the ledger's marker. A missing task takes
 * the place of an unknown task line between the same neighbours (a reworded task), or is inserted
 * after its nearest surviving predecessor. Tasks the ledger does not know and all prose stay.
 * Returns the text and the line of every ledger task in it.
 */
export function conformPlan(ledger: readonly LedgerTask[], plan: string): { plan: string; lines: Map<number, number> } {
  const lines = plan.split('\n');
  const { found, extra } = match(ledger, parsePlan(plan).tasks);
  const ordered = [...ledger].sort((a, b) => a.ord - b.ord);
  const replace = new Map<number, string>();
  const owner = new Map<number, number>(); // plan line -> ledger taskId now on it
  for (const t of ordered) {
    const p = found.get(t.taskId);
    if (!p) continue;
    owner.set(p.line, t.taskId);
    const cur = TASK_PREFIX_RE.exec(stripCR(lines[p.line] ?? ''))?.[2];
    const want = STATE_MARK[t.state];
    if (!(cur === want || (want === 'x' && cur === 'X'))) replace.set(p.line, withMark(lines[p.line] ?? '', want));
  }
  // Inserted lines, keyed by the plan line they go after (-1: before the first line).
  const after = new Map<number, { text: string; taskId: number }[]>();
  const atEnd: { text: string; taskId: number }[] = [];
  for (const [t, place] of placeMissing(ordered, found, extra)) {
    const restored = withMark(t.line, STATE_MARK[t.state]);
    if (place.kind === 'slot') {
      // A task line loopd does not know, exactly where the missing one was: a rewording.
      replace.set(place.line, restored);
      owner.set(place.line, t.taskId);
    } else if (place.kind === 'after') {
      after.set(place.line, [...(after.get(place.line) ?? []), { text: restored, taskId: t.taskId }]);
    } else {
      atEnd.push({ text: restored, taskId: t.taskId });
    }
  }
  const out: string[] = [];
  const taskLine = new Map<number, number>();
  const emit = (text: string, id: number | undefined) => {
    if (id !== undefined) taskLine.set(id, out.length);
    out.push(text);
  };
  for (const ins of after.get(-1) ?? []) emit(ins.text, ins.taskId);
  for (let i = 0; i < lines.length; i++) {
    emit(replace.get(i) ?? lines[i]!, owner.get(i));
    for (const ins of after.get(i) ?? []) emit(ins.text, ins.taskId);
  }
  if (atEnd.length > 0) {
    // Restored lines go before a final newline, not after it.
    const trailing = out.length > 0 && out[out.length - 1] === '' ? out.pop() : undefined;
    for (const ins of atEnd) emit(ins.text, ins.taskId);
    if (trailing !== undefined) out.push(trailing);
  }
  return { plan: out.join('\n'), lines: taskLine };
}

function quote(t: { taskId: number; text: string }): string {
  const text = t.text.length > 80 ? `${t.text.slice(0, 77)}...` : t.text;
  return `task ${t.taskId} "${text}"`;
}

/**
 * Judges the plan an implementation step left behind against the ledger. Allowed: [ ]/[~] -> [x]
 * (a tick), [x] -> [ ] (taking back unreviewed work), [~] -> [ ], new tasks, prose. Everything else
 * is undone in the returned plan and listed as a violation. `plan` null means the file is gone
 * (or no longer a regular text file); `fallback` is the plan as it was before the step.
 */
export function reconcilePlan(ledger: readonly LedgerTask[], plan: string | null, opts: { iteration: number; fallback: string | null }): Reconciliation {
  const violations: Violation[] = [];
  if (plan === null || !isTextPlan(plan)) {
    violations.push({ kind: 'plan_missing', taskId: null, detail: 'the plan file was deleted, replaced by a link or made unreadable; restored' });
    const base = opts.fallback !== null && isTextPlan(opts.fallback) ? opts.fallback : ledger.map((t) => t.line).join('\n') + '\n';
    return { plan: conformPlan(ledger, base).plan, ledger: [...ledger], violations, ticked: [], added: [] };
  }
  const tasks = parsePlan(plan).tasks;
  const { found, extra } = match(ledger, tasks);
  const next: LedgerTask[] = [];
  const ticked: number[] = [];
  for (const t of ledger) {
    const p = found.get(t.taskId);
    if (!p) {
      violations.push({ kind: 'removed', taskId: t.taskId, detail: `${quote(t)} was removed or reworded; put back as it was` });
      next.push(t);
      continue;
    }
    const to = MARKER_STATE[p.marker];
    let state = t.state;
    const refuse = (why: string) => violations.push({ kind: 'marker', taskId: t.taskId, detail: `${quote(t)}: ${why}; put back to ${MARK_SHOWN[markerOf(t.state)]}` });
    if (t.state === 'reviewed') {
      if (to !== 'reviewed') refuse(`reviewed work was changed to ${MARK_SHOWN[p.marker]}`);
    } else if (to === 'reviewed') {
      refuse('only loopd marks a task [R], after a review approved it');
    } else if (to === 'blocked' && t.state !== 'blocked') {
      refuse('[~] is not yours to write: leave an unfinished task [ ] and say why under it');
    } else if (to === 'done' && (t.state === 'open' || t.state === 'blocked')) {
      state = 'done';
      ticked.push(t.taskId);
    } else if (to === 'open' && t.state !== 'open') {
      state = 'open';
    }
    const line = stripCR(tasksLine(plan, p));
    if (state === t.state) next.push({ ...t, line: withMark(line, STATE_MARK[state]) });
    else if (state === 'done') next.push({ ...t, state, tickedIteration: opts.iteration, line });
    else next.push({ ...t, state, doneBeforeRun: false, tickedIteration: null, line });
  }
  // Reworded tasks come back in the place of the new wording (see conformPlan), so an unknown
  // line sitting exactly where a missing task was is not a new task.
  const rewordSlots = rewordedLines(ledger, found, extra);
  let nextId = ledger.reduce((m, t) => Math.max(m, t.taskId), 0) + 1;
  const added: number[] = [];
  for (const p of extra) {
    if (rewordSlots.has(p.line)) continue;
    const taskId = nextId++;
    let state: LedgerState = 'open';
    const line = stripCR(tasksLine(plan, p));
    if (p.marker === 'done') state = 'done';
    else if (p.marker !== 'pending') {
      violations.push({ kind: 'marker', taskId, detail: `new task ${quote({ taskId, text: normaliseTaskText(p.text) })} was written as ${MARK_SHOWN[p.marker]}; new tasks start as [ ]` });
    }
    added.push(taskId);
    if (state === 'done') ticked.push(taskId);
    next.push({
      taskId,
      text: normaliseTaskText(p.text),
      line: withMark(line, STATE_MARK[state]),
      section: p.heading,
      ord: 0,
      state,
      doneBeforeRun: false,
      addedIteration: opts.iteration,
      tickedIteration: state === 'done' ? opts.iteration : null,
    });
  }
  const conformed = conformPlan(next, plan);
  return { plan: conformed.plan, ledger: withOrder(next, conformed.lines), violations, ticked, added };
}

function markerOf(state: LedgerState): TaskMarker {
  return state === 'open' ? 'pending' : state === 'blocked' ? 'blocked' : state === 'done' ? 'done' : 'reviewed';
}

function tasksLine(plan: string, p: PlanTask): string {
  return plan.split('\n')[p.line] ?? '';
}

function rewordedLines(ledger: readonly LedgerTask[], found: Map<number, PlanTask>, extra: readonly PlanTask[]): Set<number> {
  const ordered = [...ledger].sort((a, b) => a.ord - b.ord);
  const used = new Set<number>();
  for (const [, place] of placeMissing(ordered, found, extra)) if (place.kind === 'slot') used.add(place.line);
  return used;
}

type Placement = { kind: 'slot'; line: number } | { kind: 'after'; line: number } | { kind: 'end' };

/**
 * Where each ledger task missing from the plan goes back: onto an unknown task line between the
 * same neighbours (a rewording), after its nearest placed predecessor (or before its next
 * survivor), or at the end. One rule for conformPlan and rewordedLines, so they never disagree.
 */
function placeMissing(ordered: readonly LedgerTask[], found: Map<number, PlanTask>, extra: readonly PlanTask[]): [LedgerTask, Placement][] {
  const placed = new Map<number, number>(); // taskId -> plan line it sits on or after
  for (const [id, p] of found) placed.set(id, p.line);
  const used = new Set<number>();
  const out: [LedgerTask, Placement][] = [];
  for (let i = 0; i < ordered.length; i++) {
    const t = ordered[i]!;
    if (found.has(t.taskId)) continue;
    const prev = ordered
      .slice(0, i)
      .map((o) => placed.get(o.taskId))
      .filter((l): l is number => l !== undefined)
      .at(-1);
    const next = ordered.slice(i + 1).map((o) => found.get(o.taskId)?.line).find((l) => l !== undefined);
    const slot = extra.find((e) => !used.has(e.line) && (prev === undefined || e.line > prev) && (next === undefined || e.line < next));
    if (slot) {
      used.add(slot.line);
      placed.set(t.taskId, slot.line);
      out.push([t, { kind: 'slot', line: slot.line }]);
    } else if (prev !== undefined || next !== undefined) {
      const at = prev ?? next! - 1;
      placed.set(t.taskId, at);
      out.push([t, { kind: 'after', line: at }]);
    } else {
      out.push([t, { kind: 'end' }]);
    }
  }
  return out;
}

/** Orders the ledger by where its tasks now stand in the plan. */
export function withOrder(ledger: readonly LedgerTask[], lines: Map<number, number>): LedgerTask[] {
  const pos = (t: LedgerTask) => lines.get(t.taskId) ?? Number.MAX_SAFE_INTEGER;
  return [...ledger].sort((a, b) => pos(a) - pos(b) || a.taskId - b.taskId).map((t, i) => ({ ...t, ord: i + 1 }));
}

/** Sets the state of the given tasks and rewrites the plan to match (review verdicts, un-ticks). */
export function setStates(
  ledger: readonly LedgerTask[],
  plan: string,
  ids: readonly number[],
  state: LedgerState,
): { plan: string; ledger: LedgerTask[] } {
  const want = new Set(ids);
  const next = ledger.map((t) =>
    want.has(t.taskId) ? { ...t, state, line: withMark(t.line, STATE_MARK[state]), tickedIteration: state === 'open' ? null : t.tickedIteration } : t,
  );
  return { plan: conformPlan(next, plan).plan, ledger: next };
}
