// The record every agent kind exports: everything loopd needs to know about one agent CLI, so a
// new agent is one file in this folder plus one line in index.ts.
import type { ErrorClass, ErrorFixes } from '../errors.js';
import type { ParsedAgentOutput } from '../output.js';
import type { ModelPrice } from '../prices.js';

export interface AgentCommandInput {
  /** The user's command line (agent_cmd / reviewer_cmd), for kinds that run one. */
  agentCmd?: string;
  model?: string;
}

export interface AgentKindRecord {
  kind: string;
  /** How messages name it ("Claude Code"). */
  title: string;
  /** The CLI that must be on the daemon's PATH (checked at run creation); null when the user gives the command. */
  binary: string | null;
  /** The exit reason's prefix when this agent's failure ends a run (`claude_failed:auth`). */
  failLabel: string;
  /** The command refuses to skip permission prompts as root unless IS_SANDBOX=1 is set. */
  refusesRootWithoutSandbox: boolean;
  /** Prices tokens when `model` is empty and the agent reports tokens but no cost (its CLI's own default model is not in its output). */
  defaultPrice: ModelPrice | null;
  /** Fixes this kind words its own way (its login command); the rest come from errors.ts. */
  fixes: Readonly<ErrorFixes>;
  /** The /bin/sh command line; throws AgentConfigError when the config lacks what it needs. */
  buildCommand(input: AgentCommandInput): string;
  /**
   * Reads the end of the agent's log. `failed` says whether the process failed (non-zero exit,
   * timeout): only then do plain-text lines count as its error message.
   */
  parseOutput(rawLog: string, failed: boolean): ParsedAgentOutput;
  /** What a failure means, from the agent's own words (the table in errors.ts, with this kind's fixes). */
  classifyError(message: string): ErrorClass;
}
