import { describe, expect, it } from 'vitest';
import { AGENT_KINDS, agentBinary, agentKind, classifyAgentError, failLabel, fixFor, isAgentKind, parseAgentOutput } from '../../core/agents/kinds/index.js';
import { AGENT_KINDS as VOCABULARY } from '../../core/types.js';
import { CONFIG_KEYS } from '../../core/config.js';

describe('the agent kind registry', () => {
  it('lists each kind once, under its own name, and is the vocabulary every layer uses', () => {
    expect(AGENT_KINDS).toEqual(['claude', 'codex', 'command']);
    for (const k of AGENT_KINDS) expect(agentKind(k).kind).toBe(k);
    expect(VOCABULARY).toBe(AGENT_KINDS);
    const agentKey = CONFIG_KEYS.find((c) => c.name === 'agent');
    expect(agentKey && 'values' in agentKey ? agentKey.values : null).toEqual([...AGENT_KINDS]);
  });

  it('names the CLI each kind needs on PATH, none for a user command', () => {
    expect(agentBinary('claude')).toBe('claude');
    expect(agentBinary('codex')).toBe('codex');
    expect(agentBinary('command')).toBeNull();
  });

  it('tells known kinds from other words', () => {
    expect(isAgentKind('codex')).toBe(true);
    expect(isAgentKind('gemini')).toBe(false);
    expect(isAgentKind('toString')).toBe(false);
  });

  it('gives each kind its exit reason label and its own fixes', () => {
    expect(AGENT_KINDS.map(failLabel)).toEqual(['claude_failed', 'agent_failed', 'agent_failed']);
    expect(fixFor('auth', 'codex')).toContain('codex login');
    expect(fixFor('auth', 'command')).toContain('claude login');
    expect(fixFor('root_refused', 'codex')).toContain('IS_SANDBOX=1');
    expect(classifyAgentError('Invalid API key', 'codex')).toMatchObject({ kind: 'auth', action: 'fatal', fix: expect.stringContaining('OPENAI_API_KEY') });
    expect(AGENT_KINDS.filter((k) => agentKind(k).refusesRootWithoutSandbox)).toEqual(['claude']);
    expect(AGENT_KINDS.map((k) => agentKind(k).defaultPrice?.input ?? null)).toEqual([3, 1.25, null]);
  });

  it('dispatches parsing to the kind record', () => {
    for (const k of AGENT_KINDS) {
      expect(parseAgentOutput(k, 'Invalid API key · Please run /login\n', { failed: true })).toEqual(agentKind(k).parseOutput('Invalid API key · Please run /login\n', true));
    }
  });
});
