// Agent output made readable in a browser, as `loopctl tail` shows it: Claude Code's and Codex's
// JSON events become the assistant's words and one line per tool call (core/render, shared with
// tail), and terminal codes are removed. A renderer per step, fed chunks as they arrive (an event or
// an escape sequence may be split across chunks), returns the text to show.
import { AgentOutputRenderer } from '../../core/render/agent-output.js';

export { stepHeader } from '../../core/render/agent-output.js';
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export interface OutputRenderer {
  push(chunk: string): string;
  /** What the renderer still holds when the step's output ends. */
  flush(): string;
}

/** Rendered agent events (unless raw), terminal codes removed, carriage-return progress lines kept as lines. */
export function createRenderer(opts: { raw?: boolean } = {}): OutputRenderer {
  const strip = stripTerminalCodes();
  if (opts.raw) return strip;
  const agent = new AgentOutputRenderer();
  return {
    push: (chunk) => strip.push(agent.push(chunk)),
    flush: () => strip.push(agent.flush()) + strip.flush(),
  };
}

function stripTerminalCodes(): OutputRenderer {
  let held = '';
  // A stray ESC (a sequence the agent never finished) shows as nothing.
  const clean = (s: string) => s.replace(ANSI, '').replace(/\x1b/g, '').replace(/\r(?!\n)/g, '\n');
  return {
    push(chunk) {
      const text = held + chunk;
      // Hold back an escape sequence cut off at the end of the chunk.
      const cut = text.lastIndexOf('\x1b');
      if (cut >= 0 && cut > text.length - 32 && !/[@-~]/.test(text.slice(cut + 2))) {
        held = text.slice(cut);
        return clean(text.slice(0, cut));
      }
      held = '';
      return clean(text);
    },
    flush() {
      const rest = clean(held);
      held = '';
      return rest;
    },
  };
}
