// Safe, readable terminal text: agent-controlled strings (run names, errors, payload values) are
// escaped before they reach a terminal, and colour is used only where a person is looking.
// Taken from the loaded module instead of imported: an ES import of node:util builds its whole
// namespace (~1.5 ms of every loopctl start, and loopctl's fast path prints through this file).
const { styleText } = process.getBuiltinModule('node:util');

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e', '\\': '\\\\' };

/**
 * Control characters (C0, DEL, C1) and the bidirectional overrides that can reorder what a
 * terminal shows, written as visible escapes: a name with "\n" or an ANSI sequence prints as one
 * inert line. Backslashes are doubled only in text that had something to escape, so ordinary
 * Windows-style paths stay as they are.
 */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
  if (!unsafe.test(text)) return text;
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\\]/g, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

interface MaybeTty {
  isTTY?: boolean;
}

/**
 * Colour only on a terminal, never with NO_COLOR set (https://no-color.org: any non-empty value),
 * and FORCE_COLOR (non-empty, not "0") for a terminal the check cannot see.
 */
export function colorEnabled(stream: MaybeTty, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0';
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export type Painter = (text: string) => string;

export interface Palette {
  enabled: boolean;
  /** A run status in its colour: green done, red failed, yellow waiting, cyan moving. */
  status: (status: string) => string;
  error: Painter;
  warn: Painter;
  dim: Painter;
  bold: Painter;
  ok: Painter;
}

type Format = Parameters<typeof styleText>[0];

export function palette(enabled: boolean): Palette {
  const style =
    (format: Format): Painter =>
    (text) =>
      enabled && text !== '' ? styleText(format, text, { validateStream: false }) : text;
  const colours: Record<string, Painter> = {
    COMPLETED: style('green'),
    FAILED: style('red'),
    CANCELED: style('magenta'),
    PAUSED: style('yellow'),
    PENDING: style('yellow'),
    RUNNING: style('cyan'),
  };
  return {
    enabled,
    status: (s) => (colours[s] ?? ((t: string) => t))(s),
    error: style('red'),
    warn: style('yellow'),
    dim: style('dim'),
    bold: style('bold'),
    ok: style('green'),
  };
}

/** The palette for a stream of this process (stdout for results, stderr for errors). */
export function paletteFor(stream: MaybeTty): Palette {
  return palette(colorEnabled(stream));
}

/** Visible width of text that may hold SGR colour codes. */
export function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** "run 0193...c2 (user-auth)": the full id (it is what scripts grep for) and the escaped name. */
export function runLabel(run: { id: string; name: string }): string {
  return `run ${run.id} (${escapeControls(run.name)})`;
}

/** The line cancel, pause and resume print: "run <id> (<name>) is <STATUS>". */
export function runStatusLine(run: { id: string; name: string; status: string }, colors: Palette, extra = ''): string {
  return `${runLabel(run)} is ${colors.status(run.status)}${extra}`;
}

/**
 * Multi-line text from an agent made safe to print (rendered `tail`): colour sequences (SGR) are
 * dropped, line breaks and tabs kept, CRLF read as a line break, and every other control
 * character escaped, so output can neither move the cursor, clear the screen nor set the title.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  const noColour = text.replace(/\u001b\[[0-9;:]*m/g, '').replace(/\r\n/g, '\n');
  return noColour
    .split('\n')
    .map((line) => line.split('\t').map(escapeControls).join('\t'))
    .join('\n');
}
