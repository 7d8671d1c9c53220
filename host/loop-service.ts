// The host side of the API: validates requests, creates runs, answers queries, and streams
// events and agent output. Persistence goes through the store; scheduling through the dispatcher.
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { buildAgentCommand } from '../core/agents/adapters.js';
import { containment } from '../core/agents/process.js';
import { lastLines, resolveRunDirs, type RunDirs } from '../core/artifacts.js';
import { isTextPlan, ledgerCounts, ledgerFromPlan, type LedgerTask } from '../core/ledger.js';
import { fixFor } from '../core/agents/errors.js';
import { parsePriceOverrides, PriceTableError } from '../core/agents/prices.js';
import { readTail } from '../core/logfile.js';
import { suggestRunName } from '../core/run-name.js';
import { chooseProvider, findOnPath } from '../core/worktree.js';
import { composePrompt } from '../functions/implementation.js';
import { ConfigError, resolveConfig, type LoopConfig } from '../core/config.js';
import { detectBaseBranch, findRepoRoot, GitError, listBranches, listWorktrees } from '../core/git.js';
import { assertBranchName } from '../core/ref-name.js';
import { dedupeName, defaultPlanPath, renderTemplate, slugify, specSlug } from '../core/naming.js';
import { isTerminalRunStatus, type RunStatus } from '../core/types.js';
import type { EventBus } from './bus.js';
import { outputChunks, type RawOutputChunk } from './output-stream.js';
import { reviewView } from './review-view.js';
import { Dispatcher, parseConfig } from './dispatcher.js';
import { whenFree } from './busy.js';
import { DEFAULT_RUNS_PAGE, UserError, type ListRunsFilter, type LoopService, type WorkspaceWatcher } from './service.js';
import type { EventRow, RunRow, StepRow, Store } from './store.js';
import type { CreateRunInput, DaemonStatus, EventView, EventWindow, OutputChunk, PromptPreview, RunDetail, RunView, StepView, TailView, WorkspaceView } from './views.js';

export interface ServiceDeps {
  store: Store;
  bus: EventBus;
  dispatcher: Dispatcher;
  home: string;
  version: string;
  host: string;
  port: () => number;
  startedAt: number;
  maxConcurrency: number;
  onStop: (opts: { drain?: boolean }) => void;
}

interface PreparedRun {
  id: string;
  root: string;
  config: LoopConfig;
  warnings: string[];
  specRel: string;
  planRel: string | null;
  base: string;
  branches: Set<string>;
  slug: string;
  name: string;
  nameSource: 'explicit' | 'spec_slug' | 'haiku';
  nameNote: string | null;
  mergeTarget: string | null;
  dirs: RunDirs;
  provider: { provider: 'git' | 'worktrunk'; reason: string };
  specText: string;
  planText: string | null;
  ledger: LedgerTask[];
}

const TERMINAL_EVENTS = new Set(['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELED']);
const TAIL_WINDOW_BYTES = 1024 * 1024;
/** C0 and C1 controls, DEL and the Unicode line separators: nothing a name needs. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const toUserError = (msg: string): Error => new UserError(msg);

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

/**
 * The real path of a file the run will use, which must be a regular file inside the repository:
 * a committed symlink pointing elsewhere would let the agent write through it.
 */
function realInside(root: string, abs: string, shown: string, what: string): string {
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new UserError(`${what} file not found: ${shown}`);
  const real = realpathSync(abs);
  const realRoot = realpathSync(root);
  if (!isInside(realRoot, real)) {
    const via = real !== abs ? ` (it resolves to ${real})` : '';
    throw new UserError(`${what} ${shown} is outside the repository ${realRoot}${via}: spec, plan and context files must live inside it`);
  }
  return real;
}

/** A plan with nothing left to do would "complete" at once: refuse it, saying why. */
function refuseNothingToDo(planRel: string, text: string, ledger: readonly LedgerTask[]): void {
  if (!isTextPlan(text)) throw new UserError(`nothing to do: plan ${planRel} is not a text file, so it has no task to work on`);
  if (ledger.length === 0) {
    throw new UserError(`nothing to do: plan ${planRel} has no task checkbox ("- [ ] ...") outside verification/QA sections; add the open tasks`);
  }
  const c = ledgerCounts(ledger);
  if (c.open === 0) throw new UserError(`nothing to do: every task in plan ${planRel} is already done (${c.total} of ${c.total}); add an open "- [ ]" task`);
}

// Moved to output-stream.ts with the reading of logs; kept importable from here.
export { completeUtf8Length } from './output-stream.js';

export class HostLoopService implements LoopService {
  constructor(private readonly d: ServiceDeps) {}

  status(): DaemonStatus {
    return {
      pid: process.pid,
      version: this.d.version,
      host: this.d.host,
      port: this.d.port(),
      home: this.d.home,
      startedAt: this.d.startedAt,
      uptimeMs: Date.now() - this.d.startedAt,
      maxConcurrency: this.d.maxConcurrency,
      runs: this.d.dispatcher.runStatusCounts(),
      containment: containment(),
    };
  }

  requestStop(opts: { drain?: boolean } = {}): void {
    // Answer the request first, then stop.
    setTimeout(() => this.d.onStop(opts), 20);
  }

  private watcher: WorkspaceWatcher | null = null;

  attachWatcher(w: WorkspaceWatcher): void {
    this.watcher = w;
  }

  private async workspaceRoot(path: string): Promise<string> {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new UserError(`directory not found: ${path}`);
    try {
      return await findRepoRoot(abs);
    } catch (e) {
      throw new UserError(e instanceof Error ? e.message : String(e));
    }
  }

  private workspaceView(root: string): WorkspaceView {
    const row = this.d.store.getWorkspace(root);
    return {
      root,
      watched: row?.watched === 1,
      runs: this.d.store.countRuns(root),
      specs: this.d.store.listSpecFiles(root).map((f) => ({ path: f.path, status: f.status, lastRunId: f.last_run_id, updatedAt: f.updated_at })),
      createdAt: row?.created_at ?? 0,
      updatedAt: row?.updated_at ?? 0,
    };
  }

  async watchWorkspace(path: string): Promise<WorkspaceView & { recorded: number; alreadyWatched: boolean }> {
    if (!this.watcher) throw new UserError('this daemon runs without the spec watcher');
    const root = await this.workspaceRoot(path);
    const r = await this.watcher.watch(root);
    return { ...this.workspaceView(root), recorded: r.recorded, alreadyWatched: r.alreadyWatched };
  }

  async unwatchWorkspace(path: string): Promise<WorkspaceView> {
    const root = await this.workspaceRoot(path);
    const row = this.d.store.getWorkspace(root);
    if (!row || row.watched !== 1) throw new UserError(`${root} is not watched (see loopctl workspaces)`, 'NOT_FOUND');
    if (this.watcher) await this.watcher.unwatch(root);
    else this.d.store.setWatched(root, false);
    return this.workspaceView(root);
  }

  listWorkspaces(): WorkspaceView[] {
    return this.d.store.listWorkspaces().map((w) => this.workspaceView(w.root));
  }

  async listWorkspaceEvents(path: string, afterSeq: number, limit: number, window: EventWindow = {}): Promise<EventView[]> {
    const root = await this.workspaceRoot(path);
    const after = Math.max(afterSeq, this.d.store.eventsWindowStart({ workspace: root }, window));
    return this.d.store.eventsAfter({ workspace: root, afterSeq: after, limit }).map((row) => this.eventView(row));
  }

  async *streamWorkspaceEvents(path: string, afterSeq: number, follow: boolean, signal: AbortSignal, window: EventWindow = {}): AsyncGenerator<EventView> {
    const root = await this.workspaceRoot(path);
    const after = Math.max(afterSeq, this.d.store.eventsWindowStart({ workspace: root }, window));
    yield* this.followEvents({ workspace: root }, (ev) => ev.workspace_root === root, after, follow, signal);
  }


  // ---- runs ---------------------------------------------------------------------------------

  /**
   * Validates a run request and works out everything the run will be, without creating anything.
   * Shared by createRun and previewPrompt so both see exactly the same run.
   */
  private async prepareRun(input: CreateRunInput, opts: { suggestName: boolean }): Promise<PreparedRun> {
    if (!isAbsolute(input.cwd)) throw new UserError(`cwd must be an absolute path, got "${input.cwd}"`);
    if (!existsSync(input.cwd)) throw new UserError(`directory not found: ${input.cwd}`);
    let root: string;
    try {
      root = await findRepoRoot(input.cwd);
    } catch (e) {
      throw new UserError(e instanceof Error ? e.message : String(e));
    }
    const specAbs = realInside(root, resolve(input.cwd, input.spec), input.spec, 'spec');

    let config: LoopConfig;
    let warnings: string[];
    try {
      const env: NodeJS.ProcessEnv = {};
      if (input.loopConfig) env.LOOP_CONFIG = resolve(input.cwd, input.loopConfig);
      const resolved = resolveConfig({
        workspaceRoot: root,
        env,
        ...(input.configFile ? { configFile: resolve(input.cwd, input.configFile) } : {}),
        flags: { ...(input.flags ?? {}) },
      });
      config = resolved.config;
      warnings = resolved.warnings;
    } catch (e) {
      if (e instanceof ConfigError) throw new UserError(e.message);
      throw e;
    }
    if (config.agent === 'command' && config.agent_cmd.trim() === '') {
      throw new UserError('agent=command needs agent_cmd: set agent_cmd in .loop/config or pass --agent-cmd "your command"');
    }
    const reviewerKind = config.reviewer_agent || config.agent;
    if (config.reviewer && reviewerKind === 'command' && (config.reviewer_cmd || config.agent_cmd).trim() === '') {
      throw new UserError('reviewer_agent=command needs reviewer_cmd (or agent_cmd): set it, or turn the reviewer off with reviewer=false');
    }
    // A missing agent CLI would otherwise surface only as exit 127 after every retry.
    for (const [role, kind] of [['agent', config.agent], ...(config.reviewer ? [['reviewer_agent', reviewerKind]] : [])] as const) {
      if (kind === 'command') continue;
      const bin = kind === 'claude' ? 'claude' : 'codex';
      if (!findOnPath(bin)) {
        throw new UserError(
          `${role}=${kind} but the "${bin}" CLI is not on the daemon's PATH: install it, or use ${role === 'agent' ? 'agent=command with agent_cmd' : 'reviewer_agent=command with reviewer_cmd'} (restart the daemon after changing PATH)`,
        );
      }
    }
    // Claude Code refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1: say so now,
    // not after the first iteration failed.
    const usesClaude = config.agent === 'claude' || (config.reviewer && reviewerKind === 'claude');
    if (usesClaude && process.getuid?.() === 0 && !process.env.IS_SANDBOX) {
      throw new UserError(`loopd runs as root and Claude Code refuses to skip permission prompts as root: ${fixFor('root_refused', 'claude')}`);
    }
    try {
      parsePriceOverrides(config.model_prices ?? '');
    } catch (e) {
      if (e instanceof PriceTableError) throw new UserError(e.message);
      throw e;
    }
    let provider: { provider: 'git' | 'worktrunk'; reason: string };
    try {
      provider = chooseProvider(config.worktree_provider);
    } catch (e) {
      throw new UserError(e instanceof Error ? e.message : String(e));
    }

    let planRel: string | null;
    if (input.plan) {
      const planAbs = realInside(root, resolve(input.cwd, input.plan), input.plan, 'plan');
      planRel = relative(realpathSync(root), planAbs);
    } else {
      const guess = defaultPlanPath(relative(realpathSync(root), specAbs), config.plans_dir);
      planRel = existsSync(resolve(root, guess)) ? relative(realpathSync(root), realInside(root, resolve(root, guess), guess, 'plan')) : null;
      if (planRel === null) warnings.push(`no plan at ${guess}: the run is plan-less and completes on the agent's token alone`);
    }
    const specRel = relative(realpathSync(root), specAbs);
    for (const f of config.context_files) realInside(root, isAbsolute(f) ? f : resolve(root, f), f, 'context file');
    const specText = readFileSync(specAbs, 'utf8');
    const planText = planRel === null ? null : readFileSync(resolve(root, planRel), 'utf8');
    const ledger = planText === null ? [] : ledgerFromPlan(planText);
    if (planRel !== null && planText !== null) refuseNothingToDo(planRel, planText, ledger);

    // Every branch the run will create or move, checked now rather than after the paid work.
    if (config.base_branch !== '') assertBranchName('base_branch', config.base_branch, toUserError);
    assertBranchName('run_branch_prefix', config.run_branch_prefix, toUserError, { prefix: true });

    let base: string;
    let branches: Set<string>;
    try {
      base = await detectBaseBranch(root, config.base_branch);
      branches = new Set(await listBranches(root));
    } catch (e) {
      if (e instanceof GitError) throw new UserError(e.message);
      throw e;
    }

    const slug = specSlug(specRel);
    let name: string;
    let nameSource: 'explicit' | 'spec_slug' | 'haiku' = 'spec_slug';
    let nameNote: string | null = null;
    if (input.name !== undefined) {
      name = input.name.trim();
      nameSource = 'explicit';
      if (name === '') throw new UserError('--name must not be empty');
      // Names are printed in tables and logs: a newline or an escape sequence would forge output.
      if (CONTROL_CHARS.test(name)) {
        throw new UserError(`run name ${JSON.stringify(name)} contains control characters (newlines, tabs, escape sequences): use plain text`);
      }
    } else if (config.run_naming_mode === 'explicit') {
      throw new UserError('run_naming_mode=explicit needs a name: pass --name NAME');
    } else if (config.run_naming_mode === 'haiku' && opts.suggestName) {
      // The naming agent gets a scratch directory: it must not be able to touch the user's checkout.
      const scratch = mkdtempSync(join(tmpdir(), 'loopd-name-'));
      const suggestion = await suggestRunName({
        agentCommand: buildAgentCommand({ kind: config.agent, agentCmd: config.agent_cmd, model: config.run_naming_model || config.model }),
        kind: config.agent,
        cwd: scratch,
        specText: readFileSync(specAbs, 'utf8'),
      }).finally(() => rmSync(scratch, { recursive: true, force: true }));
      if (suggestion.name) {
        name = suggestion.name;
        nameSource = 'haiku';
      } else {
        name = slug;
        nameNote = `haiku naming failed (${suggestion.reason}); using the spec slug`;
      }
    } else {
      name = slug;
    }
    const mergeTarget = config.merge_strategy === 'none' ? null : config.merge_target_branch || `agent/${slug}`;
    if (mergeTarget !== null) assertBranchName('merge_target_branch', mergeTarget, toUserError);
    if (mergeTarget !== null) {
      // Merging never touches a checkout, so a target checked out somewhere could never be updated:
      // say so now, not after hours of agent work.
      const holder = (await listWorktrees(root).catch(() => [])).find((w) => w.branch === mergeTarget);
      if (holder) {
        throw new UserError(
          `merge target "${mergeTarget}" is checked out at ${holder.path}; loopd never changes a checkout: pick another --merge-target, or check out a different branch there`,
        );
      }
    }
    const id = uuidv7();
    const dirs = resolveRunDirs({
      mode: config.artifact_mode,
      workspaceRoot: root,
      logDir: config.log_dir,
      globalLogDir: config.global_log_dir,
      home: this.d.home,
      runId: id,
    });
    return { id, root, config, warnings, specRel, planRel, base, branches, slug, name, nameSource, nameNote, mergeTarget, dirs, provider, specText, planText, ledger };
  }

  /**
   * Picks the name, branch and worktree path; synchronous so two requests cannot pick the same one.
   * Names are unique per workspace, so a name always means one run: a derived name (spec slug,
   * haiku) is de-duplicated like branches (`-2`, `-3`); an explicit --name that is taken is refused.
   */
  private placeRun(p: PreparedRun): { name: string; runBranch: string; worktreePath: string } {
    const store = this.d.store;
    let name = p.name;
    if (p.nameSource === 'explicit') {
      const holder = store.runNameTaken(p.root, name);
      if (holder) {
        throw new UserError(
          `a run named "${name}" already exists in ${p.root} (${store.shortRunId(holder.id)}, ${holder.status}): pick another --name`,
          'CONFLICT',
        );
      }
    } else {
      name = dedupeName(name, (n) => store.runNameTaken(p.root, n) !== undefined);
    }
    const runBranch = dedupeName(`${p.config.run_branch_prefix}${slugify(name)}`, (b) => p.branches.has(b) || store.runBranchTaken(p.root, b));
    let worktreePath: string;
    try {
      worktreePath = resolve(
        p.root,
        renderTemplate(p.config.worktree_path_template, {
          repo: basename(p.root),
          run_branch: runBranch,
          spec_slug: p.slug,
          name: slugify(name),
          run_id: p.id,
        }),
      );
    } catch (e) {
      throw new UserError(`worktree_path_template: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { name, runBranch, worktreePath };
  }

  /**
   * `inTx` runs inside the transaction that inserts the run: the watcher records "this spec
   * version made run X" atomically with the run, so a crash can never make it start twice.
   */
  async createRun(input: CreateRunInput, opts: { inTx?: (run: RunRow) => void } = {}): Promise<RunView> {
    const p = await this.prepareRun(input, { suggestName: true });
    const store = this.d.store;
    const { name, runBranch, worktreePath } = this.placeRun(p);
    if (p.provider.provider === 'git' && existsSync(worktreePath)) {
      throw new UserError(`worktree path ${worktreePath} already exists: remove it, or change worktree_path_template`);
    }
    // Only the insert waits for a database lock held by another process: the git and config work
    // above is not redone on every retry (host/busy.ts).
    const row = await whenFree(() =>
      store.tx(() => {
        store.ensureWorkspace(p.root);
        const r = store.insertRun({
          id: p.id,
          name,
          name_source: p.nameSource,
          status: 'PENDING',
          workspace_root: p.root,
          spec_path: p.specRel,
          plan_path: p.planRel,
          base_branch: p.base,
          run_branch: runBranch,
          merge_target_branch: p.mergeTarget,
          merge_strategy: p.config.merge_strategy,
          worktree_path: worktreePath,
          worktree_provider: p.provider.provider,
          config_json: JSON.stringify(p.config),
          origin: input.origin ?? 'api',
          run_dir: p.dirs.primary,
          global_run_dir: p.dirs.global,
        });
        store.appendEvent(p.id, null, 'RUN_CREATED', {
          name,
          nameSource: p.nameSource,
          spec: p.specRel,
          plan: p.planRel,
          runBranch,
          baseBranch: p.base,
          mergeTarget: p.mergeTarget,
          worktree: worktreePath,
          origin: r.origin,
        });
        store.insertRunTruth(p.id, p.specText, p.planText);
        if (p.ledger.length > 0) {
          store.saveLedger(p.id, p.ledger);
          store.appendEvent(p.id, null, 'LEDGER_CREATED', { plan: p.planRel, ...ledgerCounts(p.ledger) });
        }
        store.appendEvent(p.id, null, 'WORKTREE_PROVIDER', { provider: p.provider.provider, reason: p.provider.reason });
        if (p.nameNote) store.appendEvent(p.id, null, 'NAME_FALLBACK', { reason: p.nameNote });
        for (const w of p.warnings) store.appendEvent(p.id, null, 'CONFIG_WARNING', { message: w });
        opts.inTx?.(r);
        return r;
      }),
    );
    this.d.dispatcher.wake();
    return this.view(row);
  }

  async previewPrompt(input: CreateRunInput): Promise<PromptPreview> {
    const p = await this.prepareRun(input, { suggestName: false });
    const { name, runBranch, worktreePath } = this.placeRun(p);
    let prompt: string;
    try {
      prompt = composePrompt(
        {
          id: p.id,
          name,
          workspaceRoot: p.root,
          specPath: p.specRel,
          planPath: p.planRel,
          baseBranch: p.base,
          runBranch,
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

  pauseRun(ref: string): RunView {
    const run = this.resolveRun(ref);
    if (run.status === 'PAUSED') throw new UserError(`run ${run.name} (${this.d.store.shortRunId(run.id)}) is already paused: resume it with loopctl resume`, 'CONFLICT');
    if (isTerminalRunStatus(run.status)) {
      throw new UserError(`run ${run.name} (${this.d.store.shortRunId(run.id)}) already ended as ${run.status}: nothing to pause`, 'CONFLICT');
    }
    this.d.dispatcher.pause(run.id);
    return this.view(this.d.store.getRun(run.id)!);
  }

  resumeRun(ref: string, opts: { maxCostUsd?: number | undefined } = {}): RunView {
    const run = this.resolveRun(ref);
    if (opts.maxCostUsd !== undefined && (!Number.isFinite(opts.maxCostUsd) || opts.maxCostUsd < 0)) {
      throw new UserError(`invalid --max-cost-usd "${opts.maxCostUsd}": expected a number >= 0 (0 = no limit)`);
    }
    if (run.status !== 'PAUSED') {
      throw new UserError(`run ${run.name} (${this.d.store.shortRunId(run.id)}) is ${run.status}, not PAUSED: only a paused run can be resumed`, 'CONFLICT');
    }
    this.d.dispatcher.resume(run.id, opts.maxCostUsd !== undefined ? { maxCostUsd: opts.maxCostUsd } : {});
    return this.view(this.d.store.getRun(run.id)!);
  }

  listRuns(filter: ListRunsFilter): RunView[] {
    const ws = filter.workspace ? resolve(filter.workspace) : undefined;
    if (filter.cursor !== undefined && !this.d.store.getRun(filter.cursor)) {
      throw new UserError(`unknown cursor "${filter.cursor}": pass the full id of the last run of the previous page`, 'BAD_REQUEST');
    }
    return this.d.store
      .listRuns({
        ...(filter.status ? { status: filter.status } : {}),
        ...(ws ? { workspace: ws } : {}),
        limit: filter.limit ?? DEFAULT_RUNS_PAGE,
        ...(filter.cursor !== undefined ? { cursor: filter.cursor } : {}),
      })
      .map((r) => this.view(r));
  }

  resolveRun(ref: string): RunRow {
    const matches = this.d.store.findRuns(ref.trim());
    const first = matches[0];
    if (!first) throw new UserError(`no run matches "${ref}": use a run id, a unique id prefix or a run name (see loopctl list)`, 'NOT_FOUND');
    if (matches.length === 1) return first;
    // Never guess: an id prefix of several runs, or a name used in several workspaces (or, from
    // before names were unique per workspace, twice in one), gets the ids to choose from.
    const shown = matches.slice(0, 5).map((m) => `${this.d.store.shortRunId(m.id)} (${m.name}, ${m.status}, ${m.workspace_root})`);
    const more = matches.length > 5 ? `, and ${matches.length - 5} more` : '';
    const byId = matches.every((m) => m.id.startsWith(ref.trim()));
    const what = byId ? `the id prefix "${ref}"` : `the name "${ref}"`;
    throw new UserError(`${what} matches ${matches.length} runs: ${shown.join('; ')}${more}; give one of these ids`, 'CONFLICT');
  }

  getRun(ref: string): RunDetail {
    const run = this.resolveRun(ref);
    const steps = this.d.store.stepsForRun(run.id);
    return {
      ...this.view(run, steps),
      tasks: this.d.store.ledgerFor(run.id).map((t) => ({
        id: t.taskId,
        text: t.text,
        section: t.section,
        state: t.state,
        doneBeforeRun: t.doneBeforeRun,
        addedIteration: t.addedIteration,
        tickedIteration: t.tickedIteration,
      })),
      steps: steps.map(stepView),
      artifacts: this.d.store.artifactsForRun(run.id).map((a) => ({
        kind: a.kind,
        location: a.location,
        path: a.path,
        checksum: a.checksum,
        bytes: a.bytes,
        stepId: a.step_id,
      })),
      config: parseConfig(run) as unknown as Record<string, unknown>,
    };
  }

  async cancelRun(ref: string): Promise<RunView> {
    const run = this.resolveRun(ref);
    if (isTerminalRunStatus(run.status)) {
      throw new UserError(`run ${run.name} (${this.d.store.shortRunId(run.id)}) already ended as ${run.status}: nothing to cancel`, 'CONFLICT');
    }
    await this.d.dispatcher.cancel(run.id);
    return this.view(this.d.store.getRun(run.id)!);
  }

  view(run: RunRow, steps: StepRow[] = this.d.store.stepsForRun(run.id)): RunView {
    const last = steps[steps.length - 1];
    const lastImpl = [...steps].reverse().find((s) => s.phase === 'implementation' && s.result_json);
    const res = lastImpl?.result_json ? (JSON.parse(lastImpl.result_json) as Record<string, unknown>) : null;
    const ledger = this.d.store.ledgerSummary(run.id);
    // The newest plan count any phase took (implementation, review): review turns [x] into [R].
    let counted: Record<string, unknown> | null = null;
    for (let i = steps.length - 1; i >= 0 && counted === null; i--) {
      const json = steps[i]?.result_json;
      if (!json) continue;
      const parsed = JSON.parse(json) as Record<string, unknown>;
      if (typeof parsed.tasksTotal === 'number') counted = parsed;
    }
    return {
      id: run.id,
      shortId: this.d.store.shortRunId(run.id),
      name: run.name,
      nameSource: run.name_source,
      status: run.status,
      workspaceRoot: run.workspace_root,
      specPath: run.spec_path,
      planPath: run.plan_path,
      baseBranch: run.base_branch,
      runBranch: run.run_branch,
      mergeTargetBranch: run.merge_target_branch,
      mergeStrategy: run.merge_strategy,
      worktreePath: run.worktree_path,
      worktreeProvider: run.worktree_provider,
      origin: run.origin,
      exitReason: run.exit_reason,
      pauseReason: run.pause_reason,
      lastError: run.last_error,
      createdAt: run.created_at,
      updatedAt: run.updated_at,
      startedAt: run.started_at,
      endedAt: run.ended_at,
      iteration: last?.iteration ?? 0,
      phase: last?.phase ?? null,
      // The ledger is the truth; older runs without one fall back to what the last step counted.
      tasksDone: ledger && ledger.total > 0 ? ledger.total - ledger.open : typeof res?.tasksDone === 'number' ? res.tasksDone : null,
      tasksTotal: ledger && ledger.total > 0 ? ledger.total : typeof res?.tasksTotal === 'number' ? res.tasksTotal : null,
      tasksReviewed:
        typeof counted?.tasksDone === 'number' && typeof counted.unreviewedTasks === 'number'
          ? Math.max(0, counted.tasksDone - counted.unreviewedTasks)
          : null,
      completion: ledger?.completion ?? null,
      runDir: run.run_dir,
      globalRunDir: run.global_run_dir,
      costUsd: run.cost_usd,
      inputTokens: run.input_tokens,
      outputTokens: run.output_tokens,
      review: reviewView(this.d.store, run, steps),
    };
  }

  // ---- events -------------------------------------------------------------------------------

  listEvents(ref: string, afterSeq: number, limit: number, window: EventWindow = {}): EventView[] {
    const run = this.resolveRun(ref);
    const after = Math.max(afterSeq, this.d.store.eventsWindowStart({ runId: run.id }, window));
    return this.d.store.eventsAfter({ runId: run.id, afterSeq: after, limit }).map((row) => this.eventView(row));
  }

  lastEventSeq(): number {
    return this.d.store.lastEventSeq();
  }

  streamAllEvents(afterSeq: number, signal: AbortSignal): AsyncGenerator<EventView> {
    return this.followEvents({}, () => true, afterSeq, true, signal);
  }

  streamEvents(ref: string, afterSeq: number, follow: boolean, signal: AbortSignal, window: EventWindow = {}): AsyncGenerator<EventView> {
    const run = this.resolveRun(ref);
    afterSeq = Math.max(afterSeq, this.d.store.eventsWindowStart({ runId: run.id }, window));
    const done = () => {
      const fresh = this.d.store.getRun(run.id);
      return !fresh || isTerminalRunStatus(fresh.status);
    };
    return this.followEvents({ runId: run.id }, (ev) => ev.run_id === run.id, afterSeq, follow, signal, done);
  }

  /**
   * Replays stored events after `afterSeq`, then (when following) waits for new ones, woken by the
   * bus. A run's stream ends after its terminal event; a workspace's runs until the client leaves.
   */
  private async *followEvents(
    filter: { runId?: string; workspace?: string },
    matches: (ev: EventRow) => boolean,
    afterSeq: number,
    follow: boolean,
    signal: AbortSignal,
    finished: () => boolean = () => false,
  ): AsyncGenerator<EventView> {
    const waiter = new Waiter(signal);
    const onEvent = (ev: EventRow) => {
      if (matches(ev)) waiter.poke();
    };
    this.d.bus.on('event', onEvent);
    try {
      let cursor = afterSeq;
      while (!signal.aborted) {
        waiter.reset();
        const rows = this.d.store.eventsAfter({ ...filter, afterSeq: cursor, limit: 500 });
        let ended = false;
        for (const row of rows) {
          cursor = row.seq;
          yield this.eventView(row);
          if (filter.runId && TERMINAL_EVENTS.has(row.type)) ended = true;
        }
        if (rows.length === 500) continue;
        if (!follow || ended) return;
        if (rows.length === 0 && finished()) return;
        await waiter.wait(5000);
      }
    } finally {
      this.d.bus.off('event', onEvent);
    }
  }

  private eventView(row: EventRow): EventView {
    return eventViewOf(row, row.run_id ? this.d.store.shortRunId(row.run_id) : null);
  }

  // ---- output -------------------------------------------------------------------------------

  async *streamOutput(ref: string, resume: string | null, follow: boolean, signal: AbortSignal): AsyncGenerator<OutputChunk> {
    for await (const c of await this.openOutput(ref, resume, follow, signal)) {
      yield { stepId: c.stepId, iteration: c.iteration, phase: c.phase, attempt: c.attempt, offset: c.offset, chunk: c.bytes.toString('utf8') };
    }
  }

  async openOutput(ref: string, resume: string | null, follow: boolean, signal: AbortSignal): Promise<AsyncGenerator<RawOutputChunk>> {
    const run = this.resolveRun(ref);
    const { store, bus } = this.d;
    return outputChunks({ bus, steps: (id) => store.stepsForRun(id), runStatus: (id) => store.getRun(id)?.status ?? null }, run.id, resume, follow, signal);
  }

  tail(ref: string, lines: number): TailView | null {
    const run = this.resolveRun(ref);
    const step = [...this.d.store.stepsForRun(run.id)].reverse().find((s) => s.output_path && existsSync(s.output_path));
    if (!step) return null;
    // The last lines come from the end of the log only: it may be gigabytes (or one huge line).
    const { text, size } = readTail(step.output_path!, TAIL_WINDOW_BYTES);
    return {
      stepId: step.id,
      iteration: step.iteration,
      phase: step.phase,
      attempt: step.attempt,
      path: step.output_path!,
      text: lastLines(text, lines),
      agent: agentOf(parseConfig(run), step.phase),
      offset: size,
    };
  }
}

function agentOf(cfg: LoopConfig, phase: string): string | null {
  if (phase === 'implementation') return cfg.agent;
  if (phase === 'review') return cfg.reviewer_agent || cfg.agent;
  return null;
}

function eventViewOf(row: EventRow, runShortId: string | null): EventView {
  return {
    seq: row.seq,
    runId: row.run_id,
    runShortId,
    stepId: row.step_id,
    type: row.type,
    ts: row.ts,
    payload: JSON.parse(row.payload_json) as Record<string, unknown>,
  };
}

function stepView(s: StepRow): StepView {
  return {
    id: s.id,
    phase: s.phase,
    status: s.status,
    iteration: s.iteration,
    attempt: s.attempt,
    exitCode: s.exit_code,
    promptPath: s.prompt_path,
    outputPath: s.output_path,
    error: s.error,
    startedAt: s.started_at,
    endedAt: s.ended_at,
    result: s.result_json ? (JSON.parse(s.result_json) as Record<string, unknown>) : null,
    costUsd: s.cost_usd ?? null,
    inputTokens: s.input_tokens ?? null,
    outputTokens: s.output_tokens ?? null,
    costSource: s.cost_source ?? null,
  };
}

/** A one-shot wake-up that never misses a poke made between reset() and wait(). */
class Waiter {
  private dirty = false;
  private resolveFn: (() => void) | null = null;
  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.poke(), { once: true });
  }
  reset(): void {
    this.dirty = false;
  }
  poke(): void {
    this.dirty = true;
    const r = this.resolveFn;
    this.resolveFn = null;
    r?.();
  }
  wait(maxMs: number): Promise<void> {
    if (this.dirty || this.signal.aborted) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(() => {
        this.resolveFn = null;
        res();
      }, maxMs);
      this.resolveFn = () => {
        clearTimeout(t);
        res();
      };
    });
  }
}
