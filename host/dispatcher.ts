// The dispatcher: the `steps` table is the durable queue. It admits runs within the concurrency
// caps, claims queued steps, calls the phase handler and records the outcome together with the
// next step in one transaction. Wake-ups come from events and timers, never from a busy poll.
import { existsSync } from 'node:fs';
import { findByNonce, isAlive, killTree, readExitStatus } from '../core/agents/process.js';
import { ledgerCounts } from '../core/ledger.js';
import { appendReportRow, checksumFile, mirrorDir, writeSummary, type Summary } from '../core/artifacts.js';
import type { LoopConfig } from '../core/config.js';
import { placeGone } from '../core/run-place.js';
import { removeRunWorktree } from '../core/worktree.js';
import type { RunStatus, StepPhase } from '../core/types.js';
import type { AgentProcessInfo, Handler, HandlerResult, HistoryEntry, RunInput, StepInput } from '../functions/types.js';
import type { EventBus } from './bus.js';
import { isBusy, whenFree } from './busy.js';
import type { LogFn } from './logger.js';
import type { RunRow, StepRow, Store } from './store.js';
import type { EventPayloads, EventType } from '../core/events.js';
import { digestResult } from '../core/results.js';
import { nextStep, type Decision, type StepFact, type StepResultFacts, type TransitionConfig } from './transitions.js';

export interface DispatcherOptions {
  store: Store;
  bus: EventBus;
  handlers: Partial<Record<StepPhase, Handler>>;
  maxConcurrency: number;
  instanceId: string;
  log?: LogFn;
}

interface Active {
  stepId: number;
  runId: string;
  abort: AbortController;
  done: Promise<void>;
}

export function parseConfig(run: RunRow): LoopConfig {
  return JSON.parse(run.config_json) as LoopConfig;
}

export function runInput(run: RunRow, truth?: { spec_text: string; plan_text: string | null } | undefined): RunInput {
  return {
    specText: truth?.spec_text ?? null,
    planText: truth?.plan_text ?? null,
    id: run.id,
    name: run.name,
    workspaceRoot: run.workspace_root,
    specPath: run.spec_path,
    planPath: run.plan_path,
    baseBranch: run.base_branch,
    runBranch: run.run_branch,
    mergeTargetBranch: run.merge_target_branch,
    mergeStrategy: run.merge_strategy as RunInput['mergeStrategy'],
    worktreePath: run.worktree_path,
    worktreeProvider: run.worktree_provider,
    runDir: run.run_dir,
    config: parseConfig(run),
  };
}

function parseResult(step: StepRow): Record<string, unknown> | null {
  return step.result_json ? (JSON.parse(step.result_json) as Record<string, unknown>) : null;
}


export class Dispatcher {
  private readonly active = new Map<number, Active>();
  private wakeQueued = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Stopped without draining: in-flight agents belong to the next daemon, which re-adopts them. */
  private abandoned = false;

  constructor(private readonly o: DispatcherOptions) {}

  get activeCount(): number {
    return this.active.size;
  }

  /** Re-adopts or requeues what a previous daemon left in flight, then starts dispatching. */
  start(): void {
    this.recover();
    this.wake();
  }

  /** Stops claiming work. In-flight agents keep running and are re-adopted by the next daemon. */
  async stop(opts: { drain?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (!opts.drain) this.abandoned = true;
    if (this.timer) clearTimeout(this.timer);
    if (opts.drain) await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  wake(): void {
    if (this.wakeQueued || this.stopped) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      try {
        this.tick();
      } catch (e) {
        // Another process holds the write lock: try again shortly, with the event loop free.
        if (isBusy(e)) this.wakeAt(Date.now() + 50);
        else this.o.log?.(`dispatcher tick failed: ${e instanceof Error ? e.message : String(e)}`, { level: 'error', stack: e instanceof Error ? e.stack : undefined });
      }
    });
  }

  // ---- scheduling ---------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    this.admitRuns();
    this.claimSteps();
  }

  private admitRuns(): void {
    const { store } = this.o;
    // A paused run whose step is still finishing keeps its slot until that step ends.
    const running = [
      ...store.listRuns({ status: ['RUNNING'] }),
      ...store.listRuns({ status: ['PAUSED'] }).filter((r) => [...this.active.values()].some((a) => a.runId === r.id)),
    ];
    let total = running.length;
    const perWs = new Map<string, number>();
    for (const r of running) perWs.set(r.workspace_root, (perWs.get(r.workspace_root) ?? 0) + 1);
    for (const run of this.pendingInOrder()) {
      if (total >= this.o.maxConcurrency) break;
      const cfg = parseConfig(run);
      const cap = cfg.max_runs_per_workspace;
      if (cap > 0 && (perWs.get(run.workspace_root) ?? 0) >= cap) continue;
      const admitted = store.tx(() => {
        const fresh = store.getRun(run.id);
        if (!fresh || fresh.status !== 'PENDING') return false;
        store.updateRun(run.id, { status: 'RUNNING', started_at: fresh.started_at ?? Date.now() });
        store.appendEvent(run.id, null, 'RUN_STARTED', { status: 'RUNNING', resumed: fresh.started_at !== null });
        this.applyDecision(store.getRun(run.id)!, this.decide(store.getRun(run.id)!));
        return true;
      });
      if (admitted) {
        total++;
        perWs.set(run.workspace_root, (perWs.get(run.workspace_root) ?? 0) + 1);
      }
    }
  }

  /** PENDING runs in admission order: per workspace by its queue_policy, workspaces FIFO. */
  private pendingInOrder(): RunRow[] {
    const pending = this.o.store.listRuns({ status: ['PENDING'] }).reverse(); // oldest first
    const byWs = new Map<string, RunRow[]>();
    for (const r of pending) byWs.set(r.workspace_root, [...(byWs.get(r.workspace_root) ?? []), r]);
    const lanes = [...byWs.values()].map((runs) => {
      const policy = parseConfig(runs[runs.length - 1]!).queue_policy;
      return policy === 'newest_first' ? [...runs].reverse() : runs;
    });
    // Interleave lanes so one busy workspace cannot starve another.
    const out: RunRow[] = [];
    for (let i = 0; lanes.some((l) => i < l.length); i++) for (const l of lanes) if (i < l.length) out.push(l[i]!);
    return out;
  }

  private claimSteps(): void {
    const { store } = this.o;
    const now = Date.now();
    let soonest: number | null = null;
    const queued = store.stepsWithStatus(['QUEUED']);
    // Rate-limit holds are rows (agent_holds): a restarted daemon, or another host, keeps them.
    const holds = new Map(store.agentHolds(now).map((h) => [h.agent, h.until]));
    for (const step of queued) {
      if (this.active.size >= this.o.maxConcurrency) break;
      const run = store.getRun(step.run_id);
      if (!run || run.status !== 'RUNNING') continue;
      if (step.not_before && step.not_before > now) {
        soonest = soonest === null ? step.not_before : Math.min(soonest, step.not_before);
        continue;
      }
      const agentKind = agentKindFor(run, step.phase);
      const hold = agentKind ? holds.get(agentKind) : undefined;
      if (hold !== undefined && hold > now) {
        soonest = soonest === null ? hold : Math.min(soonest, hold);
        continue;
      }
      const handler = this.o.handlers[step.phase];
      if (!handler) {
        this.failUnsupported(run, step);
        continue;
      }
      const claimed = store.tx(() => {
        const fresh = store.getStep(step.id);
        if (!fresh || fresh.status !== 'QUEUED') return null;
        // Merges into one target branch are serialized by a row (merge_locks), taken with the
        // claim; the next merge waits for the wake-up that follows the holder's end.
        if (step.phase === 'merge' && !store.takeMergeLock({ workspace_root: run.workspace_root, target_branch: run.merge_target_branch ?? '', step_id: step.id })) {
          return null;
        }
        const s = store.updateStep(step.id, { status: 'IN_PROGRESS', started_at: Date.now(), lease_owner: this.o.instanceId });
        store.appendEvent(run.id, step.id, 'STEP_STARTED', { phase: s.phase, iteration: s.iteration, attempt: s.attempt });
        return s;
      });
      if (!claimed) continue;
      this.execute(run, claimed, handler, null);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (soonest !== null && !this.stopped) {
      this.timer = setTimeout(() => this.wake(), Math.max(10, soonest - Date.now()));
    }
  }

  private failUnsupported(run: RunRow, step: StepRow): void {
    this.o.store.tx(() => {
      this.o.store.updateStep(step.id, { status: 'FAILED', error: `no handler for phase ${step.phase}`, ended_at: Date.now() });
      this.finishRun(run, 'FAILED', 'failed', `this loopd has no handler for the ${step.phase} phase`);
    });
    this.afterFinish(run.id);
  }

  // ---- execution ----------------------------------------------------------------------------

  private execute(run: RunRow, step: StepRow, handler: Handler, adopt: AgentProcessInfo | null): void {
    const { store, bus } = this.o;
    const abort = new AbortController();
    // The handler's writes go in at once; while another process holds the database lock they
    // queue, in order, and land when it is free (host/busy.ts). The step ends after them.
    let queued: Promise<unknown> = Promise.resolve();
    let waiting = 0;
    const write = (what: string, fn: () => unknown): void => {
      if (waiting === 0) {
        try {
          fn();
          return;
        } catch (e) {
          if (!isBusy(e)) throw e;
        }
      }
      waiting++;
      queued = queued
        .then(() => whenFree(fn))
        .catch((e: unknown) => this.o.log?.(`${what} of step ${step.id} lost: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => waiting--);
    };
    const history: HistoryEntry[] = store
      .stepsForRun(run.id)
      .filter((s) => s.id !== step.id)
      .map((s) => ({ phase: s.phase, status: s.status, iteration: s.iteration, attempt: s.attempt, result: parseResult(s) }));
    const input = {
      run: runInput(run, store.getRunTruth(run.id)),
      step: { id: step.id, phase: step.phase, iteration: step.iteration, attempt: step.attempt, input: step.input_json ? (JSON.parse(step.input_json) as StepInput['input']) : null },
      history,
      ledger: store.ledgerFor(run.id),
      signal: abort.signal,
      adopt,
      sink: {
        event: <K extends EventType>(type: K, payload: EventPayloads[K]) => write(`event ${type}`, () => store.appendEvent(run.id, step.id, type, payload)),
        processIntent: (p: Omit<AgentProcessInfo, 'pid' | 'pgid' | 'startTime'>) => {
          store.updateStep(step.id, { pid: null, pid_start: null, pid_nonce: p.nonce, exit_path: p.exitPath, output_path: p.logPath, process_json: JSON.stringify(p) });
        },
        // The agent runs already: its record may wait for the lock, but must not fail the step (a
        // crash meanwhile is covered by processIntent's nonce, which finds the process again).
        processStarted: (p: AgentProcessInfo) =>
          write('process record', () =>
            store.updateStep(step.id, {
              pid: p.pid,
              pid_start: p.startTime,
              pid_nonce: p.nonce,
              exit_path: p.exitPath,
              output_path: p.logPath,
              process_json: JSON.stringify(p),
            }),
          ),
        outputGrew: () => bus.outputGrew({ runId: run.id, stepId: step.id }),
        artifact: (kind: string, path: string) => write(`artifact ${kind}`, () => this.recordArtifact(run, step.id, kind, path)),
      },
    };
    const done = (async () => {
      let result: HandlerResult;
      try {
        result = await handler(input);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        // "spawn git ENOENT" is what a deleted worktree looks like from here: name the real cause.
        const gone = abort.signal.aborted ? null : placeGone(input.run);
        result = gone
          ? { status: 'FAILED', error: `${gone.message} (${message})`, result: { fatal: true, failReason: gone.reason } }
          : { status: abort.signal.aborted ? 'CANCELED' : 'FAILED', error: message, result: {} };
      }
      if (this.abandoned) {
        // The store may be closed already; the next daemon re-adopts the step and records it.
        this.active.delete(step.id);
        return;
      }
      // The step's own events first, so its end never precedes them.
      await queued;
      try {
        // The agent's work is recorded whatever the lock contention: retried until it lands.
        await whenFree(
          () => this.completeStep(step.id, result),
          () => this.o.log?.(`recording step ${step.id} waits for the database lock`),
        );
      } catch (e) {
        this.o.log?.(`recording step ${step.id} failed: ${e instanceof Error ? e.message : String(e)}`, { level: 'error', runId: run.id, stepId: step.id, stack: e instanceof Error ? e.stack : undefined });
      } finally {
        this.active.delete(step.id);
        this.afterFinish(run.id);
        this.wake();
      }
    })();
    this.active.set(step.id, { stepId: step.id, runId: run.id, abort, done });
  }

  private recordArtifact(run: RunRow, stepId: number | null, kind: string, path: string): void {
    try {
      const { checksum, bytes } = checksumFile(path);
      const g = run.global_run_dir;
      const location = g !== null && path.startsWith(g) ? 'global' : 'workspace';
      this.o.store.upsertArtifact({ run_id: run.id, step_id: stepId, kind, location, path, checksum, bytes });
    } catch (e) {
      // A busy database is the caller's to retry; an artifact that vanished is not worth failing a step over.
      if (isBusy(e)) throw e;
    }
  }

  /** Records a handler's outcome, the run's usage and the next step, all in one transaction. */
  private completeStep(stepId: number, result: HandlerResult): void {
    const { store } = this.o;
    store.tx(() => {
      const step = store.getStep(stepId);
      if (!step || step.status !== 'IN_PROGRESS') return;
      if (step.phase === 'merge') store.releaseMergeLock(stepId);
      const updated = store.updateStep(stepId, {
        status: result.status,
        exit_code: result.exitCode ?? null,
        result_json: JSON.stringify(result.result),
        error: result.error ?? null,
        prompt_path: result.promptPath ?? step.prompt_path,
        output_path: result.outputPath ?? step.output_path,
        ended_at: Date.now(),
        ...(result.usage
          ? {
              cost_usd: result.usage.costUsd,
              input_tokens: result.usage.inputTokens,
              output_tokens: result.usage.outputTokens,
              cost_source: result.usage.costSource ?? 'reported',
            }
          : {}),
      });
      store.appendEvent(step.run_id, stepId, 'STEP_FINISHED', {
        phase: updated.phase,
        iteration: updated.iteration,
        attempt: updated.attempt,
        status: updated.status,
        exitCode: updated.exit_code,
        error: updated.error,
        ...(result.usage ? { costUsd: result.usage.costUsd, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens } : {}),
        ...digestResult(result.result),
      });
      let run = store.getRun(step.run_id)!;
      const costBefore = run.cost_usd;
      if (result.usage) {
        run = store.updateRun(run.id, {
          cost_usd: run.cost_usd + result.usage.costUsd,
          input_tokens: run.input_tokens + result.usage.inputTokens,
          output_tokens: run.output_tokens + result.usage.outputTokens,
        });
      }
      if (result.error) run = store.updateRun(run.id, { last_error: result.error });
      if (result.runPatch?.worktreePath) run = store.updateRun(run.id, { worktree_path: result.runPatch.worktreePath });
      // The ledger changes with the step that judged the plan, in the same transaction.
      if (result.ledger) store.saveLedger(run.id, result.ledger);
      const cfg = parseConfig(run);
      // Pause when the budget is crossed, once: resuming without raising the budget means "go on".
      if (run.status === 'RUNNING' && cfg.max_cost_usd > 0 && costBefore < cfg.max_cost_usd && run.cost_usd >= cfg.max_cost_usd) {
        store.appendEvent(run.id, null, 'BUDGET_EXCEEDED', { costUsd: run.cost_usd, maxCostUsd: cfg.max_cost_usd });
        run = this.pauseInTx(run, 'budget_exceeded');
      }
      const holdUntil = (result.result as StepResultFacts).rateLimitResetAt;
      const kind = agentKindFor(run, updated.phase);
      if (result.status === 'FAILED' && kind && typeof holdUntil === 'number' && holdUntil > Date.now()) {
        store.holdAgent({ agent: kind, until: holdUntil, run_id: run.id, step_id: stepId });
        store.appendEvent(run.id, stepId, 'RATE_LIMIT_WAIT', { agent: kind, until: holdUntil });
      }
      // A paused run still gets its next step queued, so resuming just carries on.
      if (run.status === 'RUNNING' || run.status === 'PAUSED') this.applyDecision(run, this.decide(run));
    });
  }

  private decide(run: RunRow): Decision {
    const facts: StepFact[] = this.o.store.stepsForRun(run.id).map((s) => ({
      phase: s.phase,
      status: s.status,
      iteration: s.iteration,
      attempt: s.attempt,
      result: parseResult(s) as StepResultFacts | null,
    }));
    const ledger = this.o.store.ledgerFor(run.id);
    const planRun = run.plan_path !== null && this.o.store.getRunTruth(run.id) !== undefined;
    return nextStep({ cancelRequested: run.cancel_requested === 1, ledger: planRun ? ledgerCounts(ledger) : null }, facts, transitionConfig(run));
  }

  /** Must run inside a transaction. */
  private applyDecision(run: RunRow, d: Decision): void {
    const { store } = this.o;
    if (d.kind === 'wait') return;
    for (const signal of d.signals) store.appendEvent(run.id, null, 'SIGNAL', { signal });
    if (d.proof) {
      store.setCompletion(run.id, d.proof.completion);
      store.appendEvent(run.id, null, 'COMPLETION_PROVEN', { completion: d.proof.completion, reason: d.proof.why });
    }
    if (d.kind === 'queue') {
      const step = store.insertStep({
        run_id: run.id,
        phase: d.phase,
        iteration: d.iteration,
        attempt: d.attempt,
        not_before: d.delayMs > 0 ? Date.now() + d.delayMs : null,
        // The watchdog acts on the signals that queued it, instead of deriving them again.
        input_json: d.phase === 'watchdog' && d.signals.length > 0 ? JSON.stringify({ signals: d.signals }) : null,
      });
      store.appendEvent(run.id, step.id, d.attempt > 1 ? 'STEP_RETRY_QUEUED' : 'STEP_QUEUED', {
        phase: d.phase,
        iteration: d.iteration,
        attempt: d.attempt,
        delayMs: d.delayMs,
        ...(d.retry ? { reason: d.retry.reason, detail: d.retry.detail, until: d.retry.until, message: this.lastError(run.id) } : {}),
      });
      if (d.delayMs > 0) this.wakeAt(Date.now() + d.delayMs);
      return;
    }
    const lastError = run.last_error;
    this.finishRun(run, d.status, d.reason, d.status === 'COMPLETED' ? null : lastError);
  }

  /** The readable error of the run's latest failed step, for retry events. */
  private lastError(runId: string): string | null {
    const steps = this.o.store.stepsForRun(runId);
    for (let i = steps.length - 1; i >= 0; i--) if (steps[i]!.status === 'FAILED') return steps[i]!.error;
    return null;
  }

  /** Must run inside a transaction. */
  private finishRun(run: RunRow, status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: string, error: string | null): void {
    const { store } = this.o;
    for (const s of store.stepsForRun(run.id)) {
      if (s.status === 'QUEUED') store.updateStep(s.id, { status: 'CANCELED', ended_at: Date.now() });
    }
    store.updateRun(run.id, { status, exit_reason: reason, ended_at: Date.now(), last_error: error });
    store.appendEvent(run.id, null, `RUN_${status}`, { status, reason, error });
  }

  /** File work after a run ended: summary, mirror, optional worktree cleanup. Idempotent. */
  private afterFinish(runId: string): void {
    const run = this.o.store.getRun(runId);
    if (!run || !['COMPLETED', 'FAILED', 'CANCELED'].includes(run.status)) return;
    const failed = (e: unknown) =>
      this.o.log?.(`writing the summary of run ${run.id} failed: ${e instanceof Error ? e.message : String(e)}`, { level: 'error', runId: run.id });
    const summarize = () => {
      this.writeRunSummary(run);
      this.o.store.markFinalized(run.id);
    };
    try {
      summarize();
    } catch (e) {
      // Idempotent (files by rename, artifact rows upserted): written again once the lock is free.
      if (isBusy(e)) void whenFree(summarize).catch(failed);
      else failed(e);
    }
    const cfg = parseConfig(run);
    if (cfg.worktree_cleanup && existsSync(run.worktree_path)) {
      removeRunWorktree({
        provider: run.worktree_provider === 'worktrunk' ? 'worktrunk' : 'git',
        repoRoot: run.workspace_root,
        branch: run.run_branch,
        path: run.worktree_path,
      })
        .then(() => this.o.store.appendEvent(run.id, null, 'WORKTREE_REMOVED', { path: run.worktree_path }))
        .catch((e: unknown) => this.o.log?.(`worktree cleanup failed for ${run.id}: ${String(e)}`, { level: 'warn', runId: run.id }));
    }
  }

  private writeRunSummary(run: RunRow): void {
    const cfg = parseConfig(run);
    const steps = this.o.store.stepsForRun(run.id);
    const impl = steps.filter((s) => s.phase === 'implementation' && s.ended_at !== null);
    const iterations = new Set(impl.map((s) => s.iteration));
    const lastImpl = impl[impl.length - 1];
    const lastResult = lastImpl ? parseResult(lastImpl) : null;
    const durations = impl.filter((s) => s.started_at !== null).map((s) => s.ended_at! - s.started_at!);
    const merge = [...steps].reverse().find((s) => s.phase === 'merge' && s.status === 'SUCCEEDED');
    const tasks = this.o.store.ledgerFor(run.id);
    const ledger = tasks.length > 0 ? ledgerCounts(tasks) : null;
    const start = run.started_at ?? run.created_at;
    const end = run.ended_at ?? Date.now();
    const summary: Summary = {
      run_id: run.id,
      run_name: run.name,
      status: run.status,
      start_ms: start,
      end_ms: end,
      total_duration_ms: end - start,
      iterations_run: iterations.size,
      completed_iteration: run.status === 'COMPLETED' && lastImpl ? lastImpl.iteration : null,
      avg_duration_ms: durations.length ? Math.round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
      last_exit_code: lastImpl?.exit_code ?? null,
      completion_mode: cfg.completion_mode,
      model: cfg.model,
      exit_reason: summaryExitReason(run.exit_reason),
      exit_detail: run.exit_reason ?? 'failed',
      tasks_done: ledger ? ledger.total - ledger.open : typeof lastResult?.tasksDone === 'number' ? lastResult.tasksDone : null,
      tasks_total: ledger ? ledger.total : typeof lastResult?.tasksTotal === 'number' ? lastResult.tasksTotal : null,
      completion: this.o.store.getRunTruth(run.id)?.completion ?? null,
      cost_usd: run.cost_usd,
      input_tokens: run.input_tokens,
      output_tokens: run.output_tokens,
      last_error: run.last_error,
      run_branch: run.run_branch,
      merge_target_branch: run.merge_target_branch,
      merge_commit: merge ? ((parseResult(merge)?.commit as string | null | undefined) ?? null) : null,
      run_log: lastImpl?.output_path ?? null,
      report: `${run.run_dir}/report.tsv`,
      prompt_snapshot: existsSync(`${run.run_dir}/prompt.txt`) ? `${run.run_dir}/prompt.txt` : null,
      last_iteration_log: lastImpl?.output_path ?? null,
      last_iteration_tail: typeof lastResult?.tailPath === 'string' ? lastResult.tailPath : null,
    };
    // Every ending gets a report row, so report.tsv exists even for a run canceled before it began.
    appendReportRow(run.run_dir, {
      timestamp_ms: end,
      kind: 'run',
      iteration: iterations.size,
      duration_ms: end - start,
      exit_code: lastImpl?.exit_code ?? null,
      output_bytes: null,
      output_lines: null,
      output_path: `${run.run_dir}/summary.json`,
      message: `${run.status}: ${run.exit_reason ?? 'failed'}${run.last_error && run.status !== 'COMPLETED' ? ` (${run.last_error})` : ''}`,
      tasks_done: summary.tasks_done,
      tasks_total: summary.tasks_total,
      cost_usd: run.cost_usd,
      input_tokens: run.input_tokens,
      output_tokens: run.output_tokens,
    });
    this.recordArtifact(run, null, 'report', `${run.run_dir}/report.tsv`);
    const path = writeSummary(run.run_dir, summary);
    this.recordArtifact(run, null, 'summary', path);
    const g = run.global_run_dir;
    if (g && g !== run.run_dir) {
      for (const copied of mirrorDir(run.run_dir, g)) this.recordArtifact(run, null, 'mirror', copied);
    }
  }

  // ---- control ------------------------------------------------------------------------------

  /** Cancels a run: kills its agent (if any) and waits until the run is recorded CANCELED. */
  async cancel(runId: string): Promise<void> {
    const { store } = this.o;
    const inFlight = [...this.active.values()].filter((a) => a.runId === runId);
    store.tx(() => {
      const run = store.getRun(runId)!;
      store.updateRun(runId, { cancel_requested: 1 });
      store.appendEvent(runId, null, 'RUN_CANCEL_REQUESTED', {});
      if (inFlight.length === 0) this.finishRun(run, 'CANCELED', 'canceled', null);
    });
    for (const a of inFlight) a.abort.abort(new Error('canceled'));
    await Promise.allSettled(inFlight.map((a) => a.done));
    this.afterFinish(runId);
    this.wake();
  }

  /** Must run inside a transaction. */
  private pauseInTx(run: RunRow, reason: string): RunRow {
    const r = this.o.store.updateRun(run.id, { status: 'PAUSED', pause_reason: reason });
    this.o.store.appendEvent(run.id, null, 'RUN_PAUSED', { reason });
    return r;
  }

  /** The current step finishes; no further step is claimed until resume. */
  pause(runId: string, reason = 'user'): void {
    this.o.store.tx(() => {
      const run = this.o.store.getRun(runId)!;
      this.pauseInTx(run, reason);
    });
  }

  /** Back in the admission queue: it runs again as soon as the concurrency caps allow. */
  resume(runId: string, opts: { maxCostUsd?: number } = {}): void {
    this.o.store.tx(() => {
      const run = this.o.store.getRun(runId)!;
      if (opts.maxCostUsd !== undefined) {
        const cfg = { ...parseConfig(run), max_cost_usd: opts.maxCostUsd };
        this.o.store.updateRun(runId, { config_json: JSON.stringify(cfg) });
        this.o.store.appendEvent(runId, null, 'CONFIG_CHANGED', { key: 'max_cost_usd', value: opts.maxCostUsd });
      }
      this.o.store.updateRun(runId, { status: 'PENDING', pause_reason: null });
      this.o.store.appendEvent(runId, null, 'RUN_RESUMED', opts.maxCostUsd !== undefined ? { maxCostUsd: opts.maxCostUsd } : {});
    });
    this.wake();
  }

  private wakeAt(at: number): void {
    const ms = Math.max(10, at - Date.now());
    setTimeout(() => this.wake(), ms).unref();
  }

  // ---- recovery -----------------------------------------------------------------------------

  private recover(): void {
    const { store } = this.o;
    for (const step of store.stepsWithStatus(['IN_PROGRESS'])) {
      if (this.active.has(step.id)) continue;
      const run = store.getRun(step.run_id);
      if (!run) continue;
      let proc = step.process_json ? (JSON.parse(step.process_json) as Partial<AgentProcessInfo> & { nonce: string; exitPath: string }) : null;
      if (proc && !proc.pid) {
        // The daemon died between spawning and recording the pid: find the process by its nonce.
        const found = findByNonce(proc.nonce);
        if (found) proc = { ...proc, ...found };
        else if (readExitStatus(proc.exitPath) !== null) proc = { ...proc, pid: 0, pgid: 0, startTime: '' };
        else proc = null;
      }
      const handler = this.o.handlers[step.phase];
      const running = !['COMPLETED', 'FAILED', 'CANCELED'].includes(run.status);
      const handle = proc as AgentProcessInfo | null;
      if (handle && handler && running && (isAlive(handle) || readExitStatus(handle.exitPath) !== null)) {
        // The agent outlived the previous daemon: follow it to its end instead of paying twice.
        store.appendEvent(run.id, step.id, 'STEP_ADOPTED', { pid: handle.pid, phase: step.phase, iteration: step.iteration });
        this.execute(run, step, handler, handle);
        continue;
      }
      if (handle && isAlive(handle)) void killTree(handle, 2000);
      store.tx(() => {
        store.updateStep(step.id, {
          status: 'FAILED',
          error: 'the daemon stopped while this step ran and its process is gone',
          ended_at: Date.now(),
          // Not the agent's failure: it does not use up claude_retries.
          result_json: JSON.stringify({ requeued: true }),
        });
        if (running && run.cancel_requested === 0) {
          const again = store.insertStep({ run_id: run.id, phase: step.phase, iteration: step.iteration, attempt: step.attempt + 1, input_json: step.input_json ?? null });
          store.appendEvent(run.id, again.id, 'STEP_REQUEUED', {
            phase: step.phase,
            iteration: step.iteration,
            attempt: again.attempt,
            reason: 'process vanished without an exit status after a daemon restart',
          });
        }
      });
    }
    for (const run of store.listRuns({ status: ['RUNNING'] })) {
      store.tx(() => this.applyDecision(run, this.decide(run)));
    }
    // Finalisation owed is a fact in the database (runs.finalized_at), not a guess from the files.
    for (const run of store.runsToFinalize(1000)) this.afterFinish(run.id);
  }

  runStatusCounts(): Record<RunStatus, number> {
    return this.o.store.runStatusCounts();
  }

}

export function transitionConfig(run: RunRow): TransitionConfig {
  const cfg = parseConfig(run);
  return {
    iterations: cfg.iterations,
    agentRetries: cfg.claude_retries,
    agentRetryBackoffSec: cfg.claude_retry_backoff_sec,
    transientRetries: cfg.transient_retries,
    mergeEnabled: run.merge_strategy !== 'none' && run.merge_target_branch !== null,
    reviewer: cfg.reviewer,
    verify: cfg.verify_cmds.length > 0,
    maxConsecutiveVerificationFailures: cfg.max_consecutive_verification_failures,
    maxConsecutiveReviewFailures: cfg.max_consecutive_review_failures,
    watchdogMaxRewrites: cfg.watchdog_max_rewrites,
    noProgressIterations: cfg.watchdog_no_progress_iterations,
  };
}

const SUMMARY_REASONS = new Set(['complete_plan', 'iterations_exhausted', 'claude_failed', 'agent_failed', 'canceled']);

/** summary.json keeps the coarse categories (claude_failed:auth is claude_failed); the precise reason goes to exit_detail. */
export function summaryExitReason(reason: string | null): string {
  const coarse = reason?.split(':')[0] ?? null;
  return coarse && SUMMARY_REASONS.has(coarse) ? coarse : 'failed';
}

/** The agent kind a step of this phase runs, or null for phases that run no agent. */
function agentKindFor(run: RunRow, phase: StepPhase): string | null {
  const cfg = parseConfig(run);
  if (phase === 'implementation') return cfg.agent;
  if (phase === 'review') return cfg.reviewer_agent || cfg.agent;
  return null;
}
