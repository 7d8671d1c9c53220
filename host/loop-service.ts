// The host side of the API, a thin facade: validation and run preparation live in
// host/service/prepare-run.ts and place-run.ts, views in run-views.ts, streams in event-stream.ts
// and output-stream.ts. Persistence goes through the LoopStore (reads, and one transaction per
// change with its event); scheduling through the dispatcher.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { containment } from '../core/agents/process.js';
import { findRepoRoot } from '../core/git.js';
import { isTerminalRunStatus } from '../core/types.js';
import { composePrompt } from '../core/run-prompt.js';
import type { EventBus } from './bus.js';
import { whenFree } from './busy.js';
import { DEFAULT_RUNS_PAGE, UserError, type CreateRunClaim, type CreateRunHook, type ListRunsFilter, type LoopService, type RunControl, type WorkspaceWatcher } from './service.js';
import { followEvents } from './service/event-stream.js';
import { outputChunks, streamOutput, tailOf, type RawOutputChunk } from './service/output-stream.js';
import { placeRun, recordRun } from './service/place-run.js';
import { prepareRun } from './service/prepare-run.js';
import { eventViews, runDetail, runView, workspaceView } from './service/run-views.js';
import type { LoopStore, RunRecord } from './store/types.js';
import type { CreateRunInput, DaemonStatus, EventView, EventWindow, OutputChunk, PromptPreview, RunDetail, RunView, TailView, WorkspaceView } from './views.js';

export { completeUtf8Length } from './service/output-stream.js';

export interface ServiceDeps {
  store: LoopStore;
  bus: EventBus;
  dispatcher: RunControl;
  home: string;
  version: string;
  host: string;
  port: () => number;
  startedAt: number;
  maxConcurrency: number;
  onStop: (opts: { drain?: boolean }) => void;
}

export class HostLoopService implements LoopService {
  private watcher: WorkspaceWatcher | null = null;

  constructor(private readonly d: ServiceDeps) {}

  async status(): Promise<DaemonStatus> {
    return {
      pid: process.pid,
      version: this.d.version,
      host: this.d.host,
      port: this.d.port(),
      home: this.d.home,
      startedAt: this.d.startedAt,
      uptimeMs: Date.now() - this.d.startedAt,
      maxConcurrency: this.d.maxConcurrency,
      runs: await this.d.store.runStatusCounts(),
      containment: containment(),
    };
  }

  requestStop(opts: { drain?: boolean } = {}): void {
    // Answer the request first, then stop.
    setTimeout(() => this.d.onStop(opts), 20);
  }

  attachWatcher(w: WorkspaceWatcher): void {
    this.watcher = w;
  }

  // ---- workspaces ---------------------------------------------------------------------------

  private async workspaceRoot(path: string): Promise<string> {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new UserError(`directory not found: ${path}`);
    try {
      return await findRepoRoot(abs);
    } catch (e) {
      throw new UserError(e instanceof Error ? e.message : String(e));
    }
  }

  async watchWorkspace(path: string): Promise<WorkspaceView & { recorded: number; alreadyWatched: boolean }> {
    if (!this.watcher) throw new UserError('this daemon runs without the spec watcher');
    const root = await this.workspaceRoot(path);
    const r = await this.watcher.watch(root);
    return { ...(await workspaceView(this.d.store, root)), recorded: r.recorded, alreadyWatched: r.alreadyWatched };
  }

  async unwatchWorkspace(path: string): Promise<WorkspaceView> {
    const root = await this.workspaceRoot(path);
    const row = await this.d.store.getWorkspace(root);
    if (!row?.watched) throw new UserError(`${root} is not watched (see loopctl workspaces)`, 'NOT_FOUND');
    if (this.watcher) await this.watcher.unwatch(root);
    else await this.d.store.transaction((tx) => tx.setWatched(root, false));
    return workspaceView(this.d.store, root);
  }

  async listWorkspaces(): Promise<WorkspaceView[]> {
    const rows = await this.d.store.listWorkspaces();
    return Promise.all(rows.map((w) => workspaceView(this.d.store, w.root)));
  }

  async listWorkspaceEvents(path: string, afterSeq: number, limit: number, window: EventWindow = {}): Promise<EventView[]> {
    const root = await this.workspaceRoot(path);
    const after = Math.max(afterSeq, await this.d.store.eventsWindowStart({ workspace: root }, window));
    return eventViews(this.d.store, await this.d.store.eventsAfter({ workspace: root, afterSeq: after, limit }));
  }

  async *streamWorkspaceEvents(path: string, afterSeq: number, follow: boolean, signal: AbortSignal, window: EventWindow = {}): AsyncGenerator<EventView> {
    const root = await this.workspaceRoot(path);
    const after = Math.max(afterSeq, await this.d.store.eventsWindowStart({ workspace: root }, window));
    yield* followEvents(this.d.store, this.d.bus, { filter: { workspace: root }, matches: (ev) => ev.workspace_root === root, afterSeq: after, follow, signal });
  }

  // ---- runs ---------------------------------------------------------------------------------

  /**
   * `inTx` runs inside the transaction that inserts the run: the watcher records "this spec
   * version made run X" atomically with the run, so a crash can never make it start twice.
   */
  async createRun(input: CreateRunInput, opts: { inTx?: CreateRunHook; claim?: CreateRunClaim } = {}): Promise<RunView> {
    const p = await prepareRun(input, { suggestName: true, home: this.d.home });
    // Only the transaction waits for a database lock held by another process: the git and config
    // work above is not redone on every retry (host/busy.ts). The name and branch are placed inside
    // it, so two requests cannot take the same one.
    const run = await whenFree(() =>
      this.d.store.transaction(async (tx) => {
        await opts.claim?.(tx, p.id);
        const at = await placeRun(tx, p);
        if (p.provider.provider === 'git' && existsSync(at.worktreePath)) {
          throw new UserError(`worktree path ${at.worktreePath} already exists: remove it, or change worktree_path_template`);
        }
        const r = await recordRun(tx, p, at, input.origin ?? 'api');
        await opts.inTx?.(tx, r);
        return r;
      }),
    );
    this.d.dispatcher.wake();
    return runView(this.d.store, run);
  }

  async previewPrompt(input: CreateRunInput): Promise<PromptPreview> {
    const p = await prepareRun(input, { suggestName: false, home: this.d.home });
    const { name, runBranch, worktreePath } = await placeRun(this.d.store, p);
    const base = { id: p.id, name, workspaceRoot: p.root, specPath: p.specRel, planPath: p.planRel, baseBranch: p.base, runBranch };
    let prompt: string;
    try {
      prompt = composePrompt(
        {
          ...base,
          mergeTargetBranch: p.mergeTarget,
          mergeStrategy: p.config.merge_strategy,
          worktreePath,
          worktreeProvider: p.provider.provider,
          runDir: p.dirs.primary,
          config: p.config,
        },
        1,
      );
    } catch (e) {
      throw new UserError(e instanceof Error ? e.message : String(e));
    }
    return { prompt, workspaceRoot: p.root, specPath: p.specRel, planPath: p.planRel, worktreePath, warnings: p.warnings };
  }

  private async label(run: RunRecord): Promise<string> {
    return `run ${run.name} (${await this.d.store.shortRunId(run.id)})`;
  }

  private async fresh(id: string): Promise<RunView> {
    return runView(this.d.store, (await this.d.store.getRun(id))!);
  }

  async pauseRun(ref: string): Promise<RunView> {
    const run = await this.resolveRun(ref);
    if (run.status === 'PAUSED') throw new UserError(`${await this.label(run)} is already paused: resume it with loopctl resume`, 'CONFLICT');
    if (isTerminalRunStatus(run.status)) throw new UserError(`${await this.label(run)} already ended as ${run.status}: nothing to pause`, 'CONFLICT');
    await this.d.dispatcher.pause(run.id);
    return this.fresh(run.id);
  }

  async resumeRun(ref: string, opts: { maxCostUsd?: number | undefined } = {}): Promise<RunView> {
    const run = await this.resolveRun(ref);
    if (opts.maxCostUsd !== undefined && (!Number.isFinite(opts.maxCostUsd) || opts.maxCostUsd < 0)) {
      throw new UserError(`invalid --max-cost-usd "${opts.maxCostUsd}": expected a number >= 0 (0 = no limit)`);
    }
    if (run.status !== 'PAUSED') {
      throw new UserError(`${await this.label(run)} is ${run.status}, not PAUSED: only a paused run can be resumed`, 'CONFLICT');
    }
    await this.d.dispatcher.resume(run.id, opts.maxCostUsd !== undefined ? { maxCostUsd: opts.maxCostUsd } : {});
    return this.fresh(run.id);
  }

  async cancelRun(ref: string): Promise<RunView> {
    const run = await this.resolveRun(ref);
    if (isTerminalRunStatus(run.status)) throw new UserError(`${await this.label(run)} already ended as ${run.status}: nothing to cancel`, 'CONFLICT');
    await this.d.dispatcher.cancel(run.id);
    return this.fresh(run.id);
  }

  async listRuns(filter: ListRunsFilter): Promise<RunView[]> {
    const ws = filter.workspace ? resolve(filter.workspace) : undefined;
    if (filter.cursor !== undefined && !(await this.d.store.getRun(filter.cursor))) {
      throw new UserError(`unknown cursor "${filter.cursor}": pass the full id of the last run of the previous page`, 'BAD_REQUEST');
    }
    const runs = await this.d.store.listRuns({
      ...(filter.status ? { status: filter.status } : {}),
      ...(ws ? { workspace: ws } : {}),
      limit: filter.limit ?? DEFAULT_RUNS_PAGE,
      ...(filter.cursor !== undefined ? { cursor: filter.cursor } : {}),
    });
    return Promise.all(runs.map((r) => runView(this.d.store, r)));
  }

  /** By exact id, unique id prefix or name; several matches are refused with their ids, never guessed. */
  async resolveRun(ref: string): Promise<RunRecord> {
    const matches = await this.d.store.findRuns(ref.trim());
    const first = matches[0];
    if (!first) throw new UserError(`no run matches "${ref}": use a run id, a unique id prefix or a run name (see loopctl list)`, 'NOT_FOUND');
    if (matches.length === 1) return first;
    // An id prefix of several runs, or a name used in several workspaces (or, from before names
    // were unique per workspace, twice in one), gets the ids to choose from.
    const shown = await Promise.all(matches.slice(0, 5).map(async (m) => `${await this.d.store.shortRunId(m.id)} (${m.name}, ${m.status}, ${m.workspace_root})`));
    const more = matches.length > 5 ? `, and ${matches.length - 5} more` : '';
    const byId = matches.every((m) => m.id.startsWith(ref.trim()));
    const what = byId ? `the id prefix "${ref}"` : `the name "${ref}"`;
    throw new UserError(`${what} matches ${matches.length} runs: ${shown.join('; ')}${more}; give one of these ids`, 'CONFLICT');
  }

  async getRun(ref: string): Promise<RunDetail> {
    return runDetail(this.d.store, await this.resolveRun(ref));
  }

  view(run: RunRecord): Promise<RunView> {
    return runView(this.d.store, run);
  }

  // ---- events and output --------------------------------------------------------------------

  async listEvents(ref: string, afterSeq: number, limit: number, window: EventWindow = {}): Promise<EventView[]> {
    const run = await this.resolveRun(ref);
    const after = Math.max(afterSeq, await this.d.store.eventsWindowStart({ runId: run.id }, window));
    return eventViews(this.d.store, await this.d.store.eventsAfter({ runId: run.id, afterSeq: after, limit }));
  }

  lastEventSeq(): Promise<number> {
    return this.d.store.lastEventSeq();
  }

  streamAllEvents(afterSeq: number, signal: AbortSignal): AsyncGenerator<EventView> {
    return followEvents(this.d.store, this.d.bus, { filter: {}, matches: () => true, afterSeq, follow: true, signal });
  }

  async *streamEvents(ref: string, afterSeq: number, follow: boolean, signal: AbortSignal, window: EventWindow = {}): AsyncGenerator<EventView> {
    const run = await this.resolveRun(ref);
    const after = Math.max(afterSeq, await this.d.store.eventsWindowStart({ runId: run.id }, window));
    const finished = async () => {
      const fresh = await this.d.store.getRun(run.id);
      return !fresh || isTerminalRunStatus(fresh.status);
    };
    yield* followEvents(this.d.store, this.d.bus, { filter: { runId: run.id }, matches: (ev) => ev.run_id === run.id, afterSeq: after, follow, signal, finished });
  }

  async *streamOutput(ref: string, resume: string | null, follow: boolean, signal: AbortSignal): AsyncGenerator<OutputChunk> {
    yield* streamOutput(this.d.store, this.d.bus, await this.resolveRun(ref), resume, follow, signal);
  }

  async openOutput(ref: string, resume: string | null, follow: boolean, signal: AbortSignal): Promise<AsyncGenerator<RawOutputChunk>> {
    return outputChunks(this.d.store, this.d.bus, await this.resolveRun(ref), resume, follow, signal);
  }

  async tail(ref: string, lines: number): Promise<TailView | null> {
    return tailOf(this.d.store, await this.resolveRun(ref), lines);
  }
}
