// Running one claimed step: the handler's input from the store, a sink whose writes go in as
// small transactions in the order the handler made them, and, when the handler returns, its
// outcome recorded by complete.ts. The handler's own I/O (git, agents) never runs inside a
// transaction.
import { placeGone } from '../../core/run-place.js';
import { traceMark } from '../../core/trace.js';
import type { EventPayloads, EventType } from '../../core/events.js';
import type { AgentProcessInfo, EventSink, Handler, HandlerInput, HandlerResult, StepInput } from '../../functions/types.js';
import { runInput } from '../run-input.js';
import type { RunRecord, StepRecord, StoreTx } from '../store/types.js';
import { lostLease } from '../cluster/coordinator.js';
import { completeStep } from './complete.js';
import { errorText, inTx, type DispatchContext } from './context.js';
import { artifactOf } from './finalise.js';

/** Starts a step and registers it as active at once (so the concurrency cap counts it); returns immediately. */
export function execute(ctx: DispatchContext, run: RunRecord, step: StepRecord, handler: Handler, adopt: AgentProcessInfo | null): void {
  const abort = new AbortController();
  const done = runStep(ctx, run, step, handler, adopt, abort).finally(async () => {
    ctx.active.delete(step.id);
    if (ctx.abandoned()) return;
    // The summary is written before the step counts as done (a cancel awaits it).
    await ctx.finalise(run.id);
    ctx.wake();
  });
  ctx.active.set(step.id, { stepId: step.id, runId: run.id, abort, done });
}

async function runStep(ctx: DispatchContext, run: RunRecord, step: StepRecord, handler: Handler, adopt: AgentProcessInfo | null, abort: AbortController): Promise<void> {
  const writes = new StepWrites(ctx, step.id);
  let result: HandlerResult;
  let input: HandlerInput | null = null;
  traceMark(step.id, 'claimed');
  try {
    input = await handlerInput(ctx, run, step, sinkFor(ctx, run, step, writes), abort.signal, adopt);
    traceMark(step.id, 'input read');
    result = await handler(input);
    traceMark(step.id, 'handler returned');
  } catch (e) {
    const message = errorText(e);
    // "spawn git ENOENT" is what a deleted worktree looks like from here: name the real cause.
    const gone = abort.signal.aborted || !input ? null : placeGone(input.run);
    result = gone
      ? { status: 'FAILED', error: `${gone.message} (${message})`, result: { fatal: true, failReason: gone.reason } }
      : { status: abort.signal.aborted ? 'CANCELED' : 'FAILED', error: message, result: {} };
  }
  // The store may be closed already; the next daemon re-adopts the step and records it.
  if (ctx.abandoned()) return;
  // The step's lease is gone (host/cluster/): another host runs it again; nothing of this attempt lands.
  if (lostLease(abort.signal)) {
    ctx.log?.(`step ${step.id} stopped: its lease is gone, another host runs it again`, { level: 'warn', runId: run.id, stepId: step.id });
    return;
  }
  // The step's own events first, so its end never precedes them.
  await writes.settled();
  traceMark(step.id, 'writes landed');
  try {
    // The agent's work is recorded whatever the lock contention: retried until it lands.
    const done = await inTx(ctx, (tx) => completeStep(tx, step.id, result, ctx.clock.now()), `recording step ${step.id}`);
    traceMark(step.id, 'step recorded');
    if (done?.wakeAt) ctx.wakeAt(done.wakeAt);
  } catch (e) {
    ctx.log?.(`recording step ${step.id} failed: ${errorText(e)}`, { level: 'error', runId: run.id, stepId: step.id, stack: e instanceof Error ? e.stack : undefined });
  }
}

async function handlerInput(
  ctx: DispatchContext,
  run: RunRecord,
  step: StepRecord,
  sink: EventSink,
  signal: AbortSignal,
  adopt: AgentProcessInfo | null,
): Promise<HandlerInput> {
  const steps = await ctx.store.stepsForRun(run.id);
  return {
    run: runInput(run, await ctx.store.getRunTruth(run.id)),
    step: { id: step.id, phase: step.phase, iteration: step.iteration, attempt: step.attempt, input: (step.input as StepInput['input']) ?? null },
    history: steps
      .filter((s) => s.id !== step.id)
      .map((s) => ({ phase: s.phase, status: s.status, iteration: s.iteration, attempt: s.attempt, result: s.result })),
    ledger: await ctx.store.ledgerFor(run.id),
    signal,
    adopt,
    guard: ctx.cluster.processGuard,
    sink,
  };
}

function sinkFor(ctx: DispatchContext, run: RunRecord, step: StepRecord, writes: StepWrites): EventSink {
  return {
    event: <K extends EventType>(type: K, payload: EventPayloads[K]) => {
      void writes.push(`event ${type}`, (tx) => tx.appendEvent(run.id, step.id, type, payload));
    },
    // Awaited by the handler before it spawns: a crash after the spawn finds the process by its nonce.
    processIntent: (p) => writes.push('process intent', (tx) => tx.recordProcessIntent(step.id, { ...p }), { mustLand: true }),
    // The agent runs already: its record may wait for the lock, but must not fail the step (a
    // crash meanwhile is covered by processIntent's nonce, which finds the process again).
    processStarted: (p) => writes.push('process record', (tx) => tx.recordProcessStarted(step.id, { ...p })),
    outputGrew: () => ctx.bus.outputGrew({ runId: run.id, stepId: step.id }),
    artifact: (kind, path) => {
      // The checksum is of the file as it is now, computed outside the transaction.
      const a = artifactOf(run, step.id, kind, path);
      if (a) void writes.push(`artifact ${kind}`, (tx) => tx.recordArtifact(a));
    },
  };
}

/** A step's writes from its handler, one transaction each, landing in the order they were made. */
class StepWrites {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: DispatchContext,
    private readonly stepId: number,
  ) {}

  /** Resolves when the write landed; with mustLand, rejects when it cannot (the caller must not go on). */
  push(what: string, fn: (tx: StoreTx) => Promise<unknown>, opts: { mustLand?: boolean } = {}): Promise<void> {
    const landed = this.chain.then(() => inTx(this.ctx, fn)).then(() => traceMark(this.stepId, `tx ${what}`));
    this.chain = landed.catch((e: unknown) => this.ctx.log?.(`${what} of step ${this.stepId} lost: ${errorText(e)}`));
    return opts.mustLand ? landed : (this.chain as Promise<void>);
  }

  settled(): Promise<unknown> {
    return this.chain;
  }
}
