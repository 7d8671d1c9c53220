// The spec-drop trigger: watches `<root>/<specs_dir>` and `<root>/<plans_dir>` of every registered
// workspace and turns a new spec into a run with origin `watch`.
//
// This file does the watching (chokidar, registration, start-up scans); the decisions on a file are
// in spec-decisions.ts, serialized per file by chains.ts. The trigger depends on an interface
// (TriggerHost: a LoopStore and a createRun function), not on the host's classes.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import { ConfigError, defaultConfig, type LoopConfig } from '../core/config.js';
import { workspaceConfig } from '../core/workspace-config.js';
import { whenFree } from '../host/busy.js';
import { UserError, type WorkspaceWatcher } from '../host/service.js';
import { DecisionChains } from './chains.js';
import { DEFAULT_STABILITY_MS, message } from './files.js';
import { SpecDecisions, type TriggerHost, type WatchedWorkspace } from './spec-decisions.js';
import { isInterestingFile, isSpecCandidate } from './spec-rules.js';

export { DEFAULT_STABILITY_MS } from './files.js';
export type { TriggerHost } from './spec-decisions.js';

export interface SpecWatcherOptions {
  /**
   * How long a spec (or plan) must keep its size and mtime before it is read (default
   * DEFAULT_STABILITY_MS). A write in between restarts the wait.
   */
  stabilityMs?: number;
  /** Replaces trigger_plan_wait_sec (tests). */
  planWaitMsOverride?: number;
}

interface Workspace extends WatchedWorkspace {
  watcher: FSWatcher;
  ready: Promise<void>;
  markReady: () => void;
}

export class SpecWatcher implements WorkspaceWatcher {
  private readonly decisions: SpecDecisions;
  private readonly workspaces = new Map<string, Workspace>();
  private readonly chains: DecisionChains;
  private started = false;
  private stopped = false;

  constructor(
    private readonly host: TriggerHost,
    opts: SpecWatcherOptions = {},
  ) {
    this.decisions = new SpecDecisions(host, opts.stabilityMs ?? DEFAULT_STABILITY_MS, opts.planWaitMsOverride);
    this.chains = new DecisionChains((key, e) => {
      const [root, abs] = key.split('\0') as [string, string];
      this.host.log(`watch: ${relative(root, abs)}: ${message(e)}`);
    });
  }

  // ---- public API ---------------------------------------------------------------------------

  /** Watches every workspace marked watched in the store; specs added while the daemon was down start runs now. */
  async start(): Promise<void> {
    if (this.stopped) throw new Error('the spec watcher was stopped');
    if (this.started) return;
    this.started = true;
    for (const w of await this.host.store.listWorkspaces({ watched: true })) {
      try {
        await this.resume(w.root);
      } catch (e) {
        // One broken workspace (deleted folder, unreadable config) must not keep the others unwatched.
        this.host.log(`watch: cannot watch ${w.root}: ${message(e)}`);
      }
    }
  }

  /**
   * Registers (setWatched(root, true)) and watches root. First registration: existing specs are
   * recorded (status 'recorded', TRIGGER_SKIPPED reason 'present_when_watched'), not run.
   * Re-registering an already watched root is a no-op apart from returning.
   */
  async watch(rootIn: string): Promise<{ root: string; recorded: number; alreadyWatched: boolean }> {
    if (this.stopped) throw new Error('the spec watcher was stopped');
    if (!isAbsolute(rootIn)) throw new UserError(`workspace root must be an absolute path, got "${rootIn}"`);
    const root = resolve(rootIn);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`directory not found: ${root}`);
    if (this.workspaces.has(root)) return { root, recorded: 0, alreadyWatched: true };
    if ((await this.host.store.getWorkspace(root))?.watched) {
      // Registered (by an earlier daemon) but not watched by this one yet, e.g. watch() before
      // start(): behave as start() would, so specs added meanwhile are not silently recorded.
      await this.resume(root);
      return { root, recorded: 0, alreadyWatched: true };
    }
    // Fail before registering: a workspace whose config cannot be read would only produce
    // config_error skips, and the user is right there to fix it.
    let config: LoopConfig;
    try {
      config = workspaceConfig(root);
    } catch (e) {
      if (e instanceof ConfigError) throw new UserError(`cannot watch ${root}: ${e.message}`);
      throw e;
    }
    await this.host.store.transaction(async (tx) => {
      await tx.ensureWorkspace(root);
      await tx.setWatched(root, true);
    });
    const ws = this.open(root, config);
    await ws.ready;
    // After the watcher is ready, so a spec dropped during registration is either recorded here or
    // seen as new by the watcher; the per-file chain and hash check keep it to one outcome.
    const outcomes = await Promise.all(this.scan(ws).map((abs) => this.enqueue(root, abs, () => this.decisions.recordPresent(ws, abs))));
    const recorded = outcomes.filter(Boolean).length;
    this.host.log(`watch: watching ${root} (${recorded} existing spec(s) recorded)`);
    return { root, recorded, alreadyWatched: false };
  }

  /** setWatched(false) and close its chokidar watchers; pending plan waits are dropped. */
  async unwatch(rootIn: string): Promise<void> {
    const root = resolve(rootIn);
    if (await this.host.store.getWorkspace(root)) await this.host.store.transaction((tx) => tx.setWatched(root, false));
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
    await this.chains.drain();
  }

  /** Resolves once no decision is in progress or waiting (plan waits count as in progress). */
  idle(): Promise<void> {
    return this.chains.idle();
  }

  watchedRoots(): string[] {
    return [...this.workspaces.keys()].sort();
  }

  // ---- watching -----------------------------------------------------------------------------

  private enqueue<T>(root: string, abs: string, fn: () => Promise<T>): Promise<T | undefined> {
    return this.chains.enqueue(`${root}\0${abs}`, fn);
  }

  /** Watches an already registered root and decides on whatever changed while nobody watched. */
  private async resume(root: string): Promise<void> {
    if (this.workspaces.has(root)) return;
    let config: LoopConfig;
    try {
      config = workspaceConfig(root);
    } catch (e) {
      // Still watch (the defaults' folders): every decision re-reads the config and reports
      // config_error, which is where the user will look.
      this.host.log(`watch: ${root}: ${message(e)}; watching the default folders`);
      config = defaultConfig();
    }
    const ws = this.open(root, config);
    await ws.ready;
    // Not awaited: a spec waiting for its plan must not hold up daemon start-up.
    for (const abs of this.scan(ws)) void this.enqueue(root, abs, () => this.decisions.decide(ws, abs, 'restart'));
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
      void this.enqueue(ws.root, abs, () => whenFree(() => this.decisions.decide(ws, abs, 'event')));
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
}
