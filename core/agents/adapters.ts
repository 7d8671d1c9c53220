// How each agent kind is invoked, and how its log is read back.
//
// Every agent gets the prompt on stdin and writes to one log (stdout and stderr merged), so the
// parsers must tolerate interleaved non-JSON noise. Transient-error detection only looks at
// error-shaped output (error results, error events, stray stderr lines), never at the agent's
// own prose, which may well talk about "rate limiting" as a feature.

export type AgentKind = 'claude' | 'codex' | 'command';

export interface AgentInvocationInput {
  kind: AgentKind;
  agentCmd?: string;
  model?: string;
}

export interface AgentUsage {
  /** All prompt tokens, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface ParsedAgentOutput {
  /** What completion detection reads. */
  text: string;
  usage: AgentUsage | null;
  /** 5xx, overloaded, rate limit: worth retrying with backoff. */
  transientError: string | null;
  /** Epoch ms, when the stream says when a rate limit resets. */
  rateLimitResetAt: number | null;
}

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

/** Quotes a word for /bin/sh; plain words stay readable in logs. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function buildAgentCommand(i: AgentInvocationInput): string {
  const model = i.model?.trim() ?? '';
  const modelArgs = model !== '' ? ['--model', shellQuote(model)] : [];
  switch (i.kind) {
    case 'claude':
      return ['claude', '-p', '--output-format', 'stream-json', '--verbose', ...modelArgs, '--dangerously-skip-permissions'].join(' ');
    case 'codex':
      // codex exec defaults to a read-only sandbox and, even in workspace-write, keeps the
      // worktree's git dir read-only, so the agent could not commit; the worktree is the isolation.
      return ['codex', 'exec', '--json', '--dangerously-bypass-approvals-and-sandbox', ...modelArgs, '-'].join(' ');
    case 'command': {
      const cmd = i.agentCmd?.trim() ?? '';
      if (cmd === '') throw new AgentConfigError('agent=command needs agent_cmd (the command line to run)');
      return cmd;
    }
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

interface Line {
  json: Json | null;
  raw: string;
}

function lines(rawLog: string): Line[] {
  const out: Line[] = [];
  for (const raw of rawLog.split('\n')) {
    const t = raw.trim();
    if (t === '') continue;
    let json: Json | null = null;
    if (t.startsWith('{')) {
      try {
        const v: unknown = JSON.parse(t);
        if (isObject(v)) json = v;
      } catch {
        // a truncated last line or stray text: not an event
      }
    }
    out.push({ json, raw: t });
  }
  return out;
}

// Billing problems (insufficient_quota, invalid key) are deliberately absent: retrying won't help.
const TRANSIENT = [
  /\b(?:API Error|status(?: code)?|HTTP(?:\/\d(?:\.\d)?)?|error)[:\s]*5\d\d\b/i,
  /\b5\d\d (?:error|status)\b/i,
  /overloaded/i,
  /rate[\s_-]?limit/i,
  /too many requests|(?:status|API Error|HTTP|error)[:\s]*429\b/i,
  /usage limit|limit reached/i,
  /internal server error|bad gateway|service unavailable|gateway time-?out/i,
  /ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|socket hang up|stream disconnected|network error/i,
];

function transientIn(text: string): boolean {
  return TRANSIENT.some((re) => re.test(text));
}

function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Seconds or ms since the epoch, as ms; null for anything implausible. */
function epochMs(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+$/.test(v.trim())) n = Number(v.trim());
  else if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  else return null;
  if (!Number.isFinite(n) || n <= 0) return null;
  return n < 1e12 ? n * 1000 : n;
}

/** "Claude AI usage limit reached|1712345678" is how Claude Code has reported the reset time. */
function resetFromText(text: string): number | null {
  const m = /limit reached\|(\d{9,13})/i.exec(text);
  return m?.[1] !== undefined ? epochMs(m[1]) : null;
}

function parseClaude(rawLog: string): ParsedAgentOutput {
  const texts: string[] = [];
  let result: Json | null = null;
  const errors: string[] = [];
  let resetAt: number | null = null;
  let rateLimited = false;

  for (const { json, raw } of lines(rawLog)) {
    if (json === null) {
      if (transientIn(raw)) errors.push(raw);
      continue;
    }
    const type = str(json.type);
    if (type === 'assistant' && isObject(json.message) && Array.isArray(json.message.content)) {
      for (const block of json.message.content) {
        if (isObject(block) && block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
      }
      // Claude Code reports API failures as synthetic assistant messages flagged with `error`.
      if (json.error !== undefined) errors.push(JSON.stringify(json.error));
    } else if (type === 'result') {
      result = json;
    } else if (type === 'rate_limit_event' && isObject(json.rate_limit_info)) {
      const info = json.rate_limit_info;
      const status = str(info.status) ?? '';
      if (status !== '' && !status.startsWith('allowed')) {
        rateLimited = true;
        resetAt = epochMs(info.resetsAt ?? info.resets_at) ?? resetAt;
      }
    } else if (type === 'error' || isObject(json.error)) {
      errors.push(JSON.stringify(json.error ?? json));
    } else if (type === 'system' && /retry|error/i.test(str(json.subtype) ?? '')) {
      errors.push(JSON.stringify(json));
    }
  }

  let text = texts.join('\n');
  let usage: AgentUsage | null = null;
  let succeeded = false;
  if (result !== null) {
    const r = str(result.result);
    if (r !== null && r.trim() !== '') text = r;
    if (isObject(result.usage) || result.total_cost_usd !== undefined || result.cost_usd !== undefined) {
      const u = isObject(result.usage) ? result.usage : {};
      usage = {
        inputTokens: num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens),
        outputTokens: num(u.output_tokens),
        costUsd: num(result.total_cost_usd ?? result.cost_usd),
      };
    }
    if (result.is_error === true || (str(result.subtype) ?? 'success') !== 'success') {
      errors.push(r ?? str(result.subtype) ?? 'error result');
    } else {
      succeeded = true;
    }
  }

  // Retries that Claude Code recovered from on its own are not our problem.
  let transientError: string | null = null;
  if (!succeeded) {
    const hit = errors.find(transientIn) ?? (rateLimited ? 'rate limit reached' : undefined);
    if (hit !== undefined) transientError = oneLine(hit);
  }
  if (transientError !== null && resetAt === null) {
    for (const e of errors) resetAt = resetFromText(e) ?? resetAt;
  }
  return { text, usage, transientError, rateLimitResetAt: transientError !== null ? resetAt : null };
}

function parseCodex(rawLog: string): ParsedAgentOutput {
  const texts: string[] = [];
  const errors: string[] = [];
  let input = 0;
  let output = 0;
  let sawUsage = false;
  let completed = false;
  let resetAt: number | null = null;

  for (const { json, raw } of lines(rawLog)) {
    if (json === null) {
      if (transientIn(raw)) errors.push(raw);
      continue;
    }
    const type = str(json.type);
    // Current format: {"type":"item.completed","item":{...}}; older: {"id":..,"msg":{"type":...}}.
    const msg = isObject(json.msg) ? json.msg : null;
    if (type === 'item.completed' && isObject(json.item)) {
      const item = json.item;
      const itemType = str(item.type) ?? str(item.item_type);
      if ((itemType === 'agent_message' || itemType === 'assistant_message') && typeof item.text === 'string') texts.push(item.text);
      if (itemType === 'error') errors.push(str(item.message) ?? JSON.stringify(item));
    } else if (type === 'turn.completed') {
      completed = true;
      if (isObject(json.usage)) {
        sawUsage = true;
        input += num(json.usage.input_tokens);
        output += num(json.usage.output_tokens);
      }
    } else if (type === 'turn.failed' || type === 'error') {
      const e = isObject(json.error) ? json.error : json;
      errors.push(str(e.message) ?? JSON.stringify(e));
      resetAt = epochMs(e.resets_at ?? e.resetsAt) ?? resetAt;
    } else if (msg !== null) {
      const mt = str(msg.type);
      if (mt === 'agent_message' && typeof msg.message === 'string') texts.push(msg.message);
      else if (mt === 'task_complete') completed = true;
      else if (mt === 'token_count') {
        // Older builds report running totals, so the last one wins.
        const u = isObject(msg.info) && isObject(msg.info.total_token_usage) ? msg.info.total_token_usage : msg;
        if (u.input_tokens !== undefined || u.output_tokens !== undefined) {
          sawUsage = true;
          input = num(u.input_tokens);
          output = num(u.output_tokens);
        }
      } else if (mt === 'error' || mt === 'stream_error') {
        errors.push(str(msg.message) ?? JSON.stringify(msg));
      }
    }
  }

  let transientError: string | null = null;
  if (!completed || texts.length === 0) {
    const hit = errors.find(transientIn);
    if (hit !== undefined) transientError = oneLine(hit);
  }
  return {
    text: texts.join('\n'),
    usage: sawUsage ? { inputTokens: input, outputTokens: output, costUsd: 0 } : null,
    transientError,
    rateLimitResetAt: transientError !== null ? resetAt : null,
  };
}

export function parseAgentOutput(kind: AgentKind, rawLog: string, opts: { failed?: boolean } = {}): ParsedAgentOutput {
  switch (kind) {
    case 'claude':
      return parseClaude(rawLog);
    case 'codex':
      return parseCodex(rawLog);
    case 'command': {
      // An arbitrary command's output has no error channel: only when it failed do its last lines
      // count as its error message (a wrapper around claude prints the API's error there).
      if (!opts.failed) return { text: rawLog, usage: null, transientError: null, rateLimitResetAt: null };
      const tail = rawLog.split('\n').slice(-20).join('\n');
      const hit = tail.split('\n').find(transientIn);
      return {
        text: rawLog,
        usage: null,
        transientError: hit !== undefined ? oneLine(hit) : null,
        rateLimitResetAt: hit !== undefined ? resetFromText(tail) : null,
      };
    }
  }
}
