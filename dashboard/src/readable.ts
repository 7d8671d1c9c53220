// Agent output made readable in a browser: terminal colour and cursor codes removed. (Structured
// agent streams are shown as the agent wrote them.)
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export function readable(text: string): string {
  return text.replace(ANSI, '').replace(/\r(?!\n)/g, '\n');
}
