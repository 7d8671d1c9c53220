// How each agent kind is invoked, and how its log is read back.
//
// Every agent gets the prompt on stdin and writes to one log (stdout and stderr merged), so the
// parsers must tolerate interleaved non-JSON noise. The parsers get a bounded window of the log
// (its last few MiB, see core/logfile.ts), never the whole file: what they need (the final result
// event, the last assistant message, the final error) is at the end. Error detection only looks at
// error-shaped output (error results, error events, stray stderr lines), never at the agent's own
// prose, which may well talk about "rate limiting" as a feature.
import { classifyAgentError, oneLine, type AgentErrorKind, type ErrorAction } from './errors.js';

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
  /** The part of inputTokens read from the prompt cache (priced lower). */
  cachedInputTokens?: number;
  /** reported: the agent said what it cost; estimated: from tokens and the price table. */
  costSource?: 'reported' | 'estimated' | 'unpriced';
  /** The model the agent reported, when it did. */
  model?: string | null;
}

export interface ParsedAgentOutput {
  /** What completion detection reads. */
  text: string;
  usage: AgentUsage | null;
  /** The agent's own final error, as one readable line; null when it reported none. */
  error: string | null;
  errorKind: AgentErrorKind | null;
  errorAction: ErrorAction | null;
  /** The error again when it is transient (5xx, overloaded, rate limit, network): retried with backoff. */
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
        // a truncated line or stray text: not an event
      }
    }
    out.push({ json, raw: t });
  }
  return out;
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

/** Plain-text lines near the end: a CLI that dies before its JSON stream starts says why here. */
function lastPlainLines(all: Line[], n: number): string[] {
  return all
    .filter((l) => l.json === null)
    .slice(-n)
    .map((l) => l.raw);
}

const NO_ERROR = { error: null, errorKind: null, errorAction: null, transientError: null } as const;

function withError(kind: AgentKind, message: string | null): Pick<ParsedAgentOutput, 'error' | 'errorKind' | 'errorAction' | 'transientError'> {
  if (message === null || message.trim() === '') return NO_ERROR;
  const error = oneLine(message);
  const c = classifyAgentError(error, kind);
  return { error, errorKind: c.kind, errorAction: c.action, transientError: c.action === 'transient' ? error : null };
}

function parseClaude(rawLog: string, failed: boolean): ParsedAgentOutput {
  const texts: string[] = [];
  let result: Json | null = null;
  /** The synthetic assistant messages Claude Code writes for an API failure ("API Error: 529 ..."). */
  let apiErrorText: string | null = null;
  const errorEvents: string[] = [];
  let resetAt: number | null = null;
  let rateLimited = false;
  const all = lines(rawLog);

  for (const { json } of all) {
    if (json === null) continue;
    const type = str(json.type);
    if (type === 'assistant' && isObject(json.message) && Array.isArray(json.message.content)) {
      const blockTexts: string[] = [];
      for (const block of json.message.content) {
        if (isObject(block) && block.type === 'text' && typeof block.text === 'string') blockTexts.push(block.text);
      }
      if (json.error !== undefined || str(json.message.model) === '<synthetic>') {
        apiErrorText = blockTexts.join(' ') || (str(json.error) ?? JSON.stringify(json.error));
      } else {
        texts.push(...blockTexts);
      }
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
      const e = isObject(json.error) ? json.error : json;
      errorEvents.push(str(e.message) ? `${str(e.type) ?? 'error'}: ${str(e.message)}` : JSON.stringify(e));
    } else if (type === 'system' && str(json.subtype) === 'api_retry') {
      // Retries Claude Code made on its own; they only matter when it gave up.
      errorEvents.push(`API error ${json.error_status ?? ''} (${str(json.error) ?? 'unknown'})`.replace(/\s+/g, ' '));
    }
  }

  let text = texts.join('\n');
  let usage: AgentUsage | null = null;
  let resultError: string | null = null;
  if (result !== null) {
    const r = str(result.result);
    if (r !== null && r.trim() !== '') text = r;
    if (isObject(result.usage) || result.total_cost_usd !== undefined || result.cost_usd !== undefined) {
      const u = isObject(result.usage) ? result.usage : {};
      const cost = result.total_cost_usd ?? result.cost_usd;
      const models = isObject(result.modelUsage) ? Object.keys(result.modelUsage) : [];
      usage = {
        inputTokens: num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens),
        cachedInputTokens: num(u.cache_read_input_tokens),
        outputTokens: num(u.output_tokens),
        costUsd: num(cost),
        costSource: typeof cost === 'number' ? 'reported' : 'unpriced',
        model: models[0] ?? null,
      };
    }
    if (result.is_error === true || (str(result.subtype) ?? 'success') !== 'success') {
      resultError = r ?? apiErrorText ?? str(result.subtype) ?? 'error result';
      if (r !== null && r === apiErrorText) text = texts.join('\n');
    }
  }
  const succeeded = result !== null && resultError === null;

  // The agent's own words, most specific first: the result's error, the synthetic API error
  // message, error events, then whatever plain text it printed last (a refusal to start, say).
  let error: string | null = null;
  if (!succeeded) {
    error =
      resultError ??
      apiErrorText ??
      errorEvents[errorEvents.length - 1] ??
      (rateLimited ? 'rate limit reached' : null) ??
      (failed || result === null ? lastPlainLines(all, 3).join(" ") || null : null);
  }
  let e = withError('claude', error);
  // A rejected rate_limit_event is the CLI's own word that this is a rate limit, whatever the text.
  if (rateLimited && error !== null && e.errorAction !== 'fatal' && e.errorKind !== 'rate_limit') {
    e = { ...e, errorKind: 'rate_limit', errorAction: 'transient', transientError: e.error };
  }
  if (e.errorKind === 'rate_limit' && resetAt === null && error !== null) resetAt = resetFromText(rawLog.slice(-4096)) ?? resetFromText(error);
  return { text, usage, ...e, rateLimitResetAt: e.transientError !== null ? resetAt : null };
}

function parseCodex(rawLog: string, failed: boolean): ParsedAgentOutput {
  const texts: string[] = [];
  /** turn.failed and top-level error events: the reason a turn ended. */
  const errors: string[] = [];
  /** error items: warnings Codex printed on its way (model metadata, say), not why it stopped. */
  const warnings: string[] = [];
  let input = 0;
  let cached = 0;
  let output = 0;
  let sawUsage = false;
  let completed = false;
  let turnFailed: string | null = null;
  let resetAt: number | null = null;
  const all = lines(rawLog);

  for (const { json } of all) {
    if (json === null) continue;
    const type = str(json.type);
    // Current format: {"type":"item.completed","item":{...}}; older: {"id":..,"msg":{"type":...}}.
    const msg = isObject(json.msg) ? json.msg : null;
    if (type === 'item.completed' && isObject(json.item)) {
      const item = json.item;
      const itemType = str(item.type) ?? str(item.item_type);
      if ((itemType === 'agent_message' || itemType === 'assistant_message') && typeof item.text === 'string') texts.push(item.text);
      if (itemType === 'error') warnings.push(str(item.message) ?? JSON.stringify(item));
    } else if (type === 'turn.completed') {
      completed = true;
      if (isObject(json.usage)) {
        sawUsage = true;
        input += num(json.usage.input_tokens);
        cached += num(json.usage.cached_input_tokens);
        output += num(json.usage.output_tokens);
      }
    } else if (type === 'turn.failed' || type === 'error') {
      const e = isObject(json.error) ? json.error : json;
      const m = str(e.message) ?? JSON.stringify(e);
      if (type === 'turn.failed') turnFailed = m;
      errors.push(m);
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
          cached = num(u.cached_input_tokens);
          output = num(u.output_tokens);
        }
      } else if (mt === 'error' || mt === 'stream_error') {
        errors.push(str(msg.message) ?? JSON.stringify(msg));
      }
    }
  }

  let error: string | null = null;
  if (turnFailed !== null || !completed || failed) {
    // "Reconnecting... 1/5 (...)" lines are progress; the last one still says what was wrong.
    error = turnFailed ?? errors[errors.length - 1] ?? (failed ? (lastPlainLines(all, 3).join(' ') || warnings[warnings.length - 1] || null) : null);
    if (error !== null && completed && !failed && turnFailed === null) error = null;
  }
  const e = withError('codex', error);
  return {
    text: texts.join('\n'),
    usage: sawUsage ? { inputTokens: input, cachedInputTokens: cached, outputTokens: output, costUsd: 0, costSource: 'unpriced', model: null } : null,
    ...e,
    rateLimitResetAt: e.transientError !== null ? resetAt : null,
  };
}

/**
 * Reads an agent's output. `failed` says whether the process failed (non-zero exit, timeout):
 * only then do plain-text lines count as its error message.
 */
export function parseAgentOutput(kind: AgentKind, rawLog: string, opts: { failed?: boolean } = {}): ParsedAgentOutput {
  const failed = opts.failed === true;
  switch (kind) {
    case 'claude':
      return parseClaude(rawLog, failed);
    case 'codex':
      return parseCodex(rawLog, failed);
    case 'command': {
      // An arbitrary command's output has no error channel: only when it failed do its last lines
      // count as its error message (a wrapper around claude prints the API's error there).
      if (!failed) return { text: rawLog, usage: null, ...NO_ERROR, rateLimitResetAt: null };
      const tail = rawLog.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-20);
      // The most telling line: a classified one if any, else the last.
      const telling = tail.find((l) => classifyAgentError(l, 'command').kind !== 'unknown') ?? tail[tail.length - 1] ?? null;
      const e = withError('command', telling);
      return { text: rawLog, usage: null, ...e, rateLimitResetAt: e.transientError !== null ? resetFromText(tail.join('\n')) : null };
    }
  }
}
