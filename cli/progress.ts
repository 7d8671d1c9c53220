// The live status line of `run --wait` on a terminal: phase, iteration, a bar of tasks reviewed /
// done / total, elapsed time and cost, redrawn in place under the event lines. Off a terminal (or
// with --json) nothing here is used and the events print as plain lines.
import type { RunView } from '../router/index.js';
import { formatDuration } from './base.js';
import { formatUsd } from './event-format.js';
import { escapeControls, type Palette } from './text.js';

export type ProgressState = Pick<
  RunView,
  'name' | 'status' | 'phase' | 'iteration' | 'tasksDone' | 'tasksTotal' | 'tasksReviewed' | 'costUsd' | 'createdAt' | 'startedAt' | 'endedAt'
>;

/**
 * "███▓▓░░░░░": reviewed tasks solid, done-but-unreviewed shaded, open ones light. Widths are
 * rounded so a finished plan always fills the bar and any progress shows.
 */
export function taskBar(reviewed: number, done: number, total: number, width = 20): string {
  if (total <= 0) return '░'.repeat(width);
  const cells = (n: number) => {
    const c = Math.round((Math.min(Math.max(n, 0), total) / total) * width);
    return n > 0 && c === 0 ? 1 : c;
  };
  const doneCells = cells(done);
  const reviewedCells = Math.min(cells(reviewed), doneCells);
  return '█'.repeat(reviewedCells) + '▓'.repeat(doneCells - reviewedCells) + '░'.repeat(width - doneCells);
}

/** The status line, at most `columns` characters wide (a wrapped line could not be redrawn in place). */
export function progressLine(s: ProgressState, now: number, colors: Palette, columns = 80): string {
  const elapsed = formatDuration((s.endedAt ?? now) - (s.startedAt ?? s.createdAt));
  const where = [s.phase ?? 'waiting', s.iteration > 0 ? `iter ${s.iteration}` : null].filter(Boolean).join(' ');
  const total = s.tasksTotal;
  const done = s.tasksDone ?? 0;
  const reviewed = s.tasksReviewed ?? 0;
  const counts = total === null ? 'tasks -' : `${done}/${total} done, ${reviewed} reviewed`;
  // Most important first; the line drops from the end what does not fit.
  const parts: { plain: string; painted: string }[] = [];
  const add = (plain: string, paint: (t: string) => string = (t) => t) => parts.push({ plain, painted: paint(plain) });
  add(s.status, colors.status);
  add(where);
  if (total !== null) add(`[${taskBar(reviewed, done, total, 12)}]`, colors.ok);
  add(counts);
  add(elapsed);
  add(formatUsd(s.costUsd));
  add(escapeControls(s.name), colors.dim);
  let width = 0;
  const kept: string[] = [];
  for (const p of parts) {
    const extra = (kept.length > 0 ? 2 : 0) + p.plain.length;
    // The status always shows, however narrow the terminal.
    if (kept.length > 0 && width + extra > columns - 1) break;
    width += extra;
    kept.push(p.painted);
  }
  return kept.join('  ');
}

interface Output {
  write(text: string): unknown;
  columns?: number;
}

/**
 * Keeps one status line at the bottom of a terminal: every log line clears it, prints above it and
 * draws it again. Uses only carriage return and "erase line", which every terminal has.
 */
export class LiveProgress {
  private state: ProgressState | null = null;
  private shown = false;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly out: Output,
    private readonly colors: Palette,
    private readonly now: () => number = Date.now,
  ) {}

  /** Redraws every second, so the elapsed time moves while the agent works. */
  start(intervalMs = 1000): void {
    if (this.stopped) return;
    this.ticker ??= setInterval(() => this.draw(), intervalMs);
    this.ticker.unref();
  }

  update(state: ProgressState): void {
    // A refresh that answers after stop() must not draw the line again.
    if (this.stopped) return;
    this.state = state;
    this.draw();
  }

  /** A line above the status line. */
  log(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /** Removes the status line for good (before the final line, or on Ctrl-C). */
  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.clear();
    this.state = null;
    this.stopped = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.out.write('\r\u001b[2K');
    this.shown = false;
  }

  private draw(): void {
    if (!this.state) return;
    // A pseudo-terminal without a size reports 0 columns.
    const line = progressLine(this.state, this.now(), this.colors, this.out.columns || 80);
    this.out.write(`\r\u001b[2K${line}`);
    this.shown = true;
  }
}
