// The sentence after an event's type, one per event type, each typed by its event (core/events.ts
// through the API's EventView union): a field renamed in the contract is a compile error here. A
// type this client does not know (a newer daemon) falls back to key=value.
import type { EventPayloads, EventType } from '../core/events.js';
import type { EventView, EventViewOf } from '../router/index.js';
import { formatClock, formatDuration, summarizePayload } from './format.js';
import { escapeControls } from './text.js';

/** The fields of several event types that share a sentence, all optional. */
type Fields<K extends EventType> = Partial<UnionToIntersection<EventPayloads[K]>>;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

type Payload = Record<string, unknown>;

export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** First line of a text, whitespace collapsed, cut to max characters. */
export function clip(text: string, max = 120): string {
  const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const t = first.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** "$0.0123" below a dollar, "$5.00" above. */
export function formatUsd(n: number): string {
  return `$${n.toFixed(Math.abs(n) < 1 && n !== 0 ? 4 : 2)}`;
}

/**
 * Local time of day, with the date when it is not the same local day as `ref` (a rate limit that
 * lifts tomorrow should say so).
 */
export function formatLocalTime(ts: number, ref: number): string {
  const d = new Date(ts);
  const r = new Date(ref);
  const pad = (n: number) => String(n).padStart(2, '0');
  const sameDay = d.getFullYear() === r.getFullYear() && d.getMonth() === r.getMonth() && d.getDate() === r.getDate();
  const day = sameDay ? '' : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `;
  return `${day}${formatClock(ts)}`;
}

/** "iter 3 implementation", "iter 2 review attempt 2": where in the loop an event happened. */
function where(p: Payload, withAttempt = true): string {
  const parts: string[] = [];
  const iteration = num(p.iteration);
  if (iteration !== null) parts.push(`iter ${iteration}`);
  const phase = str(p.phase);
  if (phase !== null) parts.push(phase);
  const attempt = num(p.attempt);
  if (withAttempt && attempt !== null && attempt > 1) parts.push(`attempt ${attempt}`);
  return parts.join(' ');
}

function rest(p: Payload, used: readonly string[], max = 100): string {
  const left: Payload = {};
  for (const [k, v] of Object.entries(p)) if (!used.includes(k)) left[k] = v;
  return summarizePayload(left, max);
}

/** `iter 3 review: <detail>`, or just the detail when the payload does not say where. */
function at(p: Payload, detail: string | null | false, withAttempt = true): string {
  const w = where(p, withAttempt);
  if (!detail) return w;
  return w === '' ? detail : `${w}: ${detail}`;
}

const join = (...parts: (string | null | undefined | false)[]): string => parts.filter((x): x is string => !!x).join(' ');

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** STEP_FINISHED carries a digest of the step's result; these keys get words, others key=value. */
const RESULT_WORDS: Record<string, (v: unknown, p: Payload) => string | null> = {
  tasksDone: () => null,
  tasksTotal: (v, p) => (num(v) === null ? null : `tasks ${num(p.tasksDone) ?? 0}/${num(v)}`),
  openTasks: () => null,
  commits: (v) => (num(v) === null ? null : num(v) === 0 ? 'no commits' : plural(num(v) ?? 0, 'commit')),
  claimed: (v) => (v === true ? 'claims complete' : null),
  timedOut: (v) => (v === true ? 'timed out' : null),
  approved: (v) => (v === true ? 'approved' : v === false ? 'changes requested' : null),
  passed: () => null,
  // The error itself is the event's `error`; here only the fact.
  transientError: (v) => (v === true || (typeof v === 'string' && v !== '') ? 'transient error' : null),
  costUsd: (v) => (num(v) === null ? null : `$${(num(v) ?? 0).toFixed(4)}`),
  inputTokens: () => null,
  outputTokens: (v, p) => (num(v) === null ? null : `${num(p.inputTokens) ?? 0}/${num(v)} tokens`),
  signal: (v) => (str(v) ? `signal ${str(v)}` : null),
  mergeStatus: (v) => (str(v) ? `merge ${str(v)}` : null),
  commit: (v) => (str(v) ? `commit ${(str(v) ?? '').slice(0, 9)}` : null),
  conflicts: (v) => (Array.isArray(v) ? (v.length === 0 ? null : `conflicts in ${clip(v.join(', '), 60)}`) : null),
};

function stepFinished(p: Payload): string {
  const bits: string[] = [];
  const exitCode = num(p.exitCode);
  if (exitCode !== null && exitCode !== 0) bits.push(`exit ${exitCode}`);
  const other: Payload = {};
  for (const [k, v] of Object.entries(p)) {
    if (['phase', 'iteration', 'attempt', 'status', 'exitCode', 'error'].includes(k)) continue;
    const words = RESULT_WORDS[k];
    if (!words) {
      other[k] = v;
      continue;
    }
    const text = words(v, p);
    if (text) bits.push(text);
  }
  const extra = summarizePayload(other, 80);
  if (extra) bits.push(extra);
  const head = join(where(p), str(p.status), bits.length > 0 && `(${bits.join(', ')})`);
  const error = str(p.error);
  return error ? `${head}: ${clip(error)}` : head;
}

/** The shortest unique prefix of a run id the event names (the daemon's, when it sent one). */
export function shortRun(ev: EventView, runId: string): string {
  return runId === ev.runId && ev.runShortId ? ev.runShortId : runId.slice(0, 8);
}

/** The spec a trigger event is about, as the watcher names it (relative to the workspace root). */
function specOf(p: Payload): string {
  return str(p.spec) ?? str(p.specPath) ?? str(p.path) ?? '?';
}

/** Fields older daemons wrote under other names, read untyped on purpose. */
const legacy = (ev: EventView): Payload => ev.payload as Payload;

/** Where in the loop, and the rest of the payload as key=value: for events without a sentence. */
function fallback(ev: EventView): string {
  const p = ev.payload as Payload;
  const w = where(p);
  return join(w, rest(p, w === '' ? [] : ['iteration', 'phase', 'attempt'], 140));
}

// Shared sentences take the union of their types' views (not Summary<A | B>: variance through the
// Extract in EventViewOf is not measured, so the table's slots would reject them).
type Summary<K extends EventType> = (ev: EventViewOf<K>) => string;

// ---- steps and agents ---------------------------------------------------------------------------

const stepStarted = (ev: EventViewOf<'STEP_STARTED' | 'STEP_ADOPTED'>): string => {
  const p: Fields<'STEP_STARTED' | 'STEP_ADOPTED'> = ev.payload;
  return join(where(p), num(p.pid) !== null && `(pid ${num(p.pid)})`);
};

const stepQueued = (ev: EventViewOf<'STEP_QUEUED'>): string => {
  const delay = num(ev.payload.delayMs);
  return join(where(ev.payload), delay !== null && delay > 0 && `in ${formatDuration(delay)}`);
};

const stepRetryQueued = (ev: EventViewOf<'STEP_RETRY_QUEUED'>): string => {
  const delay = num(ev.payload.delayMs);
  const head = join(where(ev.payload), delay !== null && (delay > 0 ? `in ${formatDuration(delay)}` : 'now'));
  const reason = str(ev.payload.reason);
  // The agent's own words for why: the transient error, else the failed step's message.
  const why = str(ev.payload.detail) ?? str(ev.payload.message);
  return reason ? `${head}: ${clip(reason)}${why ? ` (${clip(why)})` : ''}` : head;
};

const outputTruncated = (ev: EventViewOf<'OUTPUT_TRUNCATED'>): string => {
  const p = ev.payload;
  const total = num(p.totalBytes);
  const omitted = num(p.omittedBytes);
  return at(p, `output of ${total ?? '?'} bytes truncated, ${omitted ?? '?'} omitted (max_output_bytes ${num(p.maxOutputBytes) ?? '?'}): ${str(p.log) ?? ''}`);
};

const agentStarted = (ev: EventViewOf<'AGENT_STARTED' | 'AGENT_ADOPTED'>): string => {
  const p: Fields<'AGENT_STARTED' | 'AGENT_ADOPTED'> = ev.payload;
  const pid = num(p.pid);
  return at(p, join(str(p.agent), pid !== null && `pid ${pid}`));
};

const rateLimitWait = (ev: EventViewOf<'RATE_LIMIT_WAIT'>): string => {
  const until = num(ev.payload.until);
  const agent = str(ev.payload.agent) ?? 'agent';
  if (until === null) return `${agent} rate-limited`;
  const left = until - ev.ts;
  return `${agent} rate-limited until ${formatLocalTime(until, ev.ts)}${left > 0 ? ` (${formatDuration(left)})` : ''}`;
};

// ---- judge, watchdog, verification, review ------------------------------------------------------

const signal = (ev: EventViewOf<'SIGNAL'>): string => {
  // Tampering signals say what loopd undid (docs/truth.md).
  const p = ev.payload;
  const changes = Array.isArray(p.changes) ? p.changes.map(String) : [];
  const tasks = Array.isArray(p.tasks) ? `tasks ${p.tasks.join(', ')} un-ticked` : null;
  const detail = changes.length > 0 ? `${clip(changes[0]!)}${changes.length > 1 ? ` (+${changes.length - 1} more)` : ''}` : tasks;
  return at(p, `${str(p.signal) ?? '?'}${detail ? `: ${detail}` : ''}`);
};

const watchdogRewrite = (ev: EventViewOf<'WATCHDOG_REWRITE'>): string => {
  const p = ev.payload;
  const signals = Array.isArray(p.signals) && p.signals.length > 0 ? p.signals.map(String).join('+') : str(p.signal);
  const n = num(p.rewrite);
  const path = str(p.rewritePath) ?? str(p.promptPath);
  return at(p, join(signals && `after ${signals},`, n !== null ? `prompt rewrite #${n}` : 'prompt rewritten', path && `-> ${path}`));
};

const reviewVerdict = (ev: EventViewOf<'REVIEW_APPROVED' | 'REVIEW_REJECTED'>): string => {
  const p: Fields<'REVIEW_APPROVED' | 'REVIEW_REJECTED'> = ev.payload;
  const reviewed = num(p.reviewed);
  const notes = str(p.notesPath);
  const marked = reviewed !== null && reviewed > 0 && `${plural(reviewed, 'task')} marked [R]`;
  return at(p, [marked, notes && `notes ${notes}`].filter(Boolean).join(', '));
};

const verifyStarted = (ev: EventViewOf<'VERIFY_STARTED'>): string => {
  const index = num(ev.payload.index);
  const command = str(ev.payload.command);
  return at(ev.payload, join(index !== null && `#${index}`, command && JSON.stringify(clip(command, 100))), false);
};

const verifyOutcome = (ev: EventViewOf<'VERIFY_FAILED' | 'VERIFY_PASSED'>): string => {
  const p: Fields<'VERIFY_FAILED' | 'VERIFY_PASSED'> = ev.payload;
  const code = num(p.exitCode);
  const command = str(p.command);
  const count = num(p.commands);
  let outcome: string;
  if (p.timedOut === true) outcome = 'timed out';
  else if (code !== null) outcome = code === 0 ? 'passed' : `exited ${code}`;
  else outcome = ev.type === 'VERIFY_PASSED' ? 'passed' : 'failed (no exit code)';
  if (command) return at(p, `${JSON.stringify(clip(command, 100))} ${outcome}`, false);
  return at(p, count !== null ? `${plural(count, 'command')} ${outcome}` : outcome, false);
};

// ---- runs -----------------------------------------------------------------------------------------

const budgetExceeded = (ev: EventViewOf<'BUDGET_EXCEEDED'>): string => {
  const cost = num(ev.payload.costUsd);
  const max = num(ev.payload.maxCostUsd);
  return [cost !== null && `spent ${formatUsd(cost)}`, max !== null && `max ${formatUsd(max)}`].filter(Boolean).join(', ');
};

const pausedOrResumed = (ev: EventViewOf<'RUN_PAUSED' | 'RUN_RESUMED'>): string => clip(str(ev.payload.reason) ?? '');

const runEnded = (ev: EventViewOf<'RUN_COMPLETED' | 'RUN_FAILED' | 'RUN_CANCELED'>): string => {
  const reason = str(ev.payload.reason);
  const error = str(ev.payload.error);
  return join(reason && clip(reason), error && error !== reason && `(${clip(error)})`);
};

const runCreated = (ev: EventViewOf<'RUN_CREATED'>): string => {
  const name = str(ev.payload.name);
  const source = str(ev.payload.nameSource);
  const branch = str(ev.payload.runBranch);
  return [name && (source ? `${name} (${source})` : name), branch && `branch ${branch}`].filter(Boolean).join(', ');
};

const worktree = (ev: EventViewOf<'WORKTREE_PROVIDER' | 'WORKTREE_READY'>): string => {
  const p: Fields<'WORKTREE_PROVIDER' | 'WORKTREE_READY'> = ev.payload;
  const path = str(p.path);
  const provider = str(p.provider);
  // A provider's reason, or what loopd put right after a crash before the worktree was ready.
  const reason = str(p.reason) ?? (str(p.repaired) && `repaired: ${str(p.repaired)}`);
  const head = path ? join(path, provider && `(${provider})`) : (provider ?? '');
  if (!reason) return head;
  return head ? `${head}: ${clip(reason)}` : clip(reason);
};

const nothing = (): string => '';

// ---- merge ----------------------------------------------------------------------------------------

const merged = (ev: EventViewOf<'MERGED'>): string => {
  const target = str(ev.payload.target);
  const commit = str(ev.payload.commit);
  const into = join(str(ev.payload.strategy), target && `into ${target}`);
  const outcome = [str(ev.payload.status), commit && `commit ${commit.slice(0, 9)}`].filter(Boolean).join(', ');
  return [into, outcome].filter(Boolean).join(': ');
};

const mergeConflict = (ev: EventViewOf<'MERGE_CONFLICT'>): string => {
  const target = str(ev.payload.target);
  const files = Array.isArray(ev.payload.conflicts) ? ev.payload.conflicts.map(String) : [];
  const head = join(str(ev.payload.runBranch), target && `into ${target}`);
  const detail = files.length > 0 ? `conflicts in ${clip(files.join(', '), 80)}` : 'conflict';
  return head ? `${head}: ${detail}` : detail;
};

// ---- the spec watcher -----------------------------------------------------------------------------

const triggerFired = (ev: EventViewOf<'TRIGGER_FIRED'>): string => {
  const runId = str(legacy(ev).runId) ?? ev.runId;
  const plan = str(ev.payload.plan) ?? str(legacy(ev).planPath);
  const detail = [str(ev.payload.reason), plan ?? 'no plan'].filter(Boolean).join(', ');
  return join(specOf(ev.payload), runId && `-> run ${shortRun(ev, runId)}`, `(${detail})`);
};

const triggerWaiting = (ev: EventViewOf<'TRIGGER_WAITING'>): string => {
  const plan = str(ev.payload.plan) ?? str(legacy(ev).planPath) ?? 'a plan';
  const until = num(ev.payload.until);
  return `${specOf(ev.payload)}: waiting for ${plan}${until !== null ? ` until ${formatLocalTime(until, ev.ts)}` : ''}`;
};

/**
 * Every event type the daemon defines, with its sentence (or `fallback`, key=value). Required for
 * every type, so a new event type does not compile until someone decides how it reads.
 */
const SUMMARIES: { [K in EventType]: Summary<K> } = {
  RUN_CREATED: runCreated,
  RUN_STARTED: nothing,
  RUN_PAUSED: pausedOrResumed,
  RUN_RESUMED: pausedOrResumed,
  RUN_CANCEL_REQUESTED: nothing,
  RUN_COMPLETED: runEnded,
  RUN_FAILED: runEnded,
  RUN_CANCELED: runEnded,
  BUDGET_EXCEEDED: budgetExceeded,
  CONFIG_CHANGED: fallback,
  CONFIG_WARNING: (ev) => clip(str(ev.payload.message) ?? '', 160),
  NAME_FALLBACK: (ev) => clip(str(ev.payload.reason) ?? '', 160),
  WORKTREE_PROVIDER: worktree,
  WORKTREE_READY: worktree,
  WORKTREE_REMOVED: (ev) => str(ev.payload.path) ?? '',
  SPEC_SNAPSHOT: fallback,
  STEP_QUEUED: stepQueued,
  STEP_RETRY_QUEUED: stepRetryQueued,
  STEP_STARTED: stepStarted,
  STEP_ADOPTED: stepStarted,
  STEP_REQUEUED: fallback,
  STEP_FINISHED: (ev) => stepFinished(ev.payload),
  RATE_LIMIT_WAIT: rateLimitWait,
  AGENT_STARTED: agentStarted,
  AGENT_ADOPTED: agentStarted,
  OUTPUT_TRUNCATED: outputTruncated,
  SIGNAL: signal,
  LEDGER_CREATED: fallback,
  LEDGER_UPDATED: fallback,
  COMPLETION_PROVEN: fallback,
  LEFTOVER_COMMITTED: fallback,
  WATCHDOG_REWRITE: watchdogRewrite,
  VERIFY_STARTED: verifyStarted,
  VERIFY_FAILED: verifyOutcome,
  VERIFY_PASSED: verifyOutcome,
  REVIEW_APPROVED: reviewVerdict,
  REVIEW_REJECTED: reviewVerdict,
  REVIEWER_CHANGES_DISCARDED: fallback,
  MERGE_TARGET_CREATED: (ev) => join(str(ev.payload.target), str(ev.payload.from) && `from ${str(ev.payload.from)}`),
  MERGED: merged,
  MERGE_CONFLICT: mergeConflict,
  REVIEW_MERGED: fallback,
  RUN_SCRAPPED: fallback,
  PR_OPENED: fallback,
  TRIGGER_FIRED: triggerFired,
  TRIGGER_SKIPPED: (ev) => `${specOf(ev.payload)}: ${clip(str(ev.payload.reason) ?? 'no reason given')}`,
  TRIGGER_WAITING: triggerWaiting,
};

/**
 * The part of an event line after its type; always one line, with any control character that an
 * agent or a file name slipped into a payload escaped.
 */
export function eventSummary(ev: EventView): string {
  // The table pairs each type with its own event; indexing by a union type cannot see that
  // correlation, and a newer daemon may send a type this client has no entry for.
  const summary = (SUMMARIES as Partial<Record<string, (ev: EventView) => string>>)[ev.type] ?? fallback;
  return escapeControls(summary(ev).replace(/\s*[\r\n]+\s*/g, ' '));
}
