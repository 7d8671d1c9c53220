// What every agent kind's parser reports, and the small readers the parsers share.
//
// Every agent gets the prompt on stdin and writes to one log (stdout and stderr merged), so the
// parsers must tolerate interleaved non-JSON noise. The parsers get a bounded window of the log
// (its last few MiB, see core/logfile.ts), never the whole file: what they need (the final result
// event, the last assistant message, the final error) is at the end. Error detection only looks at
// error-shaped output (error results, error events, stray stderr lines), never at the agent's own
// prose, which may well talk about "rate limiting" as a feature.
//
// No Node imports: like errors.ts, safe to bundle for the browser.
import { oneLine, type AgentErrorKind, type ErrorAction, type ErrorClass } from './errors.js';

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

/** `--model M`, quoted, or nothing for an empty model. */
export function modelArgs(model: string | undefined): string[] {
  const m = model?.trim() ?? '';
  return m !== '' ? ['--model', shellQuote(m)] : [];
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export interface LogLine {
  json: Json | null;
  raw: string;
}

/** The log's non-empty lines, each with its JSON object when it is one. */
export function logLines(rawLog: string): LogLine[] {
  const out: LogLine[] = [];
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
export function epochMs(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+$/.test(v.trim())) n = Number(v.trim());
  else if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  else return null;
  if (!Number.isFinite(n) || n <= 0) return null;
  return n < 1e12 ? n * 1000 : n;
}

/** "Claude AI usage limit reached|1712345678" is how Claude Code has reported the reset time. */
export function resetFromText(text: string): number | null {
  const m = /limit reached\|(\d{9,13})/i.exec(text);
  return m?.[1] !== undefined ? epochMs(m[1]) : null;
}

/** Plain-text lines near the end: a CLI that dies before its JSON stream starts says why here. */
export function lastPlainLines(all: LogLine[], n: number): string[] {
  return all
    .filter((l) => l.json === null)
    .slice(-n)
    .map((l) => l.raw);
}

export type ErrorFields = Pick<ParsedAgentOutput, 'error' | 'errorKind' | 'errorAction' | 'transientError'>;

export const NO_ERROR: ErrorFields = { error: null, errorKind: null, errorAction: null, transientError: null };

/** The error fields of a parse, from the agent's message and its kind's classifier. */
export function withError(classify: (message: string) => ErrorClass, message: string | null): ErrorFields {
  if (message === null || message.trim() === '') return NO_ERROR;
  const error = oneLine(message);
  const c = classify(error);
  return { error, errorKind: c.kind, errorAction: c.action, transientError: c.action === 'transient' ? error : null };
}
