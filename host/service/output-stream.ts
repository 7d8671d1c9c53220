// Agent output: streams a run's step logs from a resume point `<stepId>:<offset>`, and the last
// lines of the newest log. Logs are files on this host; the store says which step wrote which.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { lastLines } from '../../core/artifacts.js';
import { readTail } from '../../core/logfile.js';
import { isTerminalRunStatus, type StepPhase } from '../../core/types.js';
import type { EventBus, OutputNotice, PublishedEvent } from '../bus.js';
import { agentKindFor, runConfig } from '../run-input.js';
import type { RunRecord, StoreReads } from '../store/types.js';
import type { OutputChunk, TailView } from '../views.js';
import { Waiter } from './waiter.js';

/** Bytes per chunk: one SSE frame each. */
export const OUTPUT_CHUNK_BYTES = 64 * 1024;
const TAIL_WINDOW_BYTES = 1024 * 1024;
/** Output growth is announced by the bus; this only bounds a missed notice. */
const IDLE_RECHECK_MS = 1000;

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

export function parseResume(resume: string | null): { stepId: number; offset: number } {
  const m = resume ? /^(\d+):(\d+)$/.exec(resume) : null;
  return m ? { stepId: Number(m[1]), offset: Number(m[2]) } : { stepId: 0, offset: 0 };
}

/** Whether the run can still write output: not ended, or a step still queued or running. */
async function stillWriting(store: StoreReads, runId: string): Promise<boolean> {
  const fresh = await store.getRun(runId);
  if (!fresh) return false;
  const active = (await store.stepsForRun(runId)).some((s) => s.status === 'IN_PROGRESS' || s.status === 'QUEUED');
  return !isTerminalRunStatus(fresh.status) || active;
}

export interface RawOutputChunk {
  stepId: number;
  iteration: number;
  phase: StepPhase;
  attempt: number;
  /** Byte offset in the step's log just after this chunk: the resume point. */
  offset: number;
  /** Valid until the consumer pulls the next chunk: the buffer is reused. */
  bytes: Buffer;
}

/**
 * The output of `run` from `resume` on, as bytes: every step's log in order, then (with `follow`)
 * what is written while the run is active, until it ends or `signal` aborts.
 *
 * Memory is the point: five runs streaming tens of MB each with a reader on each must not grow the
 * daemon. A reader never reads a log whole, reads into one buffer of its own (reused for every
 * chunk: the consumer is done with a chunk before it pulls the next), and reads the next chunk only
 * when the consumer asks (host/output-sse.ts asks once the socket took the previous frame). A chunk
 * never ends inside a UTF-8 character, so each decodes on its own.
 */
export async function* outputChunks(store: StoreReads, bus: EventBus, run: RunRecord, resume: string | null, follow: boolean, signal: AbortSignal): AsyncGenerator<RawOutputChunk> {
  let { stepId, offset } = parseResume(resume);
  const buf = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES);
  const waiter = new Waiter(signal);
  const onOutput = (n: OutputNotice) => {
    if (n.runId === run.id) waiter.poke();
  };
  const onEvent = (ev: PublishedEvent) => {
    if (ev.run_id === run.id) waiter.poke();
  };
  bus.on('output', onOutput);
  bus.on('event', onEvent);
  try {
    while (!signal.aborted) {
      waiter.reset();
      const steps = (await store.stepsForRun(run.id)).filter((s) => s.output_path && s.id >= stepId);
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
      if (!follow || !(await stillWriting(store, run.id))) return;
      await waiter.wait(IDLE_RECHECK_MS);
    }
  } finally {
    bus.off('output', onOutput);
    bus.off('event', onEvent);
  }
}

/** The same as text chunks, for the tRPC subscription (the HTTP server serves it from outputChunks). */
export async function* streamOutput(store: StoreReads, bus: EventBus, run: RunRecord, resume: string | null, follow: boolean, signal: AbortSignal): AsyncGenerator<OutputChunk> {
  for await (const c of outputChunks(store, bus, run, resume, follow, signal)) {
    yield { stepId: c.stepId, iteration: c.iteration, phase: c.phase, attempt: c.attempt, offset: c.offset, chunk: c.bytes.toString('utf8') };
  }
}

export async function tailOf(store: StoreReads, run: RunRecord, lines: number): Promise<TailView | null> {
  const step = [...(await store.stepsForRun(run.id))].reverse().find((s) => s.output_path && existsSync(s.output_path));
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
    agent: agentKindFor(runConfig(run), step.phase),
    offset: size,
  };
}
