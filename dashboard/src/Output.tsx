// Live agent output over runs.output (SSE): the whole log of each step, then new bytes as the agent
// writes them, until the run ends.
import { useEffect, useRef, useState } from 'react';
import { trpc } from './api.js';
import { createRenderer, stepHeader, type OutputRenderer } from './readable.js';

interface Segment {
  stepId: number;
  title: string;
  text: string;
}

const MAX_CHARS = 2_000_000;

export function Output({ runId }: { runId: string }) {
  const [segments, setSegments] = useState<Segment[]>([]);
  const [state, setState] = useState<'streaming' | 'ended' | 'error'>('streaming');
  const [raw, setRaw] = useState(false);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    setSegments([]);
    setState('streaming');
    const renderers = new Map<number, OutputRenderer>();
    const render = (stepId: number, chunk: string): string => {
      let r = renderers.get(stepId);
      if (!r) {
        // A new step: what the previous ones still hold is complete now.
        for (const [id, old] of renderers) {
          const rest = old.flush();
          renderers.delete(id);
          if (rest) setSegments((prev) => prev.map((s) => (s.stepId === id ? { ...s, text: s.text + rest } : s)));
        }
        r = createRenderer({ raw });
        renderers.set(stepId, r);
      }
      return r.push(chunk);
    };
    const sub = trpc.runs.output.subscribe(
      { run: runId },
      {
        onData: ({ data }) => {
          const text = render(data.stepId, data.chunk);
          setSegments((prev) => {
            const last = prev[prev.length - 1];
            let next: Segment[];
            if (last && last.stepId === data.stepId) next = [...prev.slice(0, -1), { ...last, text: last.text + text }];
            else next = [...prev, { stepId: data.stepId, title: stepHeader(data), text }];
            // Keep the page responsive on huge logs: drop the oldest text.
            let total = next.reduce((n, s) => n + s.text.length, 0);
            while (total > MAX_CHARS && next.length > 1) total -= next.shift()!.text.length;
            return next;
          });
        },
        onComplete: () => {
          for (const [id, r] of renderers) {
            const rest = r.flush();
            if (rest) setSegments((prev) => prev.map((s) => (s.stepId === id ? { ...s, text: s.text + rest } : s)));
          }
          renderers.clear();
          setState('ended');
        },
        onError: () => setState('error'),
      },
    );
    return () => sub.unsubscribe();
  }, [runId, raw]);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [segments]);

  return (
    <div>
      <p className="muted small output-head">
        <span>{state === 'streaming' ? 'streaming live' : state === 'ended' ? 'the run has ended: this is its whole output' : 'the stream broke; reload to resume'}</span>
        <label title="the exact bytes of the logs, as loopctl tail --raw">
          <input type="checkbox" checked={raw} onChange={(e) => setRaw(e.target.checked)} data-testid="output-raw" /> raw
        </label>
      </p>
      <pre
        className="output"
        ref={box}
        data-testid="output"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {segments.length === 0 && <span className="muted">no output yet</span>}
        {segments.map((s) => (
          <span key={s.stepId}>
            <span className="seg-title">
              {s.title}
              {'\n'}
            </span>
            {s.text}
            {s.text === '' || s.text.endsWith('\n') ? '' : '\n'}
          </span>
        ))}
      </pre>
    </div>
  );
}
