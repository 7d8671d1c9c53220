// What the API layer may ask of the host. The router depends on this interface only.
import type { RunStatus } from '../core/types.js';
import type { RawOutputChunk } from './service/output-stream.js';
import type { RunRecord, StoreTx } from './store/types.js';
import type { CreateRunInput, DaemonStatus, EventView, EventWindow, OutputChunk, PromptPreview, RunDetail, RunView, TailView, WorkspaceView } from './views.js';

export class UserError extends Error {
  constructor(
    message: string,
    readonly code: 'BAD_REQUEST' | 'NOT_FOUND' | 'CONFLICT' | 'PRECONDITION_FAILED' = 'BAD_REQUEST',
  ) {
    super(message);
  }
}

/** runs.list without a limit returns this many: a page, not the whole store. */
export const DEFAULT_RUNS_PAGE = 50;

export interface ListRunsFilter {
  status?: RunStatus[] | undefined;
  workspace?: string | undefined;
  /** At most this many (default DEFAULT_RUNS_PAGE). */
  limit?: number | undefined;
  /** The id of the last run of the previous page. */
  cursor?: string | undefined;
}

export interface LoopService {
  status(): Promise<DaemonStatus>;
  /** drain: wait for in-flight steps first; otherwise running agents are left to be re-adopted. */
  requestStop(opts?: { drain?: boolean }): void;
  watchWorkspace(path: string): Promise<WorkspaceView & { recorded: number; alreadyWatched: boolean }>;
  unwatchWorkspace(path: string): Promise<WorkspaceView>;
  listWorkspaces(): Promise<WorkspaceView[]>;
  /** Events after `afterSeq`, or after the start of `window` when that is later. */
  listWorkspaceEvents(path: string, afterSeq: number, limit: number, window?: EventWindow): Promise<EventView[]>;
  streamWorkspaceEvents(path: string, afterSeq: number, follow: boolean, signal: AbortSignal, window?: EventWindow): AsyncGenerator<EventView>;
  createRun(input: CreateRunInput): Promise<RunView>;
  listRuns(filter: ListRunsFilter): Promise<RunView[]>;
  getRun(ref: string): Promise<RunDetail>;
  cancelRun(ref: string): Promise<RunView>;
  /** Lets the current step finish, then claims no more steps: PAUSED. */
  pauseRun(ref: string): Promise<RunView>;
  /** Back to the queue; maxCostUsd raises (or clears, with 0) the run's budget. */
  resumeRun(ref: string, opts?: { maxCostUsd?: number | undefined }): Promise<RunView>;
  /** The exact prompt iteration 1 of a run with these inputs would get; creates nothing. */
  previewPrompt(input: CreateRunInput): Promise<PromptPreview>;
  listEvents(ref: string, afterSeq: number, limit: number, window?: EventWindow): Promise<EventView[]>;
  /** Replays events after `afterSeq` (or the window's start) and then follows live ones until the run ends (when follow). */
  streamEvents(ref: string, afterSeq: number, follow: boolean, signal: AbortSignal, window?: EventWindow): AsyncGenerator<EventView>;
  /** Streams agent output from a resume point `<stepId>:<offset>` (or the start). */
  streamOutput(ref: string, resume: string | null, follow: boolean, signal: AbortSignal): AsyncGenerator<OutputChunk>;
  /** The same as bytes in a reused buffer (host/service/output-stream.ts); rejects for an unknown run. */
  openOutput(ref: string, resume: string | null, follow: boolean, signal: AbortSignal): Promise<AsyncGenerator<RawOutputChunk>>;
  tail(ref: string, lines: number): Promise<TailView | null>;
  /** Every event (all runs and workspaces) after `afterSeq`, then live ones until the client leaves. */
  streamAllEvents(afterSeq: number, signal: AbortSignal): AsyncGenerator<EventView>;
  lastEventSeq(): Promise<number>;
}

/** Runs inside the transaction that inserts the run (the watcher records its decision with it). */
export type CreateRunHook = (tx: StoreTx, run: RunRecord) => Promise<void>;
/**
 * Runs first in that transaction, before the run's name and branch are placed, with the id the run
 * will have: the watcher's claim on the save (LoopStore.claimSpecChange), which throws when another
 * host's watcher made the run, so the two never race for one name.
 */
export type CreateRunClaim = (tx: StoreTx, runId: string) => Promise<void>;
/** Run creation as a trigger needs it: HostLoopService.createRun, or anything with its contract. */
export type CreateRunFn = (input: CreateRunInput, opts?: { inTx?: CreateRunHook; claim?: CreateRunClaim }) => Promise<RunView>;

/**
 * What the service asks of the scheduler (host/dispatcher.ts): the control transitions it owns,
 * and a nudge after a run was created. Results may be promises or plain values.
 */
export interface RunControl {
  wake(): void;
  pause(runId: string): unknown;
  resume(runId: string, opts: { maxCostUsd?: number }): unknown;
  cancel(runId: string): Promise<unknown>;
}

/** The spec-drop trigger as the host sees it (implemented in triggers/). */
export interface WorkspaceWatcher {
  start(): Promise<void>;
  watch(root: string): Promise<{ root: string; recorded: number; alreadyWatched: boolean }>;
  unwatch(root: string): Promise<void>;
  stop(): Promise<void>;
  watchedRoots(): string[];
}
