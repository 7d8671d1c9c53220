// The live output of a run (runs.output over SSE), rendered per step: the whole log of each step,
// then new bytes as the agent writes them, until the run ends.
import { useEffect, useState } from 'react';
import { trpc } from './api.js';
import { createRenderer, stepHeader, type OutputRenderer } from './readable.js';

export interface Segment {
  stepId: number;
  title: string;
  text: string;
}

export type StreamState = 'streaming' | 'ended' | 'error';

const MAX_CHARS = 2_000_000;

type SetSegments = (update: (prev: Segment[]) => Segment[]) => void;

const appendTo = (stepId: number, rest: string) => (prev: Segment[]) => prev.map((s) => (s.stepId === stepId ? { ...s, text: s.text + rest } : s));

/** A chunk of a step, appended to the last segment when it is that step's. */
const withChunk = (data: Parameters<typeof stepHeader>[0] & { stepId: number }, text: string) => (prev: Segment[]) => {
  const last = prev[prev.length - 1];
  let next: Segment[];
  if (last && last.stepId === data.stepId) next = [...prev.slice(0, -1), { ...last, text: last.text + text }];
  else next = [...prev, { stepId: data.stepId, title: stepHeader(data), text }];
  // Keep the page responsive on huge logs: drop the oldest text.
  let total = next.reduce((n, s) => n + s.text.length, 0);
  while (total > MAX_CHARS && next.length > 1) total -= next.shift()!.text.length;
  return next;
};

/** One renderer per step; a new step completes what the previous ones still hold. */
function stepRenderers(raw: boolean, setSegments: SetSegments) {
  const renderers = new Map<number, OutputRenderer>();
  const flushAll = () => {
    for (const [id, r] of renderers) {
      const rest = r.flush();
      renderers.delete(id);
      if (rest) setSegments(appendTo(id, rest));
    }
  };
  const render = (stepId: number, chunk: string): string => {
    let r = renderers.get(stepId);
    if (!r) {
      flushAll();
      r = createRenderer({ raw });
      renderers.set(stepId, r);
    }
    return r.push(chunk);
  };
  return { render, flushAll };
}

export function useOutputStream(runId: string, raw: boolean): { segments: Segment[]; state: StreamState } {
  const [segments, setSegments] = useState<Segment[]>([]);
  const [state, setState] = useState<StreamState>('streaming');

  useEffect(() => {
    setSegments([]);
    setState('streaming');
    const steps = stepRenderers(raw, setSegments);
    const sub = trpc.runs.output.subscribe(
      { run: runId },
      {
        onData: ({ data }) => setSegments(withChunk(data, steps.render(data.stepId, data.chunk))),
        onComplete: () => {
          steps.flushAll();
          setState('ended');
        },
        onError: () => setState('error'),
      },
    );
    return () => sub.unsubscribe();
  }, [runId, raw]);

  return { segments, state };
}
