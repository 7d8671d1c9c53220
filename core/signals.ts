// Watchdog signals, computed from facts about the iterations (never from the agent's own words).
import type { StepPhase, StepStatus, WatchdogSignal } from './types.js';

export interface IterationFacts {
  iteration: number;
  /** From the implementation step that succeeded in this iteration. */
  claimed: boolean;
  malformed: boolean;
  openTasks: number;
  commits: number;
  planChanged: boolean;
  /** Similarity of this iteration's agent output with the previous iteration's (0..1), if any. */
  similarity: number | null;
  /** null when no verification ran in this iteration. */
  verificationPassed: boolean | null;
}

export interface SignalConfig {
  noProgressIterations: number;
  /** Output more similar than this to the previous iteration's is a repeat. */
  repeatThreshold?: number;
}

export const REPEAT_THRESHOLD = 0.85;

/**
 * Signals for the last entry of `iterations` (oldest first). verification_failed fires on the
 * second consecutive failure: a single failure is handled by runner-notes.txt in the next prompt,
 * the watchdog steps in when the agent does not fix it.
 */
export function computeSignals(iterations: readonly IterationFacts[], cfg: SignalConfig): WatchdogSignal[] {
  const cur = iterations[iterations.length - 1];
  if (!cur) return [];
  const out: WatchdogSignal[] = [];
  if (cur.malformed || (cur.claimed && cur.openTasks > 0)) out.push('malformed_complete');
  if (cur.similarity !== null && cur.similarity > (cfg.repeatThreshold ?? REPEAT_THRESHOLD)) out.push('repeated_task');
  const n = cfg.noProgressIterations;
  const recent = iterations.slice(-n);
  if (n > 0 && recent.length === n && recent.every((i) => i.commits === 0 && !i.planChanged)) out.push('no_progress');
  const prev = iterations[iterations.length - 2];
  if (cur.verificationPassed === false && prev?.verificationPassed === false) out.push('verification_failed');
  return out;
}

/**
 * How much of each output the similarity compares: its end. A repeated task shows in what the agent
 * said last, and line maps of two 4 MiB windows at every step end cost the daemon tens of MB when
 * several runs end together (docs/performance.md). A cut-off parse only means no signal.
 */
export const SIMILARITY_WINDOW_BYTES = 256 * 1024;

/**
 * The last `maxBytes` of `text` as UTF-8, cut the way `readTail` (core/logfile.ts) cuts a log: when
 * text is left out, the partial first line is dropped too, unless the window holds no newline.
 */
export function textTail(text: string, maxBytes: number): string {
  let bytes = 0;
  let i = text.length;
  while (i > 0) {
    const c = text.charCodeAt(i - 1);
    const pair = c >= 0xdc00 && c <= 0xdfff && i >= 2 && (text.charCodeAt(i - 2) & 0xfc00) === 0xd800;
    const width = pair ? 4 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (bytes + width > maxBytes) break;
    bytes += width;
    i -= pair ? 2 : 1;
  }
  if (i === 0) return text;
  const nl = text.indexOf('\n', i);
  return nl >= 0 && nl < text.length - 1 ? text.slice(nl + 1) : text.slice(i);
}

/**
 * Dice coefficient over the multiset of non-empty trimmed lines of the last SIMILARITY_WINDOW_BYTES
 * of each side: 1 = same lines, 0 = none shared.
 */
export function outputSimilarity(a: string, b: string, maxBytes = SIMILARITY_WINDOW_BYTES): number {
  const lines = (t: string) =>
    textTail(t, maxBytes)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
  const la = lines(a);
  const lb = lines(b);
  // Two silent iterations say nothing about repetition; no_progress covers a silent, idle agent.
  if (la.length === 0 || lb.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const l of la) counts.set(l, (counts.get(l) ?? 0) + 1);
  let shared = 0;
  for (const l of lb) {
    const c = counts.get(l) ?? 0;
    if (c > 0) {
      shared++;
      counts.set(l, c - 1);
    }
  }
  return (2 * shared) / (la.length + lb.length);
}

/** What the handlers report (core/results.ts), as the rules read it back. */
export type { StepResultFacts } from './results.js';
import type { StepResultFacts } from './results.js';

export interface StepFact {
  phase: StepPhase;
  status: StepStatus;
  iteration: number;
  attempt: number;
  result: StepResultFacts | null;
}

export function latestPerIteration(steps: readonly StepFact[]): StepFact[] {
  const by = new Map<number, StepFact>();
  for (const s of steps) by.set(s.iteration, s);
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
}

/** Facts per finished iteration, oldest first, for the watchdog rules. */
export function iterationFacts(steps: readonly StepFact[]): IterationFacts[] {
  const impls = latestPerIteration(steps.filter((s) => s.phase === 'implementation' && s.status === 'SUCCEEDED'));
  const verifs = new Map(latestPerIteration(steps.filter((s) => s.phase === 'verification' && s.status !== 'CANCELED')).map((s) => [s.iteration, s]));
  return impls.map((s) => {
    const r = s.result ?? {};
    const v = verifs.get(s.iteration);
    return {
      iteration: s.iteration,
      claimed: r.claimed === true,
      malformed: r.malformed === true,
      openTasks: r.openTasks ?? 0,
      commits: r.commits ?? 0,
      planChanged: r.planChanged === true,
      similarity: typeof r.similarity === 'number' ? r.similarity : null,
      verificationPassed: v ? v.result?.passed === true : null,
    };
  });
}

