// The parsers, the error table and the renderer against real Claude Code and Codex output,
// captured by `npm run test:agents` (test/agents/real-agents.test.ts) into test/fixtures/transcripts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentOutput } from '../../core/agents/adapters.js';
import { classifyAgentError } from '../../core/agents/kinds/index.js';
import { renderAgentOutput } from '../../core/render/agent-output.js';
import type { TranscriptExpectation } from '../agents/transcripts.js';
import { FIXTURES } from '../integration/harness.js';

const DIR = join(FIXTURES, 'transcripts');
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as TranscriptExpectation[];

describe('real CLI transcripts', () => {
  it('cover every scenario for both CLIs, and the root refusal', () => {
    const files = manifest.map((m) => m.file);
    for (const agent of ['claude', 'codex']) {
      for (const s of ['success', 'auth', 'rate_limit', 'overloaded', 'unreachable', 'timeout']) expect(files).toContain(`${agent}-${s}.log`);
    }
    expect(files).toContain('claude-root-refusal.log');
  });

  describe.each(manifest.map((m) => [m.file, m] as const))('%s', (_file, m) => {
    const raw = readFileSync(join(DIR, m.file), 'utf8');
    const parsed = parseAgentOutput(m.agent, raw, { failed: m.failed });

    it('is classified as the real run was', () => {
      expect(parsed.errorKind).toBe(m.errorKind);
      if (m.errorIncludes) expect(parsed.error).toContain(m.errorIncludes);
      if (m.errorKind !== null) {
        // One readable line in the agent's own words, never a raw JSON event.
        expect(parsed.error).not.toMatch(/^\s*\{/);
        expect(parsed.error).not.toContain('\n');
        expect(classifyAgentError(parsed.error!, m.agent).kind).toBe(m.errorKind);
      }
      if (m.errorKind === 'auth' || m.errorKind === 'root_refused') expect(parsed.errorAction).toBe('fatal');
      if (['rate_limit', 'overloaded', 'network'].includes(m.errorKind ?? '')) expect(parsed.transientError).toBe(parsed.error);
    });

    it('yields the text and usage the run recorded', () => {
      if (m.textIncludes) expect(parsed.text).toContain(m.textIncludes);
      if (m.usage) expect(parsed.usage).toMatchObject(m.usage);
    });

    it('renders for people', () => {
      const readable = renderAgentOutput(raw);
      for (const line of m.renders) expect(readable).toContain(line);
      // No raw event survives rendering.
      expect(readable.split('\n').filter((l) => l.startsWith('{"type"'))).toEqual([]);
      expect(readable.length).toBeLessThanOrEqual(raw.length);
    });
  });
});
