import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AgentConfigError, buildAgentCommand, parseAgentOutput, shellQuote } from '../../core/agents/adapters.js';

const jl = (...objs: unknown[]): string => objs.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n') + '\n';

describe('buildAgentCommand', () => {
  it('builds the claude command line', () => {
    expect(buildAgentCommand({ kind: 'claude' })).toBe('claude -p --output-format stream-json --verbose --dangerously-skip-permissions');
    expect(buildAgentCommand({ kind: 'claude', model: 'claude-sonnet-4-5' })).toBe(
      'claude -p --output-format stream-json --verbose --model claude-sonnet-4-5 --dangerously-skip-permissions',
    );
    expect(buildAgentCommand({ kind: 'claude', model: '  ' })).not.toContain('--model');
  });

  it('builds the codex command line reading the prompt from stdin', () => {
    expect(buildAgentCommand({ kind: 'codex' })).toBe('codex exec --json --dangerously-bypass-approvals-and-sandbox -');
    expect(buildAgentCommand({ kind: 'codex', model: 'gpt-5' })).toBe('codex exec --json --dangerously-bypass-approvals-and-sandbox --model gpt-5 -');
  });

  it('passes agent_cmd through and requires it', () => {
    expect(buildAgentCommand({ kind: 'command', agentCmd: 'node /x/fake.mjs --flag' })).toBe('node /x/fake.mjs --flag');
    expect(() => buildAgentCommand({ kind: 'command' })).toThrow(AgentConfigError);
    expect(() => buildAgentCommand({ kind: 'command', agentCmd: ' ' })).toThrow('agent=command needs agent_cmd (the command line to run)');
  });

  it('shell-quotes hostile models so the shell sees one literal word', () => {
    const nasty = `it's $(touch /tmp/pwned) "q" ; rm -rf ~`;
    const cmd = buildAgentCommand({ kind: 'claude', model: nasty });
    expect(cmd).toContain(`--model ${shellQuote(nasty)}`);
    const echoed = execFileSync('/bin/sh', ['-c', `printf '%s' ${shellQuote(nasty)}`], { encoding: 'utf8' });
    expect(echoed).toBe(nasty);
    expect(shellQuote('')).toBe(`''`);
    expect(shellQuote('opus[1m]')).toBe(`'opus[1m]'`);
  });
});

describe('parseAgentOutput: command', () => {
  it('returns the raw log as text', () => {
    const raw = 'working\n<promise>COMPLETE</promise>\n';
    expect(parseAgentOutput('command', raw)).toMatchObject({ text: raw, usage: null, transientError: null, rateLimitResetAt: null });
  });
});

describe('parseAgentOutput: claude stream-json', () => {
  const init = { type: 'system', subtype: 'init', cwd: '/w', session_id: 's', tools: ['Bash'], model: 'claude-x' };

  it('takes the result text, usage and cost, ignoring non-JSON noise', () => {
    const raw = jl(
      init,
      'some stderr warning that is not JSON',
      { type: 'assistant', message: { content: [{ type: 'text', text: 'Looking at the plan.' }, { type: 'tool_use', id: 't', name: 'Bash', input: {} }] } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] } },
      { type: 'assistant', message: { content: [{ type: 'text', text: 'Done.\n<promise>COMPLETE</promise>' }] } },
      {
        type: 'result',
        subtype: 'success',
        is_error: false,
        result: 'Done.\n<promise>COMPLETE</promise>',
        total_cost_usd: 0.0421,
        usage: { input_tokens: 10, cache_creation_input_tokens: 200, cache_read_input_tokens: 3000, output_tokens: 55 },
      },
    );
    expect(parseAgentOutput('claude', raw)).toMatchObject({
      text: 'Done.\n<promise>COMPLETE</promise>',
      usage: { inputTokens: 3210, outputTokens: 55, costUsd: 0.0421 },
      transientError: null,
      rateLimitResetAt: null,
    });
  });

  it('falls back to concatenated assistant text without a result (or with an empty one)', () => {
    const a1 = { type: 'assistant', message: { content: [{ type: 'text', text: 'first' }] } };
    const a2 = { type: 'assistant', message: { content: [{ type: 'text', text: 'second' }] } };
    const cut = jl(init, a1, a2, '{"type":"assistant","message":{"content":[{"type":"te');
    expect(parseAgentOutput('claude', cut)).toMatchObject({ text: 'first\nsecond', usage: null, transientError: null });
    const empty = jl(a1, a2, { type: 'result', subtype: 'success', is_error: false, result: '', total_cost_usd: 0.01, usage: { input_tokens: 1, output_tokens: 2 } });
    expect(parseAgentOutput('claude', empty)).toMatchObject({ text: 'first\nsecond', usage: { inputTokens: 1, outputTokens: 2, costUsd: 0.01 } });
  });

  it('flags an overloaded API error result as transient', () => {
    const raw = jl(init, {
      type: 'result',
      subtype: 'success',
      is_error: true,
      result: 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
      total_cost_usd: 0,
      usage: { input_tokens: 0, output_tokens: 0 },
    });
    const p = parseAgentOutput('claude', raw);
    expect(p.transientError).toMatch(/529.*Overloaded/);
    expect(p.rateLimitResetAt).toBeNull();
  });

  it('flags 5xx errors printed as plain text when no result came', () => {
    expect(parseAgentOutput('claude', 'API Error: 500 Internal server error\n').transientError).toBe('API Error: 500 Internal server error');
    expect(parseAgentOutput('claude', jl({ type: 'error', error: { type: 'api_error', message: 'Internal server error' } })).transientError).toMatch(/api_error/);
  });

  it('reads the rate-limit reset time from a rate_limit_event or the legacy text', () => {
    const rl = jl(
      init,
      { type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: 1774447200, rateLimitType: 'five_hour' } },
      { type: 'result', subtype: 'success', is_error: true, result: "You've hit your limit · resets 3pm" },
    );
    expect(parseAgentOutput('claude', rl)).toMatchObject({ transientError: "You've hit your limit · resets 3pm", errorKind: 'rate_limit', rateLimitResetAt: 1774447200000 });

    const legacy = jl({ type: 'result', subtype: 'success', is_error: true, result: 'Claude AI usage limit reached|1712345678' });
    expect(parseAgentOutput('claude', legacy)).toMatchObject({ rateLimitResetAt: 1712345678000 });
    expect(parseAgentOutput('claude', legacy).transientError).toContain('usage limit reached');
  });

  it('does not flag a successful run, even one that talks about rate limits or hit an allowed limit event', () => {
    const raw = jl(
      { type: 'assistant', message: { content: [{ type: 'text', text: 'Added rate limiting; handles HTTP 503 and overloaded upstreams.' }] } },
      { type: 'rate_limit_event', rate_limit_info: { status: 'allowed', resetsAt: 1774447200 } },
      { type: 'result', subtype: 'success', is_error: false, result: 'ok', total_cost_usd: 0.1, usage: { input_tokens: 5, output_tokens: 6 } },
    );
    expect(parseAgentOutput('claude', raw)).toMatchObject({ text: 'ok', transientError: null, rateLimitResetAt: null });
  });

  it('does not call a non-transient failure transient', () => {
    const raw = jl({ type: 'result', subtype: 'error_max_turns', is_error: true, num_turns: 50 });
    expect(parseAgentOutput('claude', raw).transientError).toBeNull();
    expect(parseAgentOutput('claude', 'Invalid API key · Please run /login\n').transientError).toBeNull();
  });
});

describe('parseAgentOutput: codex --json', () => {
  it('takes agent messages and sums turn usage', () => {
    const raw = jl(
      { type: 'thread.started', thread_id: 't1' },
      { type: 'turn.started' },
      { type: 'item.started', item: { id: 'i0', type: 'command_execution', command: 'ls', status: 'in_progress' } },
      { type: 'item.completed', item: { id: 'i0', type: 'command_execution', command: 'ls', aggregated_output: 'a b', exit_code: 0 } },
      { type: 'item.completed', item: { id: 'i1', type: 'reasoning', text: 'thinking about tasks' } },
      'Reading prompt from stdin...',
      { type: 'item.completed', item: { id: 'i2', type: 'agent_message', text: 'Task done.\n<promise>COMPLETE</promise>' } },
      { type: 'turn.completed', usage: { input_tokens: 1200, cached_input_tokens: 1000, output_tokens: 80 } },
    );
    expect(parseAgentOutput('codex', raw)).toMatchObject({
      text: 'Task done.\n<promise>COMPLETE</promise>',
      usage: { inputTokens: 1200, outputTokens: 80, costUsd: 0 },
      transientError: null,
      rateLimitResetAt: null,
    });
  });

  it('accepts the older msg-envelope format', () => {
    const raw = jl(
      { id: '0', msg: { type: 'agent_message', message: 'hello' } },
      { id: '0', msg: { type: 'token_count', input_tokens: 10, output_tokens: 3 } },
      { id: '0', msg: { type: 'token_count', input_tokens: 20, output_tokens: 7 } },
      { id: '0', msg: { type: 'task_complete' } },
    );
    expect(parseAgentOutput('codex', raw)).toMatchObject({ text: 'hello', usage: { inputTokens: 20, outputTokens: 7, costUsd: 0 } });
  });

  it('flags failed turns caused by 5xx or rate limits', () => {
    const failed = jl(
      { type: 'turn.started' },
      { type: 'error', message: 'stream error: exceeded retry limit, last status: 429 Too Many Requests' },
      { type: 'turn.failed', error: { message: 'exceeded retry limit, last status: 429 Too Many Requests' } },
    );
    expect(parseAgentOutput('codex', failed).transientError).toContain('429 Too Many Requests');
    const down = jl({ type: 'turn.failed', error: { message: 'unexpected status 503 Service Unavailable' } });
    expect(parseAgentOutput('codex', down).transientError).toContain('503');
    const fatal = jl({ type: 'turn.failed', error: { message: 'model not found' } });
    expect(parseAgentOutput('codex', fatal)).toMatchObject({ text: '', usage: null, transientError: null });
  });
});
