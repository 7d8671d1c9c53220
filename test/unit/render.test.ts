import { describe, expect, it } from 'vitest';
import { AgentOutputRenderer, keyArgument, renderAgentOutput, stepHeader } from '../../core/render/agent-output.js';

const jl = (...events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

describe('the readable renderer', () => {
  it('passes plain output through unchanged, partial lines at once', () => {
    const r = new AgentOutputRenderer();
    expect(r.push('progress 1')).toBe('progress 1');
    expect(r.push('0%\nnext line\n')).toBe('0%\nnext line\n');
    expect(r.flush()).toBe('');
  });

  it('waits for a JSON event split across chunks, then renders it', () => {
    const line = JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'Hello there' }] } }) + '\n';
    const r = new AgentOutputRenderer();
    expect(r.push(line.slice(0, 20))).toBe('');
    expect(r.push(line.slice(20))).toBe('Hello there\n');
  });

  it('renders a tool call with its key argument and a short result', () => {
    const out = renderAgentOutput(
      jl(
        { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Read', input: { file_path: '/src/a.ts' } }] } },
        { type: 'user', message: { content: [{ type: 'tool_result', content: 'line 1\nline 2\nline 3' }] } },
        { type: 'user', message: { content: [{ type: 'tool_result', content: [{ type: 'text', text: 'boom' }], is_error: true }] } },
      ),
    );
    expect(out).toBe('→ Read: /src/a.ts\n  ← line 1 (+2 lines)\n  ✗ boom\n');
  });

  it('ends with the cost, or the failure in the agent\'s words', () => {
    expect(renderAgentOutput(jl({ type: 'result', subtype: 'success', num_turns: 3, total_cost_usd: 0.0123, usage: { input_tokens: 1000, output_tokens: 50 } }))).toBe(
      '✓ done · 3 turns · $0.0123 · 1,000 in / 50 out tokens\n',
    );
    expect(renderAgentOutput(jl({ type: 'result', subtype: 'success', is_error: true, result: 'Invalid API key' }))).toContain('✗ failed: Invalid API key');
  });

  it('drops events with nothing to say and keeps unknown JSON as it is', () => {
    expect(renderAgentOutput(jl({ type: 'stream_event', event: {} }, { type: 'turn.started' }))).toBe('');
    expect(renderAgentOutput('{"hello":1}\n')).toBe('{"hello":1}\n');
    expect(renderAgentOutput('{not json\n')).toBe('{not json\n');
  });

  it('picks the argument that says what a tool call does', () => {
    expect(keyArgument('Bash', { command: 'npm test', description: 'Run tests' })).toBe('npm test');
    expect(keyArgument('Grep', { pattern: 'TODO', path: 'src' })).toBe('TODO');
    expect(keyArgument('TodoWrite', { todos: [1, 2] })).toBe('2 todos');
    expect(keyArgument('mcp__x__y', { thing: 'value' })).toBe('value');
  });

  it('separates steps with a header line', () => {
    expect(stepHeader({ iteration: 2, phase: 'review' })).toBe('── iteration 2 · review ──');
    expect(stepHeader({ iteration: 2, phase: 'implementation', attempt: 3 })).toBe('── iteration 2 · implementation · attempt 3 ──');
  });
});
