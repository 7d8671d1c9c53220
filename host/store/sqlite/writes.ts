// The named transitions of the LoopStore interface, inside one write transaction on the writer
// connection (its reads, inherited, see the transaction's own writes).
import type { Completion } from '../../../core/completion.js';
import type { EventPayloads, EventType } from '../../../core/events.js';
import type { LedgerTask } from '../../../core/ledger.js';
import type { StepResultFacts } from '../../../core/results.js';
import type {
  AgentHold,
  ArtifactRecord,
  EventRecord,
  MergeLock,
  NewRun,
  QueueStep,
  ReviewDecision,
  ReviewRecord,
  RunRecord,
  SpecChangeClaim,
  SpecFileRecord,
  SpecFileUpsert,
  StepOutcome,
  StepProcess,
  StepRecord,
  StoreTx,
  WorkspaceRecord,
} from '../types.js';
import type { WriteTx } from './connection.js';
import { holdAgent, releaseMergeLock, takeMergeLock } from './coordination.js';
import { eventRecord, reviewRecord, runRecord, specFileRecord, stepRecord, workspaceRecord } from './decode.js';
import { appendEvent } from './events.js';
import { insertRunTruth, saveLedger, setCompletion } from './ledger.js';
import { claimSpecChange, ensureWorkspace, putReview, setWatched, upsertArtifact, upsertSpecFile } from './places.js';
import { SqliteReads } from './reads.js';
import { getRun, insertRun, markFinalized, updateRun, workspaceSlotsTaken } from './runs.js';
import { cancelQueuedSteps, getStep, insertStep, updateStep } from './steps.js';

export class SqliteTx extends SqliteReads implements StoreTx {
  constructor(private readonly tx: WriteTx) {
    super(tx.db);
  }

  async appendEvent<K extends EventType>(runId: string | null, stepId: number | null, type: K, payload: EventPayloads[K], workspace: string | null = null): Promise<EventRecord> {
    return eventRecord(appendEvent(this.tx, runId, stepId, type, payload, workspace));
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const { config, ...rest } = run;
    return runRecord(insertRun(this.tx, { ...rest, config_json: JSON.stringify(config) }));
  }

  async admitRun(runId: string, now: number): Promise<RunRecord | null> {
    const fresh = getRun(this.db, runId);
    if (!fresh || fresh.status !== 'PENDING') return null;
    return runRecord(updateRun(this.tx, runId, { status: 'RUNNING', started_at: fresh.started_at ?? now }));
  }

  async pauseRun(runId: string, reason: string): Promise<RunRecord> {
    return runRecord(updateRun(this.tx, runId, { status: 'PAUSED', pause_reason: reason }));
  }

  async resumeRun(runId: string, config?: Record<string, unknown>): Promise<RunRecord> {
    return runRecord(
      updateRun(this.tx, runId, { status: 'PENDING', pause_reason: null, ...(config ? { config_json: JSON.stringify(config) } : {}) }),
    );
  }

  async requestCancel(runId: string): Promise<RunRecord> {
    return runRecord(updateRun(this.tx, runId, { cancel_requested: 1 }));
  }

  async chargeRun(runId: string, charge: { usage: StepOutcome['usage']; error: string | null; worktreePath?: string }): Promise<RunRecord> {
    let run = getRun(this.db, runId);
    if (!run) throw new Error(`run ${runId} not found`);
    if (charge.usage) {
      run = updateRun(this.tx, runId, {
        cost_usd: run.cost_usd + charge.usage.costUsd,
        input_tokens: run.input_tokens + charge.usage.inputTokens,
        output_tokens: run.output_tokens + charge.usage.outputTokens,
      });
    }
    if (charge.error) run = updateRun(this.tx, runId, { last_error: charge.error });
    if (charge.worktreePath) run = updateRun(this.tx, runId, { worktree_path: charge.worktreePath });
    return runRecord(run);
  }

  async finishRun(runId: string, status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: string, error: string | null, now: number): Promise<RunRecord> {
    cancelQueuedSteps(this.tx, runId, now);
    return runRecord(updateRun(this.tx, runId, { status, exit_reason: reason, ended_at: now, last_error: error }));
  }

  async markFinalized(runId: string, now: number): Promise<void> {
    markFinalized(this.tx, runId, now);
  }

  async recordRunTruth(runId: string, specText: string, planText: string | null): Promise<void> {
    insertRunTruth(this.tx, runId, specText, planText);
  }

  async setCompletion(runId: string, completion: Completion): Promise<void> {
    setCompletion(this.tx, runId, completion);
  }

  async saveLedger(runId: string, tasks: readonly LedgerTask[]): Promise<void> {
    saveLedger(this.tx, runId, tasks);
  }

  async queueStep(step: QueueStep): Promise<StepRecord> {
    const { input, ...rest } = step;
    return stepRecord(insertStep(this.tx, { ...rest, input_json: input ? JSON.stringify(input) : null }));
  }

  async claimStep(stepId: number, owner: string, now: number): Promise<StepRecord | null> {
    const fresh = getStep(this.db, stepId);
    if (!fresh || fresh.status !== 'QUEUED') return null;
    return stepRecord(updateStep(this.tx, stepId, { status: 'IN_PROGRESS', started_at: now, lease_owner: owner }));
  }

  async recordProcessIntent(stepId: number, p: StepProcess): Promise<void> {
    updateStep(this.tx, stepId, { pid: null, pid_start: null, pid_nonce: p.nonce, exit_path: p.exitPath, output_path: p.logPath, process_json: JSON.stringify(p) });
  }

  async recordProcessStarted(stepId: number, p: StepProcess & { pid: number; startTime: string }): Promise<void> {
    updateStep(this.tx, stepId, {
      pid: p.pid,
      pid_start: p.startTime,
      pid_nonce: p.nonce,
      exit_path: p.exitPath,
      output_path: p.logPath,
      process_json: JSON.stringify(p),
    });
  }

  async finishStep(stepId: number, o: StepOutcome, now: number): Promise<StepRecord | null> {
    const step = getStep(this.db, stepId);
    if (!step || step.status !== 'IN_PROGRESS') return null;
    return stepRecord(
      updateStep(this.tx, stepId, {
        status: o.status,
        exit_code: o.exit_code,
        result_json: JSON.stringify(o.result),
        error: o.error,
        prompt_path: o.prompt_path ?? step.prompt_path,
        output_path: o.output_path ?? step.output_path,
        ended_at: now,
        ...(o.usage
          ? { cost_usd: o.usage.costUsd, input_tokens: o.usage.inputTokens, output_tokens: o.usage.outputTokens, cost_source: o.usage.costSource }
          : {}),
      }),
    );
  }

  async failStep(stepId: number, error: string, result: StepResultFacts | null, now: number): Promise<StepRecord | null> {
    const fresh = getStep(this.db, stepId);
    if (!fresh || (fresh.status !== 'QUEUED' && fresh.status !== 'IN_PROGRESS')) return null;
    return stepRecord(updateStep(this.tx, stepId, { status: 'FAILED', error, ended_at: now, ...(result ? { result_json: JSON.stringify(result) } : {}) }));
  }

  async workspaceSlotsTaken(workspace: string): Promise<number> {
    return workspaceSlotsTaken(this.db, workspace);
  }

  async holdAgent(hold: AgentHold): Promise<void> {
    holdAgent(this.tx, hold);
  }

  async takeMergeLock(lock: Omit<MergeLock, 'created_at'>, now: number): Promise<boolean> {
    return takeMergeLock(this.tx, lock, now);
  }

  async releaseMergeLock(stepId: number): Promise<void> {
    releaseMergeLock(this.tx, stepId);
  }

  async recordArtifact(a: Omit<ArtifactRecord, 'id'>): Promise<void> {
    upsertArtifact(this.tx, a);
  }

  async ensureWorkspace(root: string): Promise<void> {
    ensureWorkspace(this.tx, root);
  }

  async setWatched(root: string, watched: boolean): Promise<WorkspaceRecord> {
    return workspaceRecord(setWatched(this.tx, root, watched));
  }

  async upsertSpecFile(row: SpecFileUpsert): Promise<SpecFileRecord> {
    return specFileRecord(upsertSpecFile(this.tx, row));
  }

  async claimSpecChange(claim: SpecChangeClaim): Promise<boolean> {
    return claimSpecChange(this.tx, claim);
  }

  async putReview(runId: string, status: ReviewDecision, actor: string, detail: Record<string, unknown>): Promise<ReviewRecord> {
    return reviewRecord(putReview(this.tx, runId, status, actor, detail));
  }
}
