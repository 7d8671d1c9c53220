// A real Dispatcher on a SqliteStore in a temp dir, with scripted fake handlers and a fake clock:
// no agents, no git, no sleeps. "Did not happen" is proven by awaiting dispatcher.idle().
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, type LoopConfig } from '../../core/config.js';
import type { StepPhase } from '../../core/types.js';
import type { Handler, HandlerInput, HandlerResult } from '../../functions/types.js';
import { EventBus } from '../../host/bus.js';
import { Dispatcher, type Clock } from '../../host/dispatcher.js';
import { SqliteStore } from '../../host/store/sqlite.js';
import type { EventRecord, LoopStore, NewRun, RunRecord } from '../../host/store/types.js';
import { tempDir } from '../integration/harness.js';

export const T0 = 1_800_000_000_000;

/** Time stands still until advance(); timers fire in time order when their time comes. */
export class FakeClock implements Clock {
  t = T0;
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  }
  clearTimer(h: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== h);
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((t) => t.at <= this.t).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.t);
    for (const t of due) t.fn();
  }
}

export const defaults = (): LoopConfig => Object.fromEntries(CONFIG_KEYS.map((k) => [k.name, k.default])) as unknown as LoopConfig;

/** A plan-less run that completes on the token, without reviewer, verification or merge unless asked. */
export function newRun(id: string, dir: string, over: { config?: Partial<LoopConfig> } & Partial<Omit<NewRun, 'config'>> = {}): NewRun {
  const { config, ...rest } = over;
  const runDir = join(dir, 'runs', id);
  mkdirSync(runDir, { recursive: true });
  return {
    id,
    name: `run-${id.slice(-3)}`,
    name_source: 'spec_slug',
    status: 'PENDING',
    workspace_root: join(dir, 'ws'),
    spec_path: 'specs/a.md',
    plan_path: null,
    base_branch: 'main',
    run_branch: `run/${id}`,
    merge_target_branch: null,
    merge_strategy: 'none',
    worktree_path: join(dir, 'no-worktree', id),
    worktree_provider: 'git',
    config: { ...defaults(), reviewer: false, verify_cmds: [], ...config } as unknown as Record<string, unknown>,
    origin: 'api',
    run_dir: runDir,
    global_run_dir: null,
    ...rest,
  };
}

export const runId = (n: number): string => `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`;

export const claimedDone: HandlerResult = {
  status: 'SUCCEEDED',
  exitCode: 0,
  result: { claimed: true, malformed: false, openTasks: 0, unreviewedTasks: 0, commits: 1 },
};
export const progress: HandlerResult = {
  status: 'SUCCEEDED',
  exitCode: 0,
  result: { claimed: false, malformed: false, openTasks: 1, unreviewedTasks: 0, commits: 1, planChanged: true },
};

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A call a fake handler is in: the test decides when (and how) it ends. */
export interface Call {
  input: HandlerInput;
  phase: StepPhase;
  runId: string;
  finish(r: HandlerResult): void;
}

/**
 * Fake handlers for every phase. By default each call ends at once with `auto(call)`; with
 * hold set, calls wait for finish() (so a test can look while steps are in flight).
 */
export class FakeHandlers {
  readonly calls: Call[] = [];
  hold = false;
  auto: (c: Omit<Call, 'finish'>) => HandlerResult = () => claimedDone;
  private waiters: { n: number; d: Deferred<void> }[] = [];

  handlers(phases: StepPhase[] = ['implementation', 'verification', 'review', 'watchdog', 'merge']): Partial<Record<StepPhase, Handler>> {
    return Object.fromEntries(phases.map((p) => [p, (input: HandlerInput) => this.call(p, input)]));
  }

  /** Resolves once n calls have been made in all. */
  calledTimes(n: number): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve();
    const d = deferred<void>();
    this.waiters.push({ n, d });
    return d.promise;
  }

  private call(phase: StepPhase, input: HandlerInput): Promise<HandlerResult> {
    const d = deferred<HandlerResult>();
    const c = { input, phase, runId: input.run.id };
    this.calls.push({ ...c, finish: (r) => d.resolve(r) });
    for (const w of this.waiters.filter((w) => this.calls.length >= w.n)) w.d.resolve();
    this.waiters = this.waiters.filter((w) => this.calls.length < w.n);
    if (!this.hold) d.resolve(this.auto(c));
    return d.promise;
  }
}

export interface Rig {
  dir: string;
  store: LoopStore;
  clock: FakeClock;
  fake: FakeHandlers;
  dispatcher(o?: { maxConcurrency?: number; instanceId?: string; phases?: StepPhase[]; finalisePageSize?: number }): Dispatcher;
  create(n: number, over?: Parameters<typeof newRun>[2]): Promise<RunRecord>;
  events(runId?: string): Promise<EventRecord[]>;
  types(runId: string): Promise<string[]>;
}

/** A rig on a fresh SqliteStore in a temp dir, or on the store given (a PgStore: test/pg/). */
export function rig(given?: LoopStore): Rig {
  const dir = tempDir('loopd-dispatch-');
  const store = given ?? new SqliteStore(join(dir, 'loopd.db'), new EventBus());
  const clock = new FakeClock();
  const fake = new FakeHandlers();
  const r: Rig = {
    dir,
    store,
    clock,
    fake,
    dispatcher: (o = {}) =>
      new Dispatcher({
        store,
        bus: new EventBus(),
        handlers: fake.handlers(o.phases),
        maxConcurrency: o.maxConcurrency ?? 3,
        instanceId: o.instanceId ?? 'host-a',
        clock,
        ...(o.finalisePageSize ? { finalisePageSize: o.finalisePageSize } : {}),
      }),
    create: (n, over = {}) => store.transaction((tx) => tx.createRun(newRun(runId(n), dir, over))),
    events: (id) => store.eventsAfter({ ...(id ? { runId: id } : {}), afterSeq: 0, limit: 10_000 }),
    types: async (id) => (await r.events(id)).map((e) => e.type),
  };
  return r;
}
