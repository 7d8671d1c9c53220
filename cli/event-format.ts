// One readable line per run event, for `run --wait` and `events`: the columns (sequence number,
// time, run, type) around the sentence of cli/event-summary.ts.
import type { EventView } from '../router/index.js';
import { formatTime } from './format.js';
import { eventSummary, num, shortRun } from './event-summary.js';
import { escapeControls, type Palette } from './text.js';

export { clip, eventSummary, formatLocalTime, formatUsd } from './event-summary.js';

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
