// Claude Code (`claude -p --output-format stream-json`): its result event carries the final text,
// is_error, the cost it reports and token usage; it writes synthetic assistant messages for API
// failures, system/api_retry events for its own retries and rate_limit_event lines.
import { classifyAgentError, type ErrorClass } from '../errors.js';
import { epochMs, isObject, lastPlainLines, logLines, modelArgs, num, resetFromText, str, withError, type AgentUsage, type Json, type LogLine, type ParsedAgentOutput } from '../output.js';
import { p } from '../prices.js';
import type { AgentKindRecord } from './types.js';

const classify = (message: string): ErrorClass => classifyAgentError(message);

/** What the event stream said, before the result event is read. */
interface ClaudeStream {
  texts: string[];
  result: Json | null;
  /** The synthetic assistant messages Claude Code writes for an API failure ("API Error: 529 ..."). */
  apiErrorText: string | null;
  errorEvents: string[];
  resetAt: number | null;
  rateLimited: boolean;
}

function scanClaude(all: LogLine[]): ClaudeStream {
  const texts: string[] = [];
  let result: Json | null = null;
  let apiErrorText: string | null = null;
  const errorEvents: string[] = [];
  let resetAt: number | null = null;
  let rateLimited = false;
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
  return { texts, result, apiErrorText, errorEvents, resetAt, rateLimited };
}

function parseClaude(rawLog: string, failed: boolean): ParsedAgentOutput {
  const all = logLines(rawLog);
  const { texts, result, apiErrorText, errorEvents, rateLimited, ...stream } = scanClaude(all);
  let resetAt = stream.resetAt;
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
  let e = withError(classify, error);
  // A rejected rate_limit_event is the CLI's own word that this is a rate limit, whatever the text.
  if (rateLimited && error !== null && e.errorAction !== 'fatal' && e.errorKind !== 'rate_limit') {
    e = { ...e, errorKind: 'rate_limit', errorAction: 'transient', transientError: e.error };
  }
  if (e.errorKind === 'rate_limit' && resetAt === null && error !== null) resetAt = resetFromText(rawLog.slice(-4096)) ?? resetFromText(error);
  return { text, usage, ...e, rateLimitResetAt: e.transientError !== null ? resetAt : null };
}

export const claude = {
  kind: 'claude',
  title: 'Claude Code',
  binary: 'claude',
  failLabel: 'claude_failed',
  refusesRootWithoutSandbox: true,
  // Claude Code reports its cost; this serves wrappers that report only tokens.
  defaultPrice: p(3, 0.3, 15),
  fixes: {},
  buildCommand: ({ model }) => ['claude', '-p', '--output-format', 'stream-json', '--verbose', ...modelArgs(model), '--dangerously-skip-permissions'].join(' '),
  parseOutput: parseClaude,
  classifyError: classify,
} as const satisfies AgentKindRecord;
