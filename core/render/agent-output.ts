// Agent output for people: Claude Code's stream-json and Codex's --json events become the
// assistant's words, one line per tool call with its key argument, short tool results and the
// final cost; anything that is not an agent event (a command agent's plain output) passes through
// as it is. Streaming: feed chunks as they come, a JSON line is rendered once it is complete.
//
// No Node imports: `loopctl tail` and the dashboard (in the browser) share it.

export interface RenderOptions {
  /** Tool results longer than this are cut (their line count is still shown). */
  maxResultChars?: number;
  /** Tool call arguments longer than this are cut. */
  maxArgChars?: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// A buffered JSON line longer than this is not an event worth rendering: show its start.
const MAX_JSON_LINE = 1024 * 1024;

const CLAUDE_TYPES = new Set(['system', 'assistant', 'user', 'result', 'rate_limit_event', 'stream_event']);
const CODEX_TYPES = new Set(['thread.started', 'turn.started', 'turn.completed', 'turn.failed', 'item.started', 'item.updated', 'item.completed', 'error']);

function cut(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function thousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function formatUsd(n: number): string {
  return `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
}

/** The one argument that says what a tool call does. */
export function keyArgument(tool: string, input: unknown): string {
  if (!isObject(input)) return '';
  const pick = (...keys: string[]): string | null => {
    for (const k of keys) {
      const v = input[k];
      if (typeof v === 'string' && v.trim() !== '') return v;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).join(' ');
    }
    return null;
  };
  const byTool: Record<string, string[]> = {
    Bash: ['command'],
    Read: ['file_path'],
    Write: ['file_path'],
    Edit: ['file_path'],
    MultiEdit: ['file_path'],
    NotebookEdit: ['notebook_path'],
    Glob: ['pattern'],
    Grep: ['pattern'],
    WebFetch: ['url'],
    WebSearch: ['query'],
    Task: ['description', 'prompt'],
    Skill: ['skill', 'name'],
  };
  const found = pick(...(byTool[tool] ?? []), 'command', 'cmd', 'file_path', 'path', 'pattern', 'url', 'query', 'description');
  if (found !== null) return found;
  if (tool === 'TodoWrite' && Array.isArray(input.todos)) return `${input.todos.length} todos`;
  const first = Object.values(input).find((v) => typeof v === 'string');
  return typeof first === 'string' ? first : '';
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : ''))
      .filter((t) => t !== '')
      .join('\n');
  }
  return '';
}

function resultLine(text: string, isError: boolean, max: number): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const more = lines.length > 1 ? ` (+${lines.length - 1} lines)` : '';
  const head = lines[0] !== undefined ? cut(lines[0], max) : '(no output)';
  return `  ${isError ? '✗' : '←'} ${head}${more}`;
}

export class AgentOutputRenderer {
  private pending = '';
  /** Inside a plain-text line already passed through. */
  private midLine = false;
  private readonly maxResult: number;
  private readonly maxArg: number;

  constructor(opts: RenderOptions = {}) {
    this.maxResult = opts.maxResultChars ?? 160;
    this.maxArg = opts.maxArgChars ?? 160;
  }

  /** Renders what can be rendered of `chunk`; a JSON line still being written waits for its end. */
  push(chunk: string): string {
    let out = '';
    let rest = chunk;
    while (rest.length > 0) {
      if (this.pending === '' && !this.midLine) {
        // At a line start: a JSON event is buffered, plain text passes through at once.
        const lead = rest.replace(/^[ \t]+/, '');
        if (!lead.startsWith('{') && lead !== '') this.midLine = true;
        else if (lead === '') {
          this.pending = rest;
          break;
        }
      }
      const nl = rest.indexOf('\n');
      if (this.midLine) {
        if (nl === -1) {
          out += rest;
          break;
        }
        out += rest.slice(0, nl + 1);
        rest = rest.slice(nl + 1);
        this.midLine = false;
        continue;
      }
      if (nl === -1) {
        this.pending += rest;
        if (this.pending.length > MAX_JSON_LINE) {
          out += `${this.pending.slice(0, 200)}… [long line]\n`;
          this.pending = '';
          this.midLine = true; // drop the rest of this line quietly is wrong: show it raw instead
        }
        break;
      }
      const line = this.pending + rest.slice(0, nl);
      this.pending = '';
      rest = rest.slice(nl + 1);
      out += this.renderLine(line);
    }
    return out;
  }

  /** Whatever is left at the end of the stream. */
  flush(): string {
    const line = this.pending;
    this.pending = '';
    this.midLine = false;
    return line === '' ? '' : this.renderLine(line);
  }

  /** One complete line of output as zero or more readable lines (each ending in a newline). */
  renderLine(line: string): string {
    const t = line.trim();
    if (!t.startsWith('{')) return `${line}\n`;
    let ev: unknown;
    try {
      ev = JSON.parse(t);
    } catch {
      return `${line}\n`;
    }
    if (!isObject(ev) || typeof ev.type !== 'string') return `${line}\n`;
    const lines = CLAUDE_TYPES.has(ev.type) ? this.claude(ev) : CODEX_TYPES.has(ev.type) ? this.codex(ev) : null;
    if (lines === null) return `${line}\n`;
    return lines.map((l) => `${l}\n`).join('');
  }

  private claude(ev: Json): string[] {
    switch (ev.type) {
      case 'system': {
        if (ev.subtype === 'init') return [`● claude session started${str(ev.model) ? ` · model ${str(ev.model)}` : ''}`];
        if (ev.subtype === 'api_retry') {
          const status = ev.error_status ?? '?';
          const att = num(ev.attempt);
          const max = num(ev.max_retries);
          const delay = num(ev.retry_delay_ms);
          return [`↻ API error ${status} (${str(ev.error) ?? 'unknown'})${att !== null ? `, retry ${att}${max !== null ? `/${max}` : ''}` : ''}${delay !== null ? ` in ${(delay / 1000).toFixed(1)}s` : ''}`];
        }
        return [];
      }
      case 'assistant': {
        const msg = isObject(ev.message) ? ev.message : {};
        const synthetic = msg.model === '<synthetic>' || ev.error !== undefined;
        const out: string[] = [];
        for (const b of Array.isArray(msg.content) ? msg.content : []) {
          if (!isObject(b)) continue;
          if (b.type === 'text' && typeof b.text === 'string' && b.text.trim() !== '') out.push(synthetic ? `✗ ${cut(b.text, 400)}` : b.text.replace(/\n+$/, ''));
          else if (b.type === 'tool_use') {
            const name = str(b.name) ?? 'tool';
            const arg = cut(keyArgument(name, b.input), this.maxArg);
            out.push(`→ ${name}${arg ? `: ${arg}` : ''}`);
          }
        }
        return out;
      }
      case 'user': {
        const msg = isObject(ev.message) ? ev.message : {};
        const out: string[] = [];
        for (const b of Array.isArray(msg.content) ? msg.content : []) {
          if (isObject(b) && b.type === 'tool_result') out.push(resultLine(toolResultText(b.content), b.is_error === true, this.maxResult));
        }
        return out;
      }
      case 'result': {
        const parts: string[] = [];
        const turns = num(ev.num_turns);
        if (turns !== null) parts.push(`${turns} turn${turns === 1 ? '' : 's'}`);
        const cost = num(ev.total_cost_usd) ?? num(ev.cost_usd);
        if (cost !== null) parts.push(formatUsd(cost));
        const u = isObject(ev.usage) ? ev.usage : null;
        if (u) {
          const input = (num(u.input_tokens) ?? 0) + (num(u.cache_creation_input_tokens) ?? 0) + (num(u.cache_read_input_tokens) ?? 0);
          parts.push(`${thousands(input)} in / ${thousands(num(u.output_tokens) ?? 0)} out tokens`);
        }
        const ms = num(ev.duration_ms);
        if (ms !== null) parts.push(`${(ms / 1000).toFixed(1)}s`);
        const failed = ev.is_error === true || (str(ev.subtype) ?? 'success') !== 'success';
        const head = failed ? `✗ failed: ${cut(str(ev.result) ?? str(ev.subtype) ?? 'error', 300)}` : '✓ done';
        return [`${head}${parts.length ? ` · ${parts.join(' · ')}` : ''}`];
      }
      case 'rate_limit_event': {
        const info = isObject(ev.rate_limit_info) ? ev.rate_limit_info : {};
        const status = str(info.status) ?? '';
        if (status === '' || status.startsWith('allowed')) return [];
        const reset = num(info.resetsAt);
        return [`⏸ rate limited (${status})${reset !== null ? ` until ${new Date(reset < 1e12 ? reset * 1000 : reset).toISOString()}` : ''}`];
      }
      default:
        return [];
    }
  }

  private codex(ev: Json): string[] {
    switch (ev.type) {
      case 'thread.started':
        return ['● codex session started'];
      case 'turn.started':
        return [];
      case 'turn.completed': {
        const u = isObject(ev.usage) ? ev.usage : {};
        const cached = num(u.cached_input_tokens) ?? 0;
        return [`✓ turn done · ${thousands(num(u.input_tokens) ?? 0)} in${cached ? ` (${thousands(cached)} cached)` : ''} / ${thousands(num(u.output_tokens) ?? 0)} out tokens`];
      }
      case 'turn.failed': {
        const e = isObject(ev.error) ? ev.error : {};
        return [`✗ failed: ${cut(str(e.message) ?? 'turn failed', 300)}`];
      }
      case 'error':
        return [`! ${cut(str(ev.message) ?? 'error', 300)}`];
      case 'item.started':
      case 'item.updated':
      case 'item.completed': {
        const item = isObject(ev.item) ? ev.item : {};
        return this.codexItem(item, ev.type === 'item.completed');
      }
      default:
        return [];
    }
  }

  private codexItem(item: Json, done: boolean): string[] {
    const type = str(item.type) ?? str(item.item_type) ?? '';
    switch (type) {
      case 'agent_message':
      case 'assistant_message':
        return done && typeof item.text === 'string' ? [item.text.replace(/\n+$/, '')] : [];
      case 'reasoning':
        return done && typeof item.text === 'string' ? [`… ${cut(item.text, this.maxArg)}`] : [];
      case 'command_execution': {
        if (!done) return [`→ shell: ${cut(unwrapShell(str(item.command) ?? ''), this.maxArg)}`];
        const code = num(item.exit_code);
        const outText = str(item.aggregated_output) ?? '';
        return [resultLine(`${code !== null && code !== 0 ? `exit ${code}: ` : ''}${outText}`, code !== null && code !== 0, this.maxResult)];
      }
      case 'file_change': {
        if (!done) return [];
        const changes = Array.isArray(item.changes) ? item.changes : [];
        const paths = changes.map((c) => (isObject(c) ? `${str(c.kind) ?? 'edit'} ${str(c.path) ?? '?'}` : '')).filter((s) => s !== '');
        return [`→ files: ${cut(paths.join(', ') || 'changed', this.maxArg)}`];
      }
      case 'mcp_tool_call':
        return done ? [] : [`→ ${str(item.server) ?? 'mcp'}.${str(item.tool) ?? 'tool'}`];
      case 'web_search':
        return done ? [] : [`→ web search: ${cut(str(item.query) ?? '', this.maxArg)}`];
      case 'todo_list':
        return done || !Array.isArray(item.items) ? [] : [`→ plan: ${item.items.length} items`];
      case 'error':
        return done ? [`! ${cut(str(item.message) ?? 'error', 300)}`] : [];
      default:
        return [];
    }
  }
}

/** `/bin/bash -lc "cmd"` is how Codex shows every command; the command is what matters. */
function unwrapShell(command: string): string {
  const m = /^(?:\/\S*\/)?(?:ba|z)?sh -l?c (["'])([\s\S]*)\1$/.exec(command.trim());
  return m ? m[2]! : command;
}

/** Renders a whole (small) text at once. */
export function renderAgentOutput(text: string, opts: RenderOptions = {}): string {
  const r = new AgentOutputRenderer(opts);
  return r.push(text) + r.flush();
}

/** The line that separates one step's output from the next in a readable stream. */
export function stepHeader(s: { iteration: number; phase: string; attempt?: number | null }): string {
  const attempt = s.attempt && s.attempt > 1 ? ` · attempt ${s.attempt}` : '';
  return `── iteration ${s.iteration} · ${s.phase}${attempt} ──`;
}
