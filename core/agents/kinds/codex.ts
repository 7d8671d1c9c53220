// OpenAI Codex (`codex exec --json`): item.completed agent messages, turn.completed usage (tokens,
// no cost: priced from core/agents/prices.ts), turn.failed and error events; older builds wrote
// {"id":..,"msg":{...}} events, still read.
import { classifyAgentError, type ErrorClass, type ErrorFixes } from '../errors.js';
import { epochMs, isObject, lastPlainLines, logLines, modelArgs, num, str, withError, type ParsedAgentOutput } from '../output.js';
import { p } from '../prices.js';
import type { AgentKindRecord } from './types.js';

const fixes: ErrorFixes = {
  auth: "run `codex login` as the user running loopd, or set OPENAI_API_KEY in the daemon's environment, then `loopctl daemon restart`",
};
const classify = (message: string): ErrorClass => classifyAgentError(message, fixes);

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
  const all = logLines(rawLog);

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
  const e = withError(classify, error);
  return {
    text: texts.join('\n'),
    usage: sawUsage ? { inputTokens: input, cachedInputTokens: cached, outputTokens: output, costUsd: 0, costSource: 'unpriced', model: null } : null,
    ...e,
    rateLimitResetAt: e.transientError !== null ? resetAt : null,
  };
}

export const codex = {
  kind: 'codex',
  title: 'Codex',
  binary: 'codex',
  failLabel: 'agent_failed',
  refusesRootWithoutSandbox: false,
  defaultPrice: p(1.25, 0.125, 10),
  fixes,
  // codex exec defaults to a read-only sandbox and, even in workspace-write, keeps the worktree's
  // git dir read-only, so the agent could not commit; the worktree is the isolation.
  buildCommand: ({ model }) => ['codex', 'exec', '--json', '--dangerously-bypass-approvals-and-sandbox', ...modelArgs(model), '-'].join(' '),
  parseOutput: parseCodex,
  classifyError: classify,
} as const satisfies AgentKindRecord;
