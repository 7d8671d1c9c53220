// Agent output made readable in a browser. A renderer per step, fed chunks as they arrive (an
// escape sequence or an event may be split across chunks), returns the text to show.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export interface OutputRenderer {
  push(chunk: string): string;
  /** What the renderer still holds when the step's output ends. */
  flush(): string;
}

/** Terminal colour and cursor codes removed, carriage-return progress lines kept as lines. */
export function createRenderer(): OutputRenderer {
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
