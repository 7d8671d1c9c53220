// The spec-drop trigger: watches `<root>/<specs_dir>` and `<root>/<plans_dir>` of every registered
// workspace and turns a new spec into a run with origin `watch`.
//
// Durable truth is the `spec_files` table (what was seen, with which content hash, and which run it
// made), so the rules survive restarts: a spec is compared with its row, never with in-memory state.
// Decisions for one file are serialized on a promise chain, and the row update that says "this
// content made run X" commits in the same transaction as the run (createRun's inTx). Together those
// make one save, however an editor performs it, produce at most one run.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import { ConfigError, defaultConfig, resolveConfig, type LoopConfig } from '../core/config.js';
import { defaultPlanPath } from '../core/naming.js';
import type { HostLoopService } from '../host/loop-service.js';
import { UserError, type WorkspaceWatcher } from '../host/service.js';
import type { Store } from '../host/store.js';
import { whenFree } from '../host/busy.js';
import { isInterestingFile, isSpecCandidate, specStatus } from './spec-rules.js';

export interface TriggerHost {
  store: Store;
  createRun: HostLoopService['createRun'];
  log: (msg: string) => void;
}

export interface SpecWatcherOptions {
  /**
   * How long a spec (or plan) must keep its size and mtime before it is read (default
   * DEFAULT_STABILITY_MS). A write in between restarts the wait.
   */
  stabilityMs?: number;
  /** Replaces trigger_plan_wait_sec (tests). */
  planWaitMsOverride?: number;
}

type PlanWaitOutcome = 'arrived' | 'timeout' | 'aborted';

interface PlanWait {
  planAbs: string;
  finish: (outcome: PlanWaitOutcome) => void;
}

interface Workspace {
  root: string;
  specsAbs: string;
  plansAbs: string;
  watcher: FSWatcher;
  ready: Promise<void>;
  markReady: () => void;
  waits: Set<PlanWait>;
  closed: boolean;
}

/** Why a decision is being made: a file event, or a scan at start-up (the file may be new while down). */
type Origin = 'event' | 'restart';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // Deleted (or replaced by a directory) between the event and the read: nothing to decide.
    return null;
  }
}

/**
 * A write in progress shows in the size or the mtime (nanoseconds where the file system has them),
 * so two equal signatures stabilityMs apart mean nobody wrote in between. 50 ms: a writer that
 * pauses longer than that mid-file is rare, and the spec is then also decided by its hash, so a
 * later complete version of it is still a change the rules see (trigger_on_change).
 */
export const DEFAULT_STABILITY_MS = 50;

/** Size and mtime of a file, or null when it is gone or not a file. */
function signature(path: string): string | null {
  return fileState(path)?.sig ?? null;
}

/**
 * The signature, and whether the mtime alone already proves the file quiet for `quietMs`: last
 * written longer ago than that, by a file system with sub-second mtimes (a whole-second mtime may
 * be one that was rounded down, so it proves nothing and the window is waited out).
 */
function fileState(path: string, quietMs = 0): { sig: string; quiet: boolean } | null {
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isFile()) return null;
    const fine = st.mtimeNs % 1_000_000_000n !== 0n;
    const ageMs = Date.now() - Number(st.mtimeNs / 1_000_000n);
    return { sig: `${st.size}:${st.mtimeNs}`, quiet: quietMs > 0 && fine && ageMs >= quietMs };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class SpecWatcher implements WorkspaceWatcher {
  private readonly store: Store;
  private readonly stabilityMs: number;
  private readonly workspaces = new Map<string, Workspace>();
  /** Per (root, path) tail of the decision chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private started = false;
  private stopped = false;

  constructor(
    private readonly host: TriggerHost,
    private readonly opts: SpecWatcherOptions = {},
  ) {
    this.store = host.store;
    this.stabilityMs = opts.stabilityMs ?? DEFAULT_STABILITY_MS;
  }

  // ---- public API ---------------------------------------------------------------------------

  /** Watches every workspace marked watched in the store; specs added while the daemon was down start runs now. */
  async start(): Promise<void> {
    if (this.stopped) throw new Error('the spec watcher was stopped');
    if (this.started) return;
    this.started = true;
    for (const w of this.store.listWorkspaces({ watched: true })) {
      try {
        await this.resume(w.root);
      } catch (e) {
        // One broken workspace (deleted folder, unreadable config) must not keep the others unwatched.
        this.host.log(`watch: cannot watch ${w.root}: ${message(e)}`);
      }
    }
  }

  /**
   * Registers (store.setWatched(root, true)) and watches root. First registration: existing specs
   * are recorded (status 'recorded', TRIGGER_SKIPPED reason 'present_when_watched'), not run.
   * Re-registering an already watched root is a no-op apart from returning.
   */
  async watch(rootIn: string): Promise<{ root: string; recorded: number; alreadyWatched: boolean }> {
    if (this.stopped) throw new Error('the spec watcher was stopped');
    if (!isAbsolute(rootIn)) throw new UserError(`workspace root must be an absolute path, got "${rootIn}"`);
    const root = resolve(rootIn);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`directory not found: ${root}`);
    if (this.workspaces.has(root)) return { root, recorded: 0, alreadyWatched: true };
    if (this.store.getWorkspace(root)?.watched === 1) {
      // Registered (by an earlier daemon) but not watched by this one yet, e.g. watch() before
      // start(): behave as start() would, so specs added meanwhile are not silently recorded.
      await this.resume(root);
      return { root, recorded: 0, alreadyWatched: true };
    }
    // Fail before registering: a workspace whose config cannot be read would only produce
    // config_error skips, and the user is right there to fix it.
    let config: LoopConfig;
    try {
      config = resolveConfig({ workspaceRoot: root, env: {} }).config;
    } catch (e) {
      if (e instanceof ConfigError) throw new UserError(`cannot watch ${root}: ${e.message}`);
      throw e;
    }
    this.store.setWatched(root, true);
    const ws = this.open(root, config);
    await ws.ready;
    // After the watcher is ready, so a spec dropped during registration is either recorded here or
    // seen as new by the watcher; the per-file chain and hash check keep it to one outcome.
    const outcomes = await Promise.all(this.scan(ws).map((abs) => this.enqueue(root, abs, () => this.recordPresent(ws, abs))));
    const recorded = outcomes.filter(Boolean).length;
    this.host.log(`watch: watching ${root} (${recorded} existing spec(s) recorded)`);
    return { root, recorded, alreadyWatched: false };
  }

  /** setWatched(false) and close its chokidar watchers; pending plan waits are dropped. */
  async unwatch(rootIn: string): Promise<void> {
    const root = resolve(rootIn);
    if (this.store.getWorkspace(root)) this.store.setWatched(root, false);
    const ws = this.workspaces.get(root);
    if (!ws) return;
    await this.close(ws);
    this.host.log(`watch: stopped watching ${root}`);
  }

  /** Closes everything (daemon shutdown); registrations stay in the store. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.workspaces.values()].map((ws) => this.close(ws)));
    // Let decisions already past their last await (e.g. inside createRun) finish before the
    // caller closes the store under them.
    await Promise.allSettled([...this.chains.values()]);
  }

  /** Resolves once no decision is in progress or waiting (plan waits count as in progress). */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  watchedRoots(): string[] {
    return [...this.workspaces.keys()].sort();
  }

  // ---- watching -----------------------------------------------------------------------------

  /** Watches an already registered root and decides on whatever changed while nobody watched. */
  private async resume(root: string): Promise<void> {
    if (this.workspaces.has(root)) return;
    let config: LoopConfig;
    try {
      config = resolveConfig({ workspaceRoot: root, env: {} }).config;
    } catch (e) {
      // Still watch (the defaults' folders): every decision re-reads the config and reports
      // config_error, which is where the user will look.
      this.host.log(`watch: ${root}: ${message(e)}; watching the default folders`);
      config = defaultConfig();
    }
    const ws = this.open(root, config);
    await ws.ready;
    // Not awaited: a spec waiting for its plan must not hold up daemon start-up.
    for (const abs of this.scan(ws)) void this.enqueue(root, abs, () => this.decide(ws, abs, 'restart'));
  }

  private open(root: string, config: LoopConfig): Workspace {
    const specsAbs = resolve(root, config.specs_dir);
    const plansAbs = resolve(root, config.plans_dir);
    const watcher = chokidarWatch(specsAbs === plansAbs ? [specsAbs] : [specsAbs, plansAbs], {
      // The scan in watch()/resume() decides on what is already there, with the registration
      // rules; chokidar's own initial adds would all look like new specs.
      ignoreInitial: true,
      // No awaitWriteFinish: its fixed threshold and 50 ms polling put ~350 ms on every spec.
      // Half-written files are held back by settled(), before each decision reads the file.
      // Rename-saves (temp file + rename over) then arrive as one `change` of the target.
      atomic: true,
      // Never ignore directories (a specs/ created later must still be entered); without stats we
      // cannot tell, so only a known file is filtered. No `depth`: with depth 0 chokidar 6 does not
      // report files in a folder created after watch(); subfolders are filtered by isSpecCandidate.
      ignored: (p, st) => st !== undefined && st.isFile() && !isInterestingFile(p),
    });
    let markReady!: () => void;
    const ready = new Promise<void>((r) => (markReady = r));
    const ws: Workspace = { root, specsAbs, plansAbs, watcher, ready, markReady, waits: new Set(), closed: false };
    watcher.on('ready', () => markReady());
    watcher.on('add', (p) => this.onFile(ws, p));
    watcher.on('change', (p) => this.onFile(ws, p));
    watcher.on('error', (e) => this.host.log(`watch: ${root}: watcher error: ${message(e)}`));
    this.workspaces.set(root, ws);
    return ws;
  }

  private async close(ws: Workspace): Promise<void> {
    if (ws.closed) return;
    ws.closed = true;
    if (this.workspaces.get(ws.root) === ws) this.workspaces.delete(ws.root);
    for (const w of [...ws.waits]) w.finish('aborted');
    // Closed before chokidar was ready: nobody awaiting `ready` may hang.
    ws.markReady();
    await ws.watcher.close();
  }

  private onFile(ws: Workspace, abs: string): void {
    if (ws.closed) return;
    // A plan's arrival ends its spec's wait; `add` fires only once the plan is fully written.
    for (const w of [...ws.waits]) if (w.planAbs === abs) w.finish('arrived');
    if (isSpecCandidate(abs, ws.specsAbs, ws.plansAbs)) {
      // A decision that met another process's database lock is taken again once it is free: it
      // goes by the content hash, so a run already created is not created twice.
      void this.enqueue(ws.root, abs, () => whenFree(() => this.decide(ws, abs, 'event')));
    }
  }

  /**
   * Waits until the file holds still: the same size and mtime stabilityMs apart. False when it
   * disappeared or the workspace closed meanwhile. An empty spec counts as not written yet: editors
   * and `>` redirections create the file before writing it, and the next write brings an event.
   */
  private async settled(ws: Workspace, abs: string, allowEmpty = false): Promise<boolean> {
    // A file last written longer than the window ago (a plan written before its spec, a spec found
    // at start-up) is settled without waiting.
    const first = fileState(abs, this.stabilityMs);
    if (first?.quiet && !ws.closed) return allowEmpty || !first.sig.startsWith('0:');
    let before = first?.sig ?? null;
    for (;;) {
      if (before === null || ws.closed) return false;
      await sleep(this.stabilityMs);
      if (ws.closed) return false;
      const now = signature(abs);
      if (now === before) return allowEmpty || !now.startsWith('0:');
      before = now;
    }
  }

  /** The spec candidates directly in the workspace's specs folder. */
  private scan(ws: Workspace): string[] {
    let names: string[];
    try {
      names = readdirSync(ws.specsAbs, { withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => d.name);
    } catch {
      return []; // no specs folder yet: the watcher reports it when it appears
    }
    return names
      .map((n) => join(ws.specsAbs, n))
      .filter((abs) => isSpecCandidate(abs, ws.specsAbs, ws.plansAbs))
      .sort();
  }

  // ---- serialization ------------------------------------------------------------------------

  /** Runs fn after every earlier decision about the same file; counts it for idle(). */
  private enqueue<T>(root: string, abs: string, fn: () => Promise<T>): Promise<T | undefined> {
    const key = `${root}\0${abs}`;
    this.inflight++;
    const run = (this.chains.get(key) ?? Promise.resolve()).then(fn).catch((e: unknown) => {
      // A bug or a closed store must not break the chain for the next event of this file.
      this.host.log(`watch: ${relative(root, abs)}: ${message(e)}`);
      return undefined;
    });
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
      this.inflight--;
      if (this.inflight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    return run;
  }

  // ---- decisions ----------------------------------------------------------------------------

  private skip(root: string, rel: string, reason: string, row?: { content_hash: string; status: string }): void {
    this.store.tx(() => {
      if (row) this.store.upsertSpecFile({ workspace_root: root, path: rel, content_hash: row.content_hash, status: row.status });
      this.store.appendEvent(null, null, 'TRIGGER_SKIPPED', { spec: rel, reason }, root);
    });
    this.host.log(`watch: ${root}: ${rel} skipped (${reason})`);
  }

  /** First registration: remember the spec as it is now, without running it. True if recorded. */
  private async recordPresent(ws: Workspace, abs: string): Promise<boolean> {
    if (ws.closed) return false;
    const rel = relative(ws.root, abs);
    const content = readText(abs);
    if (content === null) return false;
    const hash = sha256(content);
    const row = this.store.getSpecFile(ws.root, rel);
    if (row && row.content_hash === hash && row.status !== 'waiting_plan') return false;
    // A draft keeps its draft status, so finishing it later starts it like any other draft would
    // ("a Draft does not start until its status changes"); everything else is just recorded.
    const status = specStatus(content) === 'draft' ? 'draft' : 'recorded';
    this.skip(ws.root, rel, 'present_when_watched', { content_hash: hash, status });
    return true;
  }

  private async decide(ws: Workspace, abs: string, origin: Origin): Promise<void> {
    if (!(await this.settled(ws, abs))) return;
    const root = ws.root;
    const rel = relative(root, abs);
    const content = readText(abs);
    if (content === null) return;
    const hash = sha256(content);
    const row = this.store.getSpecFile(root, rel);
    // The same content was already decided on: duplicate events of one save end here. Exceptions:
    // a row left waiting for its plan (daemon stopped mid-wait) is an unfinished decision, and a
    // 'skipped' row is a spec deleted mid-wait, so the same text coming back is a new spec.
    if (row && row.content_hash === hash && row.status !== 'waiting_plan' && row.status !== 'skipped') return;

    let config: LoopConfig;
    try {
      config = resolveConfig({ workspaceRoot: root, env: {} }).config;
    } catch (e) {
      // The row is left alone, so the spec is decided again once the config is fixed and the
      // spec is touched or the daemon restarts.
      this.skip(root, rel, `config_error: ${message(e)}`);
      return;
    }
    // The config may have moved specs_dir since the watcher was set up.
    if (!isSpecCandidate(abs, resolve(root, config.specs_dir), resolve(root, config.plans_dir))) return;

    const declared = specStatus(content);
    let reason: string;
    if (row && row.status !== 'waiting_plan' && (row.last_run_id !== null || row.status === 'recorded')) {
      const why = row.last_run_id !== null ? 'already_ran' : 'present_when_watched';
      if (!config.trigger_on_change) {
        this.skip(root, rel, why, { content_hash: hash, status: row.status });
        return;
      }
      reason = 'changed';
    } else if (!row) {
      reason = origin === 'restart' ? 'added_while_down' : 'new';
    } else if (row.status === 'waiting_plan') {
      reason = 'resumed';
    } else if (row.status === 'draft' || row.status === 'complete') {
      reason = 'status_changed';
    } else {
      reason = 'retry'; // an earlier attempt failed (status 'error'), and the spec was edited since
    }

    if (declared !== 'other') {
      // draft → 'draft', complete → 'complete' (both a status and a reason).
      this.skip(root, rel, declared, { content_hash: hash, status: declared });
      return;
    }
    await this.fire(ws, abs, rel, hash, reason, config);
  }

  private async fire(ws: Workspace, abs: string, rel: string, hashIn: string, reason: string, config: LoopConfig): Promise<void> {
    const root = ws.root;
    let hash = hashIn;
    const planRel = defaultPlanPath(rel, config.plans_dir);
    const planAbs = resolve(root, planRel);
    if (!existsSync(planAbs)) {
      const waitMs = this.opts.planWaitMsOverride ?? config.trigger_plan_wait_sec * 1000;
      if (waitMs > 0) {
        const until = Date.now() + waitMs;
        this.store.tx(() => {
          this.store.upsertSpecFile({ workspace_root: root, path: rel, content_hash: hash, status: 'waiting_plan' });
          this.store.appendEvent(null, null, 'TRIGGER_WAITING', { spec: rel, plan: planRel, until }, root);
        });
        this.host.log(`watch: ${root}: ${rel} waits up to ${waitMs} ms for ${planRel}`);
        const outcome = await this.waitForPlan(ws, planAbs, waitMs);
        // Unwatched or stopped: the row stays 'waiting_plan', so a later start() finishes the job.
        if (outcome === 'aborted' || ws.closed) return;
        // The spec may have been edited (or deleted) while we waited; decide on what is there now.
        const content = readText(abs);
        if (content === null) {
          this.skip(root, rel, 'deleted', { content_hash: hash, status: 'skipped' });
          return;
        }
        hash = sha256(content);
        const declared = specStatus(content);
        if (declared !== 'other') {
          this.skip(root, rel, declared, { content_hash: hash, status: declared });
          return;
        }
      }
    }
    // The plan is snapshotted with the run: it must be whole too (it may have just arrived).
    const plan = existsSync(planAbs) && (await this.settled(ws, planAbs, true)) ? planAbs : undefined;
    if (ws.closed) return;
    const planless = plan === undefined;
    try {
      const run = await this.host.createRun(
        { cwd: root, spec: abs, plan, origin: 'watch' },
        {
          // Same transaction as the run: a crash can neither lose the run's record here (and start
          // the spec twice after a restart) nor record a run that was never created.
          inTx: (r) => {
            this.store.upsertSpecFile({ workspace_root: root, path: rel, content_hash: hash, status: 'triggered', last_run_id: r.id });
            this.store.appendEvent(r.id, null, 'TRIGGER_FIRED', { spec: rel, plan: planless ? null : planRel, reason, planless }, root);
          },
        },
      );
      this.host.log(`watch: ${root}: ${rel} started run ${run.name} (${run.id.slice(0, 8)}, ${reason}${planless ? ', plan-less' : ''})`);
    } catch (e) {
      // A plan with nothing left to do is a decision, not a failure: the reason says it all.
      const why = message(e);
      if (why.startsWith('nothing to do:')) this.skip(root, rel, why, { content_hash: hash, status: 'skipped' });
      else this.skip(root, rel, `error: ${why}`, { content_hash: hash, status: 'error' });
    }
  }

  /** Resolves when the plan appears, the wait times out, or the workspace is closed. */
  private waitForPlan(ws: Workspace, planAbs: string, waitMs: number): Promise<PlanWaitOutcome> {
    return new Promise((res) => {
      let timer: NodeJS.Timeout | undefined;
      const wait: PlanWait = {
        planAbs,
        finish: (outcome) => {
          if (!ws.waits.delete(wait)) return;
          clearTimeout(timer);
          res(outcome);
        },
      };
      ws.waits.add(wait);
      timer = setTimeout(() => wait.finish('timeout'), waitMs);
      // Registered first, checked second: a plan written between the caller's check and the
      // registration would otherwise only be noticed at the timeout.
      if (existsSync(planAbs)) wait.finish('arrived');
    });
  }
}
