// Running one agent process for a phase (implementation or review): spawn it detached with its
// output going straight to the log, tell subscribers as the log grows, and wait for its exit
// status. Shared by the phases that run an agent; keeps no state between calls.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { buildAgentCommand, parseAgentOutput, type AgentKind, type ParsedAgentOutput } from '../core/agents/adapters.js';
import { spawnDetached, waitForExit, type WaitResult } from '../core/agents/process.js';
import type { AgentProcessInfo, HandlerInput } from './types.js';

const FOLLOW_INTERVAL_MS = 100;

export interface AgentRun {
  proc: AgentProcessInfo;
  exit: WaitResult;
  raw: string;
  parsed: ParsedAgentOutput;
}

export interface AgentSpec {
  kind: AgentKind;
  agentCmd: string;
  model: string;
  promptPath: string;
  logPath: string;
  exitPath: string;
  env: Record<string, string>;
  /** Facts to remember with the process, so a re-adopted step can still judge the work. */
  commitBefore: string;
  planBefore: string | null;
}

/** Starts the agent (or re-adopts the one given in input.adopt) and follows it to its end. */
export async function runAgent(input: HandlerInput, spec: AgentSpec): Promise<AgentRun> {
  const { sink, signal, step, run } = input;
  let proc: AgentProcessInfo;
  if (input.adopt) {
    proc = input.adopt;
    sink.event('AGENT_ADOPTED', { phase: step.phase, iteration: step.iteration, attempt: step.attempt, pid: proc.pid });
  } else {
    const command = buildAgentCommand({ kind: spec.kind, agentCmd: spec.agentCmd, model: spec.model });
    writeFileSync(spec.logPath, '');
    rmSync(spec.exitPath, { force: true });
    const nonce = randomUUID();
    const startedAt = Date.now();
    sink.processIntent({ nonce, logPath: spec.logPath, exitPath: spec.exitPath, commitBefore: spec.commitBefore, planBefore: spec.planBefore, startedAt });
    const handle = await spawnDetached({
      nonce,
      shellCommand: command,
      cwd: run.worktreePath,
      env: spec.env,
      stdinPath: spec.promptPath,
      logPath: spec.logPath,
      exitPath: spec.exitPath,
    });
    proc = {
      ...handle,
      logPath: spec.logPath,
      exitPath: spec.exitPath,
      commitBefore: spec.commitBefore,
      planBefore: spec.planBefore,
      startedAt,
    };
    sink.processStarted(proc);
    sink.event('AGENT_STARTED', { phase: step.phase, iteration: step.iteration, attempt: step.attempt, pid: handle.pid, agent: spec.kind, log: spec.logPath });
  }

  let lastSize = 0;
  const follower = setInterval(() => {
    try {
      const size = statSync(proc.logPath).size;
      if (size !== lastSize) {
        lastSize = size;
        sink.outputGrew();
      }
    } catch {
      /* the log may not exist for a moment */
    }
  }, FOLLOW_INTERVAL_MS);
  let exit: WaitResult;
  try {
    exit = await waitForExit(proc, proc.exitPath, { timeoutMs: run.config.claude_timeout_sec * 1000, signal });
  } finally {
    clearInterval(follower);
  }
  sink.outputGrew();
  const raw = existsSync(proc.logPath) ? readFileSync(proc.logPath, 'utf8') : '';
  return { proc, exit, raw, parsed: parseAgentOutput(spec.kind, raw, { failed: exit.exitCode !== 0 || exit.timedOut || exit.vanished }) };
}

/** The step's status and error message from how the agent ended. */
export function agentOutcome(exit: WaitResult, timeoutSec: number, parsed: ParsedAgentOutput): { status: 'SUCCEEDED' | 'FAILED' | 'CANCELED'; error: string | null } {
  if (exit.canceled) return { status: 'CANCELED', error: 'canceled' };
  if (exit.timedOut) return { status: 'FAILED', error: `agent timed out after ${timeoutSec}s (claude_timeout_sec); its process tree was killed` };
  if (exit.vanished) return { status: 'FAILED', error: 'agent process ended without an exit status' };
  if (exit.exitCode === 127) {
    return { status: 'FAILED', error: 'agent command not found (exit code 127): check agent_cmd / reviewer_cmd and the daemon\'s PATH' };
  }
  if (exit.exitCode !== 0) {
    return { status: 'FAILED', error: `agent exited with code ${exit.exitCode}${parsed.transientError ? ` (${parsed.transientError})` : ''}` };
  }
  return { status: 'SUCCEEDED', error: null };
}

export function countLines(text: string): number {
  return text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The latest step of a phase in an iteration, from the history the dispatcher passed in. */
export function findStep(history: HandlerInput['history'], phase: string, iteration: number, status?: string) {
  return [...history].reverse().find((h) => h.phase === phase && h.iteration === iteration && (status === undefined || h.status === status));
}
