// Formatting shared by the oclif commands and the fast path (cli/fast.ts). No oclif imports here:
// the fast path must not pay for loading it.

export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.trim();
}


/** "45s", "12m", "3h", "2d". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** "1h 02m 03s" style durations for uptime and run time. */
export function formatDuration(ms: number): string {
  // Sub-second steps are common (a review that fails fast): "350ms", not "0s".
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const total = Math.floor(ms / 1000);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The one time format of human output (events, run --wait, inspect): local time,
 * "2026-11-30 14:05:09". --json output keeps the epoch milliseconds.
 */
export function formatTime(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `key=value` pairs of a payload, compact and cut to `max` characters. */
export function summarizePayload(payload: Record<string, unknown>, max = 160): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(payload)) {
    if (v === undefined || v === null) continue;
    let text = typeof v === 'string' ? v : JSON.stringify(v);
    text = text.replace(/\s+/g, ' ');
    if (typeof v === 'string' && /\s/.test(text)) text = JSON.stringify(text);
    parts.push(`${k}=${text}`);
  }
  const line = parts.join(' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Local wall-clock time of day, for lines a person follows live. */
export function formatClock(ts: number): string {
  const d = new Date(ts);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Printable ASCII only: one character is one column, so alignment needs no width tables. */
const PLAIN = /^[\x20-\x7e]*$/;
/** SGR colour sequences (cells coloured for a terminal), which take no columns. */
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g;
const visible = (cell: string): string => cell.replace(SGR, '');

/**
 * A borderless table, aligned like `ps` output: columns two spaces apart, trailing spaces cut.
 * Plain ASCII cells (nearly every table, coloured or not) are aligned here; anything else goes through cli-table3,
 * loaded on demand, which knows the display width of wide and combining characters. Both give the
 * same text for ASCII (test/cli/format.test.ts); the split saves the fast path ~15 ms of loading.
 */
export async function renderTable(head: string[], rows: (string | number)[][]): Promise<string> {
  const cells = [head, ...rows].map((r) => r.map(String));
  if (cells.every((r) => r.every((c) => PLAIN.test(visible(c))))) return alignPlain(cells);
  const { default: Table } = await import('cli-table3');
  const none = {
    top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
    bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
    left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
  };
  const table = new Table({ head, chars: none, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
  for (const row of rows) table.push(row);
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

function alignPlain(cells: string[][]): string {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c).length)));
  const pad = (c: string, w: number) => c + ' '.repeat(w - visible(c).length);
  return cells.map((row) => widths.map((w, i) => pad(row[i] ?? '', w)).join('  ').trimEnd()).join('\n');
}
