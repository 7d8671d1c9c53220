// Fine timestamps of a step's orchestration work, for the bench (bench/run.mjs prints where the
// milliseconds around an agent call go, phase by phase). Off unless a recorder is installed: the
// bench runs the daemon in its own process and installs one; the daemon never does, so a mark
// costs one comparison.

/** One point in a step's life: the step, a short name, and the wall time in ms (sub-ms precision). */
export interface TraceMark {
  stepId: number;
  name: string;
  at: number;
}

type Recorder = (m: TraceMark) => void;

let recorder: Recorder | null = null;

/** Installs (or, with null, removes) the recorder that receives every mark. */
export function setTraceRecorder(r: Recorder | null): void {
  recorder = r;
}

/** Records that `stepId` reached `name` now. */
export function traceMark(stepId: number, name: string): void {
  if (recorder !== null) recorder({ stepId, name, at: performance.timeOrigin + performance.now() });
}
