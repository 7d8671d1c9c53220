// Running one agent process for a phase (implementation or review): spawn it detached with its
// output going (through the capping writer) to the log, tell subscribers as the log grows, and
// wait for its exit status. Shared by the phases that run an agent; keeps no state between calls.
// Nothing here reads a whole log: the parsers get its last few MiB (core/logfile.ts).
import { rmSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { canonical } from '../core/git-exec.js';
import { agentKind, buildAgentCommand, failLabel, fixFor, parseAgentOutput, type AgentKind } from '../core/agents/kinds/index.js';
import type { AgentUsage, ParsedAgentOutput } from '../core/agents/output.js';
import { DEFAULT_MAX_OUTPUT_BYTES, finalizeCappedLog, needsFinalize, probePathFor, readCapState, type CapState } from '../core/agents/output-cap.js';
import { costFromTokens, parsePriceOverrides, priceFor } from '../core/agents/prices.js';
import type { WaitResult } from '../core/agents/process.js';
import { countFileLines, readTail } from '../core/logfile.js';
import { traceMark } from '../core/trace.js';
import type { LoopConfig } from '../core/config.js';
import { awaitStepProcess, launchStepProcess } from './step-process.js';
import type { AgentProcessInfo, HandlerInput } from './types.js';

export interface AgentRun {
  proc: AgentProcessInfo;
  exit: WaitResult;
  /** The end of the log (PARSE_WINDOW_BYTES at most), what the parsers read. */
  window: string;
  parsed: ParsedAgentOutput;
  /** What the agent printed, whether or not all of it was kept. */
  outputBytes: number;
  outputLines: number;
  cap: CapState | null;
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
  /**
   * Called as soon as the process group is empty and no stray is left, before the output is
   * read: the phase may start its git work there, which then runs beside loopd's own file work.
   */
  onEnded?: (exit: WaitResult) => void;
}

/**
 * Whether the run's directory lies outside its worktree (the usual layout): then what loopd writes
 * there after the agent (its log's last pieces, the tail, the judgement) cannot show up in, or
 * race with, the worktree's git status.
 */
export function runDirOutsideWorktree(run: Pick<HandlerInput['run'], 'worktreePath' | 'runDir'>): boolean {
  const rel = relative(canonical(run.worktreePath), canonical(run.runDir));
  return rel.startsWith('..') || isAbsolute(rel);
}

/** The environment every agent gets on top of the phase's: loopd's retry policy for the CLI. */
export function agentPolicyEnv(config: LoopConfig): Record<string, string> {
  return { CLAUDE_CODE_MAX_RETRIES: String(config.agent_api_retries ?? 2) };
}

/** Starts the agent (or re-adopts the one given in input.adopt) and follows it to its end. */
export async function runAgent(input: HandlerInput, spec: AgentSpec): Promise<AgentRun> {
  const { sink, signal, step, run } = input;
  let proc: AgentProcessInfo;
  if (input.adopt) {
    proc = input.adopt;
    sink.event('AGENT_ADOPTED', { phase: step.phase, iteration: step.iteration, attempt: step.attempt, pid: proc.pid });
  } else {
    proc = await launchStepProcess(sink, {
      stepId: step.id,
      command: buildAgentCommand({ kind: spec.kind, agentCmd: spec.agentCmd, model: spec.model }),
      cwd: run.worktreePath,
      env: { ...agentPolicyEnv(run.config), ...spec.env },
      stdinPath: spec.promptPath,
      logPath: spec.logPath,
      exitPath: spec.exitPath,
      maxOutputBytes: run.config.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      commitBefore: spec.commitBefore,
      planBefore: spec.planBefore,
      guard: input.guard ?? null,
    });
    sink.event('AGENT_STARTED', { phase: step.phase, iteration: step.iteration, attempt: step.attempt, pid: proc.pid, agent: spec.kind, log: spec.logPath });
  }
  const mark = (name: string): void => traceMark(step.id, name);
  const exit = await awaitStepProcess(proc, { timeoutMs: run.config.claude_timeout_sec * 1000, signal, onOutput: () => sink.outputGrew(), mark });
  spec.onEnded?.(exit);
  // awaitStepProcess has emptied the process group, so a capping writer killed before its end (a
  // timeout's SIGKILL) cannot race us: finish its job from the files it left.
  // The wrapper's probe (empty unless the output went past the cap's head) is not output.
  rmSync(probePathFor(proc.logPath), { force: true });
  const cap = needsFinalize(proc.logPath) ? finalizeCappedLog(proc.logPath) : readCapState(proc.logPath);
  sink.outputGrew();
  if (cap?.truncated) {
    sink.event('OUTPUT_TRUNCATED', {
      phase: step.phase,
      iteration: step.iteration,
      attempt: step.attempt,
      totalBytes: cap.totalBytes,
      omittedBytes: cap.omittedBytes,
      maxOutputBytes: cap.maxBytes,
      log: proc.logPath,
    });
  }
  const counted = cap ? { bytes: cap.totalBytes, lines: cap.totalLines } : countFileLines(proc.logPath);
  const { text: window } = readTail(proc.logPath);
  const failed = exit.exitCode !== 0 || exit.timedOut || exit.vanished;
  const parsed = parseAgentOutput(spec.kind, window, { failed });
  mark('output read');
  return { proc, exit, window, parsed: { ...parsed, usage: priced(parsed.usage, spec.kind, spec.model, run.config) }, outputBytes: counted.bytes, outputLines: counted.lines, cap };
}

/** Fills in the cost of an agent that reported tokens but no cost, from the price table. */
export function priced(usage: AgentUsage | null, kind: AgentKind, model: string, config: Pick<LoopConfig, 'model_prices'>): AgentUsage | null {
  if (usage === null || usage.costSource === 'reported') return usage;
  let overrides = {};
  try {
    overrides = parsePriceOverrides(config.model_prices ?? '');
  } catch {
    // Validated when the run was created; a bad table here only means "no overrides".
  }
  const p = priceFor(usage.model ?? model, kind, overrides, agentKind(kind).defaultPrice);
  if (p === null) return { ...usage, costSource: 'unpriced' };
  return {
    ...usage,
    costUsd: costFromTokens({ inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens ?? 0, outputTokens: usage.outputTokens }, p.price),
    costSource: 'estimated',
    model: usage.model ?? p.key,
  };
}

export interface AgentOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'CANCELED';
  /** One readable line: the agent's own words, and what to do when there is something to do. */
  error: string | null;
  /** Facts for the transition rules (steps.result_json). */
  facts: {
    errorKind: string | null;
    /** Retrying cannot help (bad key, refusal to run as root): the run fails now. */
    fatal: boolean;
    /** The exit reason if this failure ends the run. */
    failReason: string;
    transientError: string | null;
    rateLimitResetAt: number | null;
  };
}

// claude_failed for Claude Code, agent_failed for everything else: each kind's record says.
export { failLabel };

/** The step's status, its readable error and the facts that decide a retry, from how the agent ended. */
export function agentOutcome(exit: WaitResult, timeoutSec: number, parsed: Omit<ParsedAgentOutput, 'text'>, kind: AgentKind = 'command'): AgentOutcome {
  const label = failLabel(kind);
  const facts = (over: Partial<AgentOutcome['facts']> = {}): AgentOutcome['facts'] => ({
    errorKind: parsed.errorKind,
    fatal: parsed.errorAction === 'fatal',
    failReason: parsed.errorKind && parsed.errorKind !== 'unknown' ? `${label}:${parsed.errorKind}` : label,
    transientError: parsed.transientError,
    rateLimitResetAt: parsed.rateLimitResetAt,
    ...over,
  });
  const said = parsed.error;
  const fix = parsed.errorKind ? fixFor(parsed.errorKind, kind) : null;
  const detail = said ? `${said}${fix ? ` (fix: ${fix})` : ''}` : null;
  if (exit.canceled) return { status: 'CANCELED', error: 'canceled', facts: facts({ fatal: false, transientError: null, rateLimitResetAt: null }) };
  if (exit.timedOut) {
    // A CLI that waits out an outage by itself (Codex does) is still an outage.
    return {
      status: 'FAILED',
      error: `agent timed out after ${timeoutSec}s (claude_timeout_sec); its process tree was killed${detail && parsed.errorKind !== 'unknown' ? `; its last error: ${detail}` : ''}`,
      facts: facts({ fatal: false, failReason: `${label}:timeout` }),
    };
  }
  if (exit.vanished) return { status: 'FAILED', error: 'agent process ended without an exit status', facts: facts({ fatal: false }) };
  if (exit.exitCode === 127) {
    return {
      status: 'FAILED',
      error: "agent command not found (exit code 127): check agent_cmd / reviewer_cmd and the daemon's PATH",
      facts: facts({ fatal: false }),
    };
  }
  if (exit.exitCode !== 0) {
    return { status: 'FAILED', error: detail ? `${detail} (exit code ${exit.exitCode})` : `agent exited with code ${exit.exitCode}`, facts: facts() };
  }
  if (parsed.errorAction === 'fatal') return { status: 'FAILED', error: detail, facts: facts() };
  return { status: 'SUCCEEDED', error: null, facts: facts({ fatal: false, transientError: null, rateLimitResetAt: null }) };
}

export function countLines(text: string): number {
  return text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The latest step of a phase in an iteration, from the history the dispatcher passed in. */
export function findStep(history: HandlerInput['history'], phase: string, iteration: number, status?: string) {
  return [...history].reverse().find((h) => h.phase === phase && h.iteration === iteration && (status === undefined || h.status === status));
}
