// Reading the daemon's JSON log lines for people: `loopctl daemon logs`.

const KNOWN = new Set(['time', 'level', 'msg', 'runId', 'stepId', 'stack']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * `2026-11-30T02:34:51.789Z WARN  [run 0193ab12 step 7] msg key=value ...`, then the stack
 * indented when there is one. Lines that are not loopd JSON (an older plain-text log) pass through.
 */
export function formatLogLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
    rec = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec.msg !== 'string' || typeof rec.level !== 'string') return line;
  const parts = [String(rec.time ?? ''), rec.level.toUpperCase().padEnd(5)];
  const ids: string[] = [];
  if (typeof rec.runId === 'string') ids.push(`run ${rec.runId}`);
  if (rec.stepId !== undefined) ids.push(`step ${value(rec.stepId)}`);
  if (ids.length > 0) parts.push(`[${ids.join(' ')}]`);
  // Control characters in a message (an agent's error text) must not drive the terminal.
  parts.push(escapeControls(rec.msg));
  for (const [k, v] of Object.entries(rec)) if (!KNOWN.has(k)) parts.push(`${k}=${escapeControls(value(v))}`);
  let out = parts.join(' ');
  if (typeof rec.stack === 'string') out += '\n' + rec.stack.split('\n').map((l) => `    ${escapeControls(l.trim())}`).join('\n');
  return out;
}

export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether a JSON log line is at or above `min` (non-JSON lines are always shown). */
export function atLeastLevel(line: string, min: string): boolean {
  const order = ['debug', 'info', 'warn', 'error', 'fatal'];
  const want = order.indexOf(min);
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level;
    return typeof level !== 'string' || order.indexOf(level) >= want;
  } catch {
    return true;
  }
}
