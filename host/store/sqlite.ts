// The embedded default behind the LoopStore interface: node:sqlite, through the synchronous engine
// of host/store.ts (which holds all the SQL). This file only adapts: it serializes transactions
// (one connection, so one transaction at a time), decodes JSON columns into records and maps each
// named transition onto the engine's statements.
import type { EventBus } from '../bus.js';
import type { EventPayloads, EventType } from '../../core/events.js';
import type { StepResultFacts } from '../../core/results.js';
import type { Completion } from '../../core/completion.js';
import type { LedgerTask } from '../../core/ledger.js';
import type { RunStatus, StepStatus } from '../../core/types.js';
import { loadMigrations, Store, type ArtifactRow, type EventRow, type Migration, type ReviewRow, type RunRow, type SpecFileRow, type StepRow, type WorkspaceRow } from '../store.js';
import type {
  AgentHold,
  ArtifactRecord,
  EventFilter,
  EventRecord,
  LoopStore,
  MergeLock,
  NewRun,
  QueueStep,
  ReviewDecision,
  ReviewRecord,
  RunFilter,
  RunRecord,
  RunTruth,
  SpecFileRecord,
  SpecChangeClaim,
  SpecFileUpsert,
  StepInputFacts,
  StepOutcome,
  StepProcess,
  StepRecord,
  StoreTx,
  WorkspaceRecord,
} from './types.js';

// ---- decoding ---------------------------------------------------------------------------------

const json = <T>(text: string | null | undefined): T | null => (text ? (JSON.parse(text) as T) : null);

export function runRecord(r: RunRow): RunRecord {
  const { config_json, cancel_requested, finalized_at, ...rest } = r;
  return { ...rest, config: json<Record<string, unknown>>(config_json) ?? {}, cancel_requested: cancel_requested !== 0, finalized_at: finalized_at ?? null };
}

export function stepRecord(s: StepRow): StepRecord {
  const { result_json, process_json, input_json, cost_usd, input_tokens, output_tokens, cost_source, ...rest } = s;
  return {
    ...rest,
    result: json<StepResultFacts>(result_json),
    process: json<StepProcess>(process_json),
    input: json<StepInputFacts>(input_json),
    cost_usd: cost_usd ?? null,
    input_tokens: input_tokens ?? null,
    output_tokens: output_tokens ?? null,
    cost_source: cost_source ?? null,
  };
}

export function eventRecord(e: EventRow): EventRecord {
  return {
    seq: e.seq,
    runId: e.run_id,
    stepId: e.step_id,
    workspaceRoot: e.workspace_root,
    ts: e.ts,
    type: e.type,
    payload: json<Record<string, unknown>>(e.payload_json) ?? {},
  } as EventRecord;
}

const workspaceRecord = (w: WorkspaceRow): WorkspaceRecord => ({ ...w, watched: w.watched !== 0 });
const reviewRecord = (r: ReviewRow): ReviewRecord => {
  const { detail_json, ...rest } = r;
  return { ...rest, detail: json<Record<string, unknown>>(detail_json) ?? {} };
};
const specFileRecord = (r: SpecFileRow): SpecFileRecord => ({ ...r });
const artifactRecord = (a: ArtifactRow): ArtifactRecord => ({ ...a });

// ---- the adapter ------------------------------------------------------------------------------

/** Reads and named writes over the engine; writes assume an open transaction (SqliteStore.transaction). */
class SqliteOps implements StoreTx {
  /** The synchronous engine, for the modules not yet moved onto the interface (the dispatcher). */
  constructor(readonly engine: Store) {}

  async getRun(id: string): Promise<RunRecord | undefined> {
    const r = this.engine.getRun(id);
    return r ? runRecord(r) : undefined;
  }
  async findRuns(ref: string): Promise<RunRecord[]> {
    return this.engine.findRuns(ref).map(runRecord);
  }
  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    return this.engine.listRuns(filter).map(runRecord);
  }
  async countRuns(workspace: string): Promise<number> {
    return this.engine.countRuns(workspace);
  }
  async runStatusCounts(): Promise<Record<RunStatus, number>> {
    return this.engine.runStatusCounts();
  }
  async runBranchTaken(workspaceRoot: string, branch: string): Promise<boolean> {
    return this.engine.runBranchTaken(workspaceRoot, branch);
  }
  async shortRunId(id: string): Promise<string> {
    return this.engine.shortRunId(id);
  }
  async runNameTaken(workspaceRoot: string, name: string): Promise<RunRecord | undefined> {
    const r = this.engine.runNameTaken(workspaceRoot, name);
    return r ? runRecord(r) : undefined;
  }
  async runsToFinalize(limit?: number, before?: string): Promise<RunRecord[]> {
    return this.engine.runsToFinalize(limit, before).map(runRecord);
  }
  async getStep(id: number): Promise<StepRecord | undefined> {
    const s = this.engine.getStep(id);
    return s ? stepRecord(s) : undefined;
  }
  async stepsForRun(runId: string): Promise<StepRecord[]> {
    return this.engine.stepsForRun(runId).map(stepRecord);
  }
  async stepsWithStatus(statuses: StepStatus[]): Promise<StepRecord[]> {
    return this.engine.stepsWithStatus(statuses).map(stepRecord);
  }
  async eventsAfter(filter: EventFilter): Promise<EventRecord[]> {
    return this.engine.eventsAfter(filter).map(eventRecord);
  }
  async lastEventSeq(): Promise<number> {
    return this.engine.lastEventSeq();
  }
  async eventsWindowStart(filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }): Promise<number> {
    return this.engine.eventsWindowStart(filter, window);
  }
  async artifactsForRun(runId: string): Promise<ArtifactRecord[]> {
    return this.engine.artifactsForRun(runId).map(artifactRecord);
  }
  async getWorkspace(root: string): Promise<WorkspaceRecord | undefined> {
    const w = this.engine.getWorkspace(root);
    return w ? workspaceRecord(w) : undefined;
  }
  async listWorkspaces(filter: { watched?: boolean } = {}): Promise<WorkspaceRecord[]> {
    return this.engine.listWorkspaces(filter).map(workspaceRecord);
  }
  async getSpecFile(root: string, path: string): Promise<SpecFileRecord | undefined> {
    const r = this.engine.getSpecFile(root, path);
    return r ? specFileRecord(r) : undefined;
  }
  async listSpecFiles(root: string): Promise<SpecFileRecord[]> {
    return this.engine.listSpecFiles(root).map(specFileRecord);
  }
  async getReview(runId: string): Promise<ReviewRecord | undefined> {
    const r = this.engine.getReview(runId);
    return r ? reviewRecord(r) : undefined;
  }
  async getRunTruth(runId: string): Promise<RunTruth | undefined> {
    return this.engine.getRunTruth(runId);
  }
  async ledgerFor(runId: string): Promise<LedgerTask[]> {
    return this.engine.ledgerFor(runId);
  }
  async ledgerSummary(runId: string): Promise<{ total: number; open: number; completion: string | null } | null> {
    return this.engine.ledgerSummary(runId);
  }
  async agentHolds(now: number): Promise<AgentHold[]> {
    return this.engine.agentHolds(now);
  }
  async mergeLocks(): Promise<MergeLock[]> {
    return this.engine.mergeLocks();
  }

  // ---- writes ---------------------------------------------------------------------------------

  async appendEvent<K extends EventType>(runId: string | null, stepId: number | null, type: K, payload: EventPayloads[K], workspace: string | null = null): Promise<EventRecord> {
    return eventRecord(this.engine.appendEvent(runId, stepId, type, payload, workspace));
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const { config, ...rest } = run;
    return runRecord(this.engine.insertRun({ ...rest, config_json: JSON.stringify(config) }));
  }

  async admitRun(runId: string, now: number): Promise<RunRecord | null> {
    const fresh = this.engine.getRun(runId);
    if (!fresh || fresh.status !== 'PENDING') return null;
    return runRecord(this.engine.updateRun(runId, { status: 'RUNNING', started_at: fresh.started_at ?? now }));
  }

  async pauseRun(runId: string, reason: string): Promise<RunRecord> {
    return runRecord(this.engine.updateRun(runId, { status: 'PAUSED', pause_reason: reason }));
  }

  async resumeRun(runId: string, config?: Record<string, unknown>): Promise<RunRecord> {
    return runRecord(
      this.engine.updateRun(runId, { status: 'PENDING', pause_reason: null, ...(config ? { config_json: JSON.stringify(config) } : {}) }),
    );
  }

  async requestCancel(runId: string): Promise<RunRecord> {
    return runRecord(this.engine.updateRun(runId, { cancel_requested: 1 }));
  }

  async chargeRun(runId: string, charge: { usage: StepOutcome['usage']; error: string | null; worktreePath?: string }): Promise<RunRecord> {
    let run = this.engine.getRun(runId);
    if (!run) throw new Error(`run ${runId} not found`);
    if (charge.usage) {
      run = this.engine.updateRun(runId, {
        cost_usd: run.cost_usd + charge.usage.costUsd,
        input_tokens: run.input_tokens + charge.usage.inputTokens,
        output_tokens: run.output_tokens + charge.usage.outputTokens,
      });
    }
    if (charge.error) run = this.engine.updateRun(runId, { last_error: charge.error });
    if (charge.worktreePath) run = this.engine.updateRun(runId, { worktree_path: charge.worktreePath });
    return runRecord(run);
  }

  async finishRun(runId: string, status: 'COMPLETED' | 'FAILED' | 'CANCELED', reason: string, error: string | null, now: number): Promise<RunRecord> {
    for (const s of this.engine.stepsForRun(runId)) {
      if (s.status === 'QUEUED') this.engine.updateStep(s.id, { status: 'CANCELED', ended_at: now });
    }
    return runRecord(this.engine.updateRun(runId, { status, exit_reason: reason, ended_at: now, last_error: error }));
  }

  async markFinalized(runId: string, now: number): Promise<void> {
    this.engine.markFinalized(runId, now);
  }

  async recordRunTruth(runId: string, specText: string, planText: string | null): Promise<void> {
    this.engine.insertRunTruth(runId, specText, planText);
  }

  async setCompletion(runId: string, completion: Completion): Promise<void> {
    this.engine.setCompletion(runId, completion);
  }

  async saveLedger(runId: string, tasks: readonly LedgerTask[]): Promise<void> {
    this.engine.saveLedger(runId, tasks);
  }

  async queueStep(step: QueueStep): Promise<StepRecord> {
    const { input, ...rest } = step;
    return stepRecord(this.engine.insertStep({ ...rest, input_json: input ? JSON.stringify(input) : null }));
  }

  async claimStep(stepId: number, owner: string, now: number): Promise<StepRecord | null> {
    const fresh = this.engine.getStep(stepId);
    if (!fresh || fresh.status !== 'QUEUED') return null;
    return stepRecord(this.engine.updateStep(stepId, { status: 'IN_PROGRESS', started_at: now, lease_owner: owner }));
  }

  async recordProcessIntent(stepId: number, p: StepProcess): Promise<void> {
    this.engine.updateStep(stepId, { pid: null, pid_start: null, pid_nonce: p.nonce, exit_path: p.exitPath, output_path: p.logPath, process_json: JSON.stringify(p) });
  }

  async recordProcessStarted(stepId: number, p: StepProcess & { pid: number; startTime: string }): Promise<void> {
    this.engine.updateStep(stepId, {
      pid: p.pid,
      pid_start: p.startTime,
      pid_nonce: p.nonce,
      exit_path: p.exitPath,
      output_path: p.logPath,
      process_json: JSON.stringify(p),
    });
  }

  async finishStep(stepId: number, o: StepOutcome, now: number): Promise<StepRecord | null> {
    const step = this.engine.getStep(stepId);
    if (!step || step.status !== 'IN_PROGRESS') return null;
    return stepRecord(
      this.engine.updateStep(stepId, {
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
    const fresh = this.engine.getStep(stepId);
    if (!fresh || (fresh.status !== 'QUEUED' && fresh.status !== 'IN_PROGRESS')) return null;
    return stepRecord(this.engine.updateStep(stepId, { status: 'FAILED', error, ended_at: now, ...(result ? { result_json: JSON.stringify(result) } : {}) }));
  }

  async workspaceSlotsTaken(workspace: string): Promise<number> {
    return this.engine.workspaceSlotsTaken(workspace);
  }

  async holdAgent(hold: AgentHold): Promise<void> {
    this.engine.holdAgent(hold);
  }

  async takeMergeLock(lock: Omit<MergeLock, 'created_at'>, now: number): Promise<boolean> {
    return this.engine.takeMergeLock(lock, now);
  }

  async releaseMergeLock(stepId: number): Promise<void> {
    this.engine.releaseMergeLock(stepId);
  }

  async recordArtifact(a: Omit<ArtifactRecord, 'id'>): Promise<void> {
    this.engine.upsertArtifact(a);
  }

  async ensureWorkspace(root: string): Promise<void> {
    this.engine.ensureWorkspace(root);
  }

  async setWatched(root: string, watched: boolean): Promise<WorkspaceRecord> {
    return workspaceRecord(this.engine.setWatched(root, watched));
  }

  async upsertSpecFile(row: SpecFileUpsert): Promise<SpecFileRecord> {
    return specFileRecord(this.engine.upsertSpecFile(row));
  }

  async claimSpecChange(claim: SpecChangeClaim): Promise<boolean> {
    return this.engine.claimSpecChange(claim);
  }

  async putReview(runId: string, status: ReviewDecision, actor: string, detail: Record<string, unknown>): Promise<ReviewRecord> {
    return reviewRecord(this.engine.putReview(runId, status, actor, detail));
  }
}

export class SqliteStore extends SqliteOps implements LoopStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, bus: EventBus | null = null, migrations: Migration[] = loadMigrations()) {
    super(new Store(path, bus, migrations));
  }

  /**
   * One connection, so one transaction at a time: the next waits for the previous to settle.
   * fn should await only store operations, so the write lock is never held across slow I/O.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.engine.begin();
      try {
        const result = await fn(this);
        this.engine.commit();
        return result;
      } catch (e) {
        this.engine.rollback();
        throw e;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async appliedMigrations(): Promise<{ version: number; name: string }[]> {
    return this.engine.appliedMigrations();
  }

  async close(): Promise<void> {
    await this.queue;
    this.engine.close();
  }
}

