// The reads of the LoopStore interface over one connection: the read connection for reads outside
// a transaction, the writer for reads inside one (so a transaction sees its own writes).
import type { DatabaseSync } from 'node:sqlite';
import type { LedgerTask } from '../../../core/ledger.js';
import type { RunStatus, StepStatus } from '../../../core/types.js';
import type { AgentHold, ArtifactRecord, EventFilter, EventRecord, MergeLock, ReviewRecord, RunFilter, RunRecord, RunTruth, SpecFileRecord, StepRecord, StoreReads, WorkspaceRecord } from '../types.js';
import { agentHolds, mergeLocks } from './coordination.js';
import { artifactRecord, eventRecord, reviewRecord, runRecord, specFileRecord, stepRecord, workspaceRecord } from './decode.js';
import { eventsAfter, eventsWindowStart, lastEventSeq } from './events.js';
import { getRunTruth, ledgerFor, ledgerSummary } from './ledger.js';
import { artifactsForRun, getReview, getSpecFile, getWorkspace, listSpecFiles, listWorkspaces } from './places.js';
import { countRuns, findRuns, getRun, listRuns, runBranchTaken, runNameTaken, runStatusCounts, runsToFinalize, shortRunId } from './runs.js';
import { getStep, stepsForRun, stepsWithStatus } from './steps.js';

const maybe = <R, T>(row: R | undefined, decode: (r: R) => T): T | undefined => (row ? decode(row) : undefined);

export class SqliteReads implements StoreReads {
  constructor(protected readonly db: DatabaseSync) {}

  async getRun(id: string): Promise<RunRecord | undefined> {
    return maybe(getRun(this.db, id), runRecord);
  }
  async findRuns(ref: string): Promise<RunRecord[]> {
    return findRuns(this.db, ref).map(runRecord);
  }
  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    return listRuns(this.db, filter).map(runRecord);
  }
  async countRuns(workspace: string): Promise<number> {
    return countRuns(this.db, workspace);
  }
  async runStatusCounts(): Promise<Record<RunStatus, number>> {
    return runStatusCounts(this.db);
  }
  async runBranchTaken(workspaceRoot: string, branch: string): Promise<boolean> {
    return runBranchTaken(this.db, workspaceRoot, branch);
  }
  async shortRunId(id: string): Promise<string> {
    return shortRunId(this.db, id);
  }
  async runNameTaken(workspaceRoot: string, name: string): Promise<RunRecord | undefined> {
    return maybe(runNameTaken(this.db, workspaceRoot, name), runRecord);
  }
  async runsToFinalize(limit?: number, before?: string): Promise<RunRecord[]> {
    return runsToFinalize(this.db, limit, before).map(runRecord);
  }
  async getStep(id: number): Promise<StepRecord | undefined> {
    return maybe(getStep(this.db, id), stepRecord);
  }
  async stepsForRun(runId: string): Promise<StepRecord[]> {
    return stepsForRun(this.db, runId).map(stepRecord);
  }
  async stepsWithStatus(statuses: StepStatus[]): Promise<StepRecord[]> {
    return stepsWithStatus(this.db, statuses).map(stepRecord);
  }
  async eventsAfter(filter: EventFilter): Promise<EventRecord[]> {
    return eventsAfter(this.db, filter).map(eventRecord);
  }
  async lastEventSeq(): Promise<number> {
    return lastEventSeq(this.db);
  }
  async eventsWindowStart(filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }): Promise<number> {
    return eventsWindowStart(this.db, filter, window);
  }
  async artifactsForRun(runId: string): Promise<ArtifactRecord[]> {
    return artifactsForRun(this.db, runId).map(artifactRecord);
  }
  async getWorkspace(root: string): Promise<WorkspaceRecord | undefined> {
    return maybe(getWorkspace(this.db, root), workspaceRecord);
  }
  async listWorkspaces(filter: { watched?: boolean } = {}): Promise<WorkspaceRecord[]> {
    return listWorkspaces(this.db, filter).map(workspaceRecord);
  }
  async getSpecFile(root: string, path: string): Promise<SpecFileRecord | undefined> {
    return maybe(getSpecFile(this.db, root, path), specFileRecord);
  }
  async listSpecFiles(root: string): Promise<SpecFileRecord[]> {
    return listSpecFiles(this.db, root).map(specFileRecord);
  }
  async getReview(runId: string): Promise<ReviewRecord | undefined> {
    return maybe(getReview(this.db, runId), reviewRecord);
  }
  async getRunTruth(runId: string): Promise<RunTruth | undefined> {
    return getRunTruth(this.db, runId);
  }
  async ledgerFor(runId: string): Promise<LedgerTask[]> {
    return ledgerFor(this.db, runId);
  }
  async ledgerSummary(runId: string): Promise<{ total: number; open: number; completion: string | null } | null> {
    return ledgerSummary(this.db, runId);
  }
  async agentHolds(now: number): Promise<AgentHold[]> {
    return agentHolds(this.db, now);
  }
  async mergeLocks(): Promise<MergeLock[]> {
    return mergeLocks(this.db);
  }
}
