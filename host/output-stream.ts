// A run's agent output as a stream of byte chunks, step after step, resumable at `<stepId>:<offset>`.
//
// Memory is the point of this module: five runs streaming tens of MB each, with a reader on each,
// must not grow the daemon. So a reader never reads a log whole, reads into one buffer of its own
// (reused for every chunk: the consumer is done with a chunk before it pulls the next), and takes
// the next chunk only when the consumer asks for it (the SSE writer asks once the socket took the
// previous one). A chunk never ends inside a UTF-8 character, so each one decodes on its own.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { StepPhase } from '../core/types.js';
import { isTerminalRunStatus, type RunStatus } from '../core/types.js';
import type { EventBus, OutputNotice, PublishedEvent } from './bus.js';

/** Bytes per chunk: one SSE frame each. */
export const OUTPUT_CHUNK_BYTES = 64 * 1024;

/** What a step of the store says about its log (StepRow has these fields). */
export interface OutputStep {
  id: number;
  iteration: number;
  phase: StepPhase;
  attempt: number;
  status: string;
  output_path: string | null;
}

/** The store and bus as the stream needs them; the results may be sync or async. */
export interface OutputSource {
  bus: EventBus;
  steps(runId: string): OutputStep[] | Promise<OutputStep[]>;
  runStatus(runId: string): RunStatus | null | Promise<RunStatus | null>;
}

export interface RawOutputChunk {
  stepId: number;
  iteration: number;
  phase: StepPhase;
  attempt: number;
  /** Byte offset in the step's log just after this chunk: the resume point. */
  offset: number;
  /** Valid until the consumer pulls the next chunk (the buffer is reused). */
  bytes: Buffer;
}

/** `<stepId>:<offset>`, as the SSE event id carries it; anything else means "from the start". */
export function parseResumePoint(resume: string | null | undefined): { stepId: number; offset: number } {
  const m = resume ? /^(\d+):(\d+)$/.exec(resume) : null;
  return m ? { stepId: Number(m[1]), offset: Number(m[2]) } : { stepId: 0, offset: 0 };
}

/** Length of the longest prefix of buf that does not end inside a UTF-8 sequence. */
export function completeUtf8Length(buf: Buffer): number {
  let i = buf.length;
  // Walk back over at most 3 continuation bytes to find the lead byte of the last character.
  let back = 0;
  while (i > 0 && back < 4 && (buf[i - 1]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i === 0) return buf.length;
  const lead = buf[i - 1]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need === back + 1 || need === 1 ? buf.length : i - 1;
}

/** Reads what follows `offset` in `path` into `buf`; the chunk's length, 0 when there is nothing. */
function readAt(path: string, offset: number, buf: Buffer): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return 0;
    const len = Math.min(buf.length, size - offset);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return completeUtf8Length(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}

/** Wakes a waiting stream when the bus says something moved; a timeout covers missed notices. */
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

/**
 * The output of run `runId` from `resume` on: every step's log in order, then (with `follow`) what
 * is written while the run is active, until it ends or `signal` aborts.
 */
export async function* outputChunks(
  src: OutputSource,
  runId: string,
  resume: string | null,
  follow: boolean,
  signal: AbortSignal,
): AsyncGenerator<RawOutputChunk> {
  let { stepId, offset } = parseResumePoint(resume);
  const buf = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES);
  const waiter = new Waiter(signal);
  const onOutput = (n: OutputNotice) => {
    if (n.runId === runId) waiter.poke();
  };
  const onEvent = (ev: PublishedEvent) => {
    if (ev.run_id === runId) waiter.poke();
  };
  src.bus.on('output', onOutput);
  src.bus.on('event', onEvent);
  try {
    while (!signal.aborted) {
      waiter.reset();
      const steps = (await src.steps(runId)).filter((s) => s.output_path && s.id >= stepId);
      let progressed = false;
      for (const step of steps) {
        if (step.id !== stepId) {
          stepId = step.id;
          offset = 0;
        }
        for (;;) {
          const n = readAt(step.output_path!, offset, buf);
          if (n === 0 || signal.aborted) break;
          offset += n;
          progressed = true;
          yield { stepId: step.id, iteration: step.iteration, phase: step.phase, attempt: step.attempt, offset, bytes: buf.subarray(0, n) };
        }
        // Stop at the first step still writing: later steps cannot exist yet.
        if (step.status === 'IN_PROGRESS' || step.status === 'QUEUED') break;
        stepId = step.id + 1;
        offset = 0;
      }
      if (progressed) continue;
      if (!follow) return;
      const status = await src.runStatus(runId);
      const active = (await src.steps(runId)).some((s) => s.status === 'IN_PROGRESS' || s.status === 'QUEUED');
      if (status === null || (isTerminalRunStatus(status) && !active)) return;
      await waiter.wait(1000);
    }
  } finally {
    src.bus.off('output', onOutput);
    src.bus.off('event', onEvent);
  }
}
