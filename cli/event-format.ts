// One readable line per run event, for `run --wait` and `events`. Event types are the daemon's to
// define: the ones of the loop get a sentence of their own, anything else falls back to key=value.
import type { EventPayloads, EventType, StoredEvent } from '../core/events.js';
import type { EventView } from '../router/index.js';
import { formatClock, formatDuration, formatTime, summarizePayload } from './format.js';
import { escapeControls, type Palette } from './text.js';

/** The fields of several event types that share a sentence, all optional. */
type Fields<K extends EventType> = Partial<UnionToIntersection<EventPayloads[K]>>;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

type Payload = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
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

/**
 * The part of an event line after its type; always one line, with any control character that an
 * agent or a file name slipped into a payload escaped.
 */
export function eventSummary(ev: EventView): string {
  return escapeControls(summaryOf(ev).replace(/\s*[\r\n]+\s*/g, ' '));
}

/** The shortest unique prefix of a run id the event names (the daemon's, when it sent one). */
function shortRun(ev: EventView, runId: string): string {
  return runId === ev.runId && ev.runShortId ? ev.runShortId : runId.slice(0, 8);
}

/** Known types narrow the payload (core/events.ts); anything else falls to key=value. */
function summaryOf(view: EventView): string {
  const ev = view as StoredEvent<Omit<EventView, 'type' | 'payload'>>;
  // Fields older daemons wrote under other names, read untyped on purpose.
  const legacy = view.payload;
  switch (ev.type) {
    case 'STEP_STARTED':
    case 'STEP_ADOPTED': {
      const p: Fields<'STEP_STARTED' | 'STEP_ADOPTED'> = ev.payload;
      return join(where(p), num(p.pid) !== null && `(pid ${num(p.pid)})`);
    }
    case 'STEP_FINISHED':
      return stepFinished(ev.payload);
    case 'STEP_QUEUED': {
      const delay = num(ev.payload.delayMs);
      return join(where(ev.payload), delay !== null && delay > 0 && `in ${formatDuration(delay)}`);
    }
    case 'STEP_RETRY_QUEUED': {
      const delay = num(ev.payload.delayMs);
      const head = join(where(ev.payload), delay !== null && (delay > 0 ? `in ${formatDuration(delay)}` : 'now'));
      const reason = str(ev.payload.reason);
      // The agent's own words for why: the transient error, else the failed step's message.
      const why = str(ev.payload.detail) ?? str(ev.payload.message);
      return reason ? `${head}: ${clip(reason)}${why ? ` (${clip(why)})` : ''}` : head;
    }
    case 'OUTPUT_TRUNCATED': {
      const total = num(ev.payload.totalBytes);
      const omitted = num(ev.payload.omittedBytes);
      return at(ev.payload, `output of ${total ?? '?'} bytes truncated, ${omitted ?? '?'} omitted (max_output_bytes ${num(ev.payload.maxOutputBytes) ?? '?'}): ${str(ev.payload.log) ?? ''}`);
    }
    case 'SIGNAL': {
      // Tampering signals say what loopd undid (docs/truth.md).
      const p = ev.payload;
      const changes = Array.isArray(p.changes) ? p.changes.map(String) : [];
      const tasks = Array.isArray(p.tasks) ? `tasks ${p.tasks.join(', ')} un-ticked` : null;
      const detail = changes.length > 0 ? `${clip(changes[0]!)}${changes.length > 1 ? ` (+${changes.length - 1} more)` : ''}` : tasks;
      return at(p, `${str(p.signal) ?? '?'}${detail ? `: ${detail}` : ''}`);
    }
    case 'WATCHDOG_REWRITE': {
      const signals = Array.isArray(ev.payload.signals) && ev.payload.signals.length > 0 ? ev.payload.signals.map(String).join('+') : str(ev.payload.signal);
      const n = num(ev.payload.rewrite);
      const path = str(ev.payload.rewritePath) ?? str(ev.payload.promptPath);
      return at(ev.payload, join(signals && `after ${signals},`, n !== null ? `prompt rewrite #${n}` : 'prompt rewritten', path && `-> ${path}`));
    }
    case 'REVIEW_APPROVED':
    case 'REVIEW_REJECTED': {
      const p: Fields<'REVIEW_APPROVED' | 'REVIEW_REJECTED'> = ev.payload;
      const reviewed = num(p.reviewed);
      const notes = str(p.notesPath);
      const marked = reviewed !== null && reviewed > 0 && `${plural(reviewed, 'task')} marked [R]`;
      return at(ev.payload, [marked, notes && `notes ${notes}`].filter(Boolean).join(', '));
    }
    case 'VERIFY_STARTED': {
      const index = num(ev.payload.index);
      const command = str(ev.payload.command);
      return at(ev.payload, join(index !== null && `#${index}`, command && JSON.stringify(clip(command, 100))), false);
    }
    case 'VERIFY_FAILED':
    case 'VERIFY_PASSED': {
      const p: Fields<'VERIFY_FAILED' | 'VERIFY_PASSED'> = ev.payload;
      const code = num(p.exitCode);
      const command = str(p.command);
      const count = num(p.commands);
      let outcome: string;
      if (p.timedOut === true) outcome = 'timed out';
      else if (code !== null) outcome = code === 0 ? 'passed' : `exited ${code}`;
      else outcome = ev.type === 'VERIFY_PASSED' ? 'passed' : 'failed (no exit code)';
      if (command) return at(ev.payload, `${JSON.stringify(clip(command, 100))} ${outcome}`, false);
      return at(ev.payload, count !== null ? `${plural(count, 'command')} ${outcome}` : outcome, false);
    }
    case 'RATE_LIMIT_WAIT': {
      const until = num(ev.payload.until);
      const agent = str(ev.payload.agent) ?? 'agent';
      if (until === null) return `${agent} rate-limited`;
      const left = until - ev.ts;
      return `${agent} rate-limited until ${formatLocalTime(until, ev.ts)}${left > 0 ? ` (${formatDuration(left)})` : ''}`;
    }
    case 'BUDGET_EXCEEDED': {
      const cost = num(ev.payload.costUsd);
      const max = num(ev.payload.maxCostUsd);
      return [cost !== null && `spent ${formatUsd(cost)}`, max !== null && `max ${formatUsd(max)}`].filter(Boolean).join(', ');
    }
    case 'RUN_PAUSED':
    case 'RUN_RESUMED':
      return clip(str(ev.payload.reason) ?? '');
    case 'RUN_COMPLETED':
    case 'RUN_FAILED':
    case 'RUN_CANCELED': {
      const reason = str(ev.payload.reason);
      const error = str(ev.payload.error);
      return join(reason && clip(reason), error && error !== reason && `(${clip(error)})`);
    }
    case 'RUN_STARTED':
    case 'RUN_CANCEL_REQUESTED':
      return '';
    case 'WORKTREE_REMOVED':
      return str(ev.payload.path) ?? '';
    case 'RUN_CREATED': {
      const name = str(ev.payload.name);
      const source = str(ev.payload.nameSource);
      const branch = str(ev.payload.runBranch);
      return [name && (source ? `${name} (${source})` : name), branch && `branch ${branch}`].filter(Boolean).join(', ');
    }
    case 'WORKTREE_PROVIDER':
    case 'WORKTREE_READY': {
      const p: Fields<'WORKTREE_PROVIDER' | 'WORKTREE_READY'> = ev.payload;
      const path = str(p.path);
      const provider = str(p.provider);
      const reason = str(p.reason);
      const head = path ? join(path, provider && `(${provider})`) : (provider ?? '');
      if (!reason) return head;
      return head ? `${head}: ${clip(reason)}` : clip(reason);
    }
    case 'MERGED': {
      const target = str(ev.payload.target);
      const commit = str(ev.payload.commit);
      const into = join(str(ev.payload.strategy), target && `into ${target}`);
      const outcome = [str(ev.payload.status), commit && `commit ${commit.slice(0, 9)}`].filter(Boolean).join(', ');
      return [into, outcome].filter(Boolean).join(': ');
    }
    case 'MERGE_TARGET_CREATED':
      return join(str(ev.payload.target), str(ev.payload.from) && `from ${str(ev.payload.from)}`);
    case 'MERGE_CONFLICT': {
      const target = str(ev.payload.target);
      const files = Array.isArray(ev.payload.conflicts) ? ev.payload.conflicts.map(String) : [];
      const head = join(str(ev.payload.runBranch), target && `into ${target}`);
      const detail = files.length > 0 ? `conflicts in ${clip(files.join(', '), 80)}` : 'conflict';
      return head ? `${head}: ${detail}` : detail;
    }
    case 'CONFIG_WARNING':
      return clip(str(ev.payload.message) ?? '', 160);
    case 'NAME_FALLBACK':
      return clip(str(ev.payload.reason) ?? '', 160);
    case 'TRIGGER_FIRED': {
      const runId = str(legacy.runId) ?? ev.runId;
      const plan = str(ev.payload.plan) ?? str(legacy.planPath);
      const detail = [str(ev.payload.reason), plan ?? 'no plan'].filter(Boolean).join(', ');
      return join(specOf(ev.payload), runId && `-> run ${shortRun(view, runId)}`, `(${detail})`);
    }
    case 'TRIGGER_SKIPPED':
      return `${specOf(ev.payload)}: ${clip(str(ev.payload.reason) ?? 'no reason given')}`;
    case 'TRIGGER_WAITING': {
      const plan = str(ev.payload.plan) ?? str(legacy.planPath) ?? 'a plan';
      const until = num(ev.payload.until);
      return `${specOf(ev.payload)}: waiting for ${plan}${until !== null ? ` until ${formatLocalTime(until, ev.ts)}` : ''}`;
    }
    case 'AGENT_STARTED':
    case 'AGENT_ADOPTED': {
      const p: Fields<'AGENT_STARTED' | 'AGENT_ADOPTED'> = ev.payload;
      const pid = num(p.pid);
      return at(p, join(str(p.agent), pid !== null && `pid ${pid}`));
    }
    default: {
      const w = where(ev.payload);
      return join(w, rest(ev.payload, w === '' ? [] : ['iteration', 'phase', 'attempt'], 140));
    }
  }
}

/** The spec a trigger event is about, as the watcher names it (relative to the workspace root). */
function specOf(p: Payload): string {
  return str(p.spec) ?? str(p.specPath) ?? str(p.path) ?? '?';
}

/**
 * Column widths of event lines. Types are padded to the longest the daemon emits today
 * (RUN_CANCEL_REQUESTED); a longer one, or a longer run id prefix, widens its column for every
 * later line, and `fit` widens them for a batch before it is printed, so a listing stays aligned.
 */
export class EventColumns {
  static readonly MIN_TYPE_WIDTH = 'RUN_CANCEL_REQUESTED'.length;
  typeWidth = EventColumns.MIN_TYPE_WIDTH;
  runWidth = 8;

  /** With a palette, types are coloured by outcome (padding is added outside the colour codes). */
  constructor(private readonly colors: Palette | null = null) {}

  fit(events: readonly EventView[]): this {
    for (const ev of events) this.widen(ev);
    return this;
  }

  private widen(ev: EventView): void {
    this.typeWidth = Math.max(this.typeWidth, escapeControls(ev.type).length);
    if (ev.runId) this.runWidth = Math.max(this.runWidth, shortRun(ev, ev.runId).length);
  }

  typeAndSummary(ev: EventView): string {
    this.widen(ev);
    const summary = eventSummary(ev);
    const type = escapeControls(ev.type);
    const painted = this.colors ? typeColor(this.colors, type)(type) : type;
    return summary === '' ? painted : `${painted}${' '.repeat(this.typeWidth - type.length)}  ${summary}`;
  }

  /** A line of `loopctl events RUN`: sequence number, local time, type, summary. */
  runLine(ev: EventView): string {
    return `${String(ev.seq).padStart(6)}  ${formatTime(ev.ts)}  ${this.typeAndSummary(ev)}`;
  }

  /**
   * A line of `loopctl events --workspace`, where the events of several runs interleave: the run's
   * shortest unique id prefix ("-" for events of no run, such as a skipped trigger) after the time.
   */
  workspaceLine(ev: EventView): string {
    this.widen(ev);
    const run = (ev.runId ? shortRun(ev, ev.runId) : '-').padEnd(this.runWidth);
    return `${String(ev.seq).padStart(6)}  ${formatTime(ev.ts)}  ${run}  ${this.typeAndSummary(ev)}`;
  }

  /** A progress line of `run --wait`: local time, type, summary. */
  waitLine(ev: EventView): string {
    return `${formatTime(ev.ts)}  ${this.typeAndSummary(ev)}`;
  }
}

/** Red for failures, green for success, yellow for waits and stops, plain for the rest. */
function typeColor(colors: Palette, type: string): (text: string) => string {
  if (/FAILED|CONFLICT|REJECTED|EXCEEDED|ERROR/.test(type)) return colors.error;
  if (/COMPLETED|APPROVED|PASSED|^MERGED$/.test(type)) return colors.ok;
  if (/PAUSED|WAIT|RETRY|CANCEL|REQUEUED|SIGNAL|WARNING|REWRITE/.test(type)) return colors.warn;
  return (t) => t;
}

/**
 * Events `run --wait` leaves out: a step queued to start right away is followed at once by its
 * STEP_STARTED. `loopctl events` shows everything.
 */
export function isRoutine(ev: EventView): boolean {
  return ev.type === 'STEP_QUEUED' && !((num(ev.payload.delayMs) ?? 0) > 0);
}

/** A progress line for `run --wait` on its own (see EventColumns for a stream of them). */
export function describeEvent(ev: EventView): string {
  return new EventColumns().waitLine(ev);
}

/** A line of `loopctl events` on its own. */
export function eventLine(ev: EventView): string {
  return new EventColumns().runLine(ev);
}

/** A line of `loopctl events --workspace` on its own. */
export function workspaceEventLine(ev: EventView): string {
  return new EventColumns().workspaceLine(ev);
}
