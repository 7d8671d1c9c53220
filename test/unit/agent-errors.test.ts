import { describe, expect, it } from 'vitest';
import { agentKind, classifyAgentError, fixFor } from '../../core/agents/kinds/index.js';
import { costFromTokens, parsePriceOverrides, priceFor, PriceTableError } from '../../core/agents/prices.js';

describe('the agent error table', () => {
  // Messages as the CLIs print them (see test/fixtures/transcripts), plus variants seen in the wild.
  const cases: [string, string, string][] = [
    ['Invalid API key · Fix external API key', 'auth', 'fatal'],
    ['Invalid API key · Please run /login', 'auth', 'fatal'],
    ['unexpected status 401 Unauthorized: Incorrect API key provided: sk-fake.', 'auth', 'fatal'],
    ['OAuth token has expired. Please obtain a new token or refresh your existing token.', 'auth', 'fatal'],
    ['--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons', 'root_refused', 'fatal'],
    ['Prompt is too long', 'context_too_long', 'retry'],
    ['API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit', 'rate_limit', 'transient'],
    ['exceeded retry limit, last status: 429 Too Many Requests', 'rate_limit', 'transient'],
    ['Claude AI usage limit reached|1712345678', 'rate_limit', 'transient'],
    ['API Error: 529 Overloaded. This is a server-side issue, usually temporary', 'overloaded', 'transient'],
    ['API Error: 500 Internal server error', 'overloaded', 'transient'],
    ['Selected model is at capacity. Please try a different model.', 'overloaded', 'transient'],
    ['unexpected status 503 Service Unavailable', 'overloaded', 'transient'],
    ['API Error: Unable to connect to API (ConnectionRefused)', 'network', 'transient'],
    ['API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)', 'network', 'transient'],
    ['Reconnecting... waiting for network (Connection failed: error sending request)', 'network', 'transient'],
    ['stream disconnected before completion', 'network', 'transient'],
    ['Terminated', 'unknown', 'retry'],
    ['Error: tests failed in src/app.ts', 'unknown', 'retry'],
  ];
  it.each(cases)('%s -> %s (%s)', (message, kind, action) => {
    expect(classifyAgentError(message)).toMatchObject({ kind, action });
  });

  it('names the fix for what the user must fix, per agent', () => {
    expect(fixFor('auth', 'claude')).toContain('claude login');
    expect(fixFor('auth', 'claude')).toContain('ANTHROPIC_API_KEY');
    expect(fixFor('auth', 'codex')).toContain('codex login');
    expect(fixFor('root_refused', 'claude')).toContain('IS_SANDBOX=1');
    expect(fixFor('overloaded', 'claude')).toBeNull();
  });
});

describe('the price table', () => {
  it('prices exact names, the longest known prefix, and the agent default for an empty model', () => {
    expect(priceFor('gpt-5.1-codex', 'codex')?.key).toBe('gpt-5.1-codex');
    expect(priceFor('gpt-5.1-codex-max-2025-12', 'codex')?.key).toBe('gpt-5.1-codex-max');
    expect(priceFor('', 'codex')).toBeNull();
    expect(priceFor('', 'codex', {}, agentKind('codex').defaultPrice)).toMatchObject({ key: 'default:codex', price: { input: 1.25 } });
    expect(priceFor('', 'codex', { 'default:codex': { input: 2, cachedInput: 0.2, output: 8 } }, agentKind('codex').defaultPrice)?.price.input).toBe(2);
    expect(priceFor('some-local-model', 'codex')).toBeNull();
  });

  it('computes cost with cached input at its own price', () => {
    const price = { input: 1.25, cachedInput: 0.125, output: 10 };
    expect(costFromTokens({ inputTokens: 4000, cachedInputTokens: 1000, outputTokens: 300 }, price)).toBeCloseTo(0.006875, 9);
    expect(costFromTokens({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, price)).toBe(0);
  });

  it('takes overrides from model_prices and rejects malformed ones with an example', () => {
    const o = parsePriceOverrides('my-model=1/0.1/4, gpt-5=2/0.2/20');
    expect(o['my-model']).toEqual({ input: 1, cachedInput: 0.1, output: 4 });
    expect(priceFor('my-model-v2', 'codex', o)).toMatchObject({ key: 'my-model' });
    expect(priceFor('gpt-5', 'codex', o)?.price.output).toBe(20);
    expect(parsePriceOverrides('')).toEqual({});
    expect(() => parsePriceOverrides('gpt-5=1/2')).toThrow(PriceTableError);
    expect(() => parsePriceOverrides('gpt-5=cheap')).toThrow(/MODEL=INPUT\/CACHED_INPUT\/OUTPUT/);
  });
});
