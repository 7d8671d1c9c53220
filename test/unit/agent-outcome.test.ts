import { describe, expect, it } from 'vitest';
import { parseAgentOutput } from '../../core/agents/adapters.js';
import { agentOutcome, failLabel, priced } from '../../functions/agent-step.js';
import { TailWriter } from '../../cli/commands/tail.js';

const exit = (over: Partial<{ exitCode: number | null; timedOut: boolean; canceled: boolean; vanished: boolean }> = {}) => ({
  exitCode: 1,
  timedOut: false,
  canceled: false,
  vanished: false,
  ...over,
});
const jl = (...events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';
const authResult = jl({ type: 'result', subtype: 'success', is_error: true, result: 'Invalid API key · Fix external API key' });

describe('how an agent ended, in one readable line', () => {
  it('a bad key: the agent\'s words, the fix, the exit code, and fatal', () => {
    const o = agentOutcome(exit(), 60, parseAgentOutput('claude', authResult, { failed: true }), 'claude');
    expect(o.status).toBe('FAILED');
    expect(o.error).toBe(
      'Invalid API key · Fix external API key (fix: run `claude login` as the user running loopd, or set ANTHROPIC_API_KEY in the daemon\'s environment, then `loopctl daemon restart`) (exit code 1)',
    );
    expect(o.facts).toMatchObject({ errorKind: 'auth', fatal: true, failReason: 'claude_failed:auth' });
  });

  it('a transient error keeps its words for the retry and is not fatal', () => {
    const p = parseAgentOutput('codex', jl({ type: 'turn.failed', error: { message: 'exceeded retry limit, last status: 429 Too Many Requests' } }), { failed: true });
    const o = agentOutcome(exit(), 60, p, 'codex');
    expect(o.facts).toMatchObject({ errorKind: 'rate_limit', fatal: false, failReason: 'agent_failed:rate_limit', transientError: 'exceeded retry limit, last status: 429 Too Many Requests' });
  });

  it('a timeout names a known last error, and not a meaningless one', () => {
    const net = parseAgentOutput('codex', jl({ type: 'error', message: 'Reconnecting... waiting for network (Connection failed: error sending request)' }), { failed: true });
    expect(agentOutcome(exit({ exitCode: null, timedOut: true }), 30, net, 'codex').error).toMatch(/timed out after 30s .*its last error: Reconnecting/);
    const term = parseAgentOutput('claude', 'Terminated\n', { failed: true });
    const o = agentOutcome(exit({ exitCode: null, timedOut: true }), 30, term, 'claude');
    expect(o.error).toBe('agent timed out after 30s (claude_timeout_sec); its process tree was killed');
    expect(o.facts.failReason).toBe('claude_failed:timeout');
  });

  it('a plain failure without words says the exit code; success says nothing', () => {
    expect(agentOutcome(exit({ exitCode: 2 }), 60, parseAgentOutput('command', '', { failed: true })).error).toBe('agent exited with code 2');
    expect(agentOutcome(exit({ exitCode: 0 }), 60, parseAgentOutput('command', 'ok\n'))).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(failLabel('command')).toBe('agent_failed');
    expect(failLabel('codex')).toBe('agent_failed');
    expect(failLabel('claude')).toBe('claude_failed');
  });
});

describe('cost from tokens', () => {
  it('prices an unpriced usage by the model, keeps a reported cost, and marks an unknown model', () => {
    const u = { inputTokens: 4000, cachedInputTokens: 1000, outputTokens: 300, costUsd: 0, costSource: 'unpriced' as const, model: null };
    expect(priced(u, 'codex', 'gpt-5.1-codex', { model_prices: '' })).toMatchObject({ costSource: 'estimated', costUsd: 0.006875, model: 'gpt-5.1-codex' });
    expect(priced(u, 'codex', 'house-model', { model_prices: 'house-model=1/1/1' })).toMatchObject({ costUsd: 0.0043 });
    expect(priced(u, 'codex', 'house-model', { model_prices: '' })).toMatchObject({ costSource: 'unpriced', costUsd: 0 });
    const reported = { ...u, costUsd: 0.5, costSource: 'reported' as const };
    expect(priced(reported, 'claude', '', { model_prices: '' })).toBe(reported);
    expect(priced(null, 'codex', '', { model_prices: '' })).toBeNull();
  });
});

describe('loopctl tail output', () => {
  const steps = [
    { stepId: 1, iteration: 1, phase: 'implementation', attempt: 1 },
    { stepId: 2, iteration: 1, phase: 'review', attempt: 1 },
  ];
  const claudeLine = JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'hello' }] } }) + '\n';

  it('renders each step after a header line, even with an event split across chunks', () => {
    let out = '';
    const w = new TailWriter(false, (s) => (out += s));
    w.write(steps[0]!, claudeLine.slice(0, 10));
    w.write(steps[0]!, claudeLine.slice(10));
    w.write(steps[1]!, 'plain text without newline');
    w.end();
    expect(out).toBe('── iteration 1 · implementation ──\nhello\n── iteration 1 · review ──\nplain text without newline\n');
  });

  it('--raw writes the exact bytes, no headers', () => {
    let out = '';
    const w = new TailWriter(true, (s) => (out += s));
    w.write(steps[0]!, claudeLine);
    w.write(steps[1]!, 'x');
    w.end();
    expect(out).toBe(`${claudeLine}x\n`);
  });
});
