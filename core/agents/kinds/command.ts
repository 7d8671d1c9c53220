// A command of the user's (agent_cmd / reviewer_cmd), run through /bin/sh: a wrapper, a local
// model, the test fixtures' fake agents. Its output is plain text with no error channel.
import { classifyAgentError, type ErrorClass } from '../errors.js';
import { AgentConfigError, NO_ERROR, resetFromText, withError, type ParsedAgentOutput } from '../output.js';
import type { AgentKindRecord } from './types.js';

const classify = (message: string): ErrorClass => classifyAgentError(message);

function parseCommand(rawLog: string, failed: boolean): ParsedAgentOutput {
  // Only when it failed do its last lines count as its error message (a wrapper around claude
  // prints the API's error there).
  if (!failed) return { text: rawLog, usage: null, ...NO_ERROR, rateLimitResetAt: null };
  const tail = rawLog.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-20);
  // The most telling line: a classified one if any, else the last.
  const telling = tail.find((l) => classify(l).kind !== 'unknown') ?? tail[tail.length - 1] ?? null;
  const e = withError(classify, telling);
  return { text: rawLog, usage: null, ...e, rateLimitResetAt: e.transientError !== null ? resetFromText(tail.join('\n')) : null };
}

export const command = {
  kind: 'command',
  title: 'the agent command',
  binary: null,
  failLabel: 'agent_failed',
  refusesRootWithoutSandbox: false,
  defaultPrice: null,
  fixes: {},
  buildCommand: ({ agentCmd }) => {
    const cmd = agentCmd?.trim() ?? '';
    if (cmd === '') throw new AgentConfigError('agent=command needs agent_cmd (the command line to run)');
    return cmd;
  },
  parseOutput: parseCommand,
  classifyError: classify,
} as const satisfies AgentKindRecord;
