// The agent kinds loopd can run, one record each (./types.ts). Adding an agent is one file in this
// folder and one line in KINDS; config validation, the CLI's --agent choices, the PATH check at
// run creation, parsing, error classification and exit reasons all read it from here.
//
// No Node imports: the records are plain data and parsers.
import type { AgentErrorKind, ErrorClass } from '../errors.js';
import { errorFix } from '../errors.js';
import type { ParsedAgentOutput } from '../output.js';
import { claude } from './claude.js';
import { codex } from './codex.js';
import { command } from './command.js';
import type { AgentCommandInput, AgentKindRecord } from './types.js';

const KINDS = {
  claude,
  codex,
  command,
} as const satisfies Record<string, AgentKindRecord>;

export type AgentKind = keyof typeof KINDS;
export type { AgentCommandInput, AgentKindRecord } from './types.js';

/** Every kind, in registry order (the `agent` and `reviewer_agent` config values). */
export const AGENT_KINDS = Object.keys(KINDS) as [AgentKind, ...AgentKind[]];

export function isAgentKind(name: string): name is AgentKind {
  return Object.hasOwn(KINDS, name);
}

export function agentKind(kind: AgentKind): AgentKindRecord {
  return KINDS[kind];
}

/** The CLI a kind needs on the daemon's PATH, null for a user-given command. */
export function agentBinary(kind: AgentKind): string | null {
  return KINDS[kind].binary;
}

export function buildAgentCommand(i: AgentCommandInput & { kind: AgentKind }): string {
  return KINDS[i.kind].buildCommand(i);
}

/**
 * Reads an agent's output. `failed` says whether the process failed (non-zero exit, timeout):
 * only then do plain-text lines count as its error message.
 */
export function parseAgentOutput(kind: AgentKind, rawLog: string, opts: { failed?: boolean } = {}): ParsedAgentOutput {
  return KINDS[kind].parseOutput(rawLog, opts.failed === true);
}

export function classifyAgentError(message: string, kind: AgentKind = 'claude'): ErrorClass {
  return KINDS[kind].classifyError(message);
}

export function fixFor(errorKind: AgentErrorKind, kind: AgentKind): string | null {
  return errorFix(errorKind, KINDS[kind].fixes);
}

/** The exit reason's prefix for a failure of this kind: claude_failed, agent_failed. */
export function failLabel(kind: AgentKind): string {
  return KINDS[kind].failLabel;
}
