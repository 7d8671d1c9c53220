// Live agent output over runs.output (SSE): the whole log of each step, then new bytes as the agent
// writes them, until the run ends. The stream itself is useOutputStream.
import { useEffect, useRef, useState } from 'react';
import { useOutputStream, type Segment, type StreamState } from './useOutputStream.js';

const STATE_TEXT: Record<StreamState, string> = {
  streaming: 'streaming live',
  ended: 'the run has ended: this is its whole output',
  error: 'the stream broke; reload to resume',
};

/** The log box; it follows new output while the reader is at its bottom. */
function OutputText({ segments }: { segments: Segment[] }) {
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [segments]);

  return (
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
  );
}

export function Output({ runId }: { runId: string }) {
  const [raw, setRaw] = useState(false);
  const { segments, state } = useOutputStream(runId, raw);
  return (
    <div>
      <p className="muted small output-head">
        <span>{STATE_TEXT[state]}</span>
        <label title="the exact bytes of the logs, as loopctl tail --raw">
          <input type="checkbox" checked={raw} onChange={(e) => setRaw(e.target.checked)} data-testid="output-raw" /> raw
        </label>
      </p>
      <OutputText segments={segments} />
    </div>
  );
}
