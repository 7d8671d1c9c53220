// Agent output: streams a run's step logs from a resume point `<stepId>:<offset>`, and the last
// lines of the newest log. Logs are files on this host; the store says which step wrote which.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { lastLines } from '../../core/artifacts.js';
import { readTail } from '../../core/logfile.js';
import { isTerminalRunStatus } from '../../core/types.js';
import type { EventBus, OutputNotice, PublishedEvent } from '../bus.js';
import { agentKindFor, runConfig } from '../run-input.js';
import type { RunRecord, StoreReads } from '../store/types.js';
import type { OutputChunk, TailView } from '../views.js';
import { Waiter } from './waiter.js';

const OUTPUT_CHUNK_BYTES = 64 * 1024;
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

function readChunk(path: string, offset: number): { text: string; bytes: number } | null {
  if (!existsSync(path)) return null;
  const size = statSync(path).size;
  if (size <= offset) return null;
  const len = Math.min(OUTPUT_CHUNK_BYTES, size - offset);
  const buf = Buffer.alloc(len);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, len, offset);
  } finally {
    closeSync(fd);
  }
  const usable = completeUtf8Length(buf);
  if (usable === 0) return null;
  return { text: buf.subarray(0, usable).toString('utf8'), bytes: usable };
}

function parseResume(resume: string | null): { stepId: number; offset: number } {
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

export async function* streamOutput(store: StoreReads, bus: EventBus, run: RunRecord, resume: string | null, follow: boolean, signal: AbortSignal): AsyncGenerator<OutputChunk> {
  let { stepId, offset } = parseResume(resume);
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
          const chunk = readChunk(step.output_path!, offset);
          if (!chunk) break;
          offset += chunk.bytes;
          progressed = true;
          yield { stepId: step.id, iteration: step.iteration, phase: step.phase, attempt: step.attempt, offset, chunk: chunk.text };
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
