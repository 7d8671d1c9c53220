import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, trpc, type EventView, type RunDetail, type TaskView } from './api.js';
import { Actions } from './Actions.js';
import { ReviewBadge, StatusBadge } from './Badges.js';
import { DiffView } from './DiffView.js';
import { clock, duration, summarize, usd } from './format.js';
import { lifecycle } from './lifecycle.js';
import { Output } from './Output.js';

type Tab = 'output' | 'diff' | 'timeline';

const MARK: Record<string, string> = { done: '✓', active: '◐', failed: '✗', off: '–', todo: '○' };

function Checklist({ run, events }: { run: RunDetail; events: EventView[] }) {
  return (
    <ul className="checklist" data-testid="lifecycle">
      {lifecycle(run, events).map((item) => (
        <li key={item.key} className={`lc-${item.state}`} data-item={item.key} data-state={item.state}>
          <span className="mark">{MARK[item.state]}</span>
          <strong>{item.label}</strong>
          <span className="muted">{item.detail}</span>
        </li>
      ))}
    </ul>
  );
}

function Timeline({ run, events }: { run: RunDetail; events: EventView[] }) {
  return (
    <div>
      <table className="steps">
        <thead>
          <tr>
            <th>step</th>
            <th>iteration</th>
            <th>phase</th>
            <th>attempt</th>
            <th>status</th>
            <th>took</th>
            <th>exit</th>
            <th className="num">cost</th>
            <th>error</th>
          </tr>
        </thead>
        <tbody>
          {run.steps.map((s) => (
            <tr key={s.id} className={`step-${s.status.toLowerCase()}`}>
              <td className="mono">{s.id}</td>
              <td>{s.iteration}</td>
              <td>{s.phase}</td>
              <td>{s.attempt}</td>
              <td>{s.status.toLowerCase()}</td>
              <td>{s.startedAt ? duration((s.endedAt ?? Date.now()) - s.startedAt) : ''}</td>
              <td>{s.exitCode ?? ''}</td>
              <td className="num">{s.costUsd ? usd(s.costUsd) : ''}</td>
              <td className="error-text">{s.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <ol className="timeline" data-testid="timeline">
        {events.map((e) => (
          <li key={e.seq} className={`ev ev-${/FAIL|CONFLICT|REJECT/.test(e.type) ? 'bad' : /COMPLETED|PASSED|APPROVED|MERGED|READY/.test(e.type) ? 'good' : 'plain'}`}>
            <span className="mono muted">{clock(e.ts)}</span>
            <span className="ev-type">{e.type}</span>
            <span className="muted">{summarize(e.payload)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

const TASK_MARK: Record<TaskView['state'], string> = { open: '○', blocked: '⊘', done: '✓', reviewed: '✓✓' };

/** The run's task ledger: loopd's own record of the plan, not the agent's edits of it. */
function Tasks({ run }: { run: RunDetail }) {
  if (run.tasks.length === 0) return null;
  return (
    <ul className="tasks" data-testid="tasks">
      {run.tasks.map((t) => (
        <li key={t.id} className={`task-${t.state}`} data-state={t.state}>
          <span className="mark">{TASK_MARK[t.state]}</span> {t.text}
          {t.tickedIteration !== null && <span className="muted"> · iteration {t.tickedIteration}</span>}
        </li>
      ))}
    </ul>
  );
}

export function RunPage({ id }: { id: string }) {
  const [tab, setTab] = useState<Tab>('output');
  const run = useQuery({ queryKey: ['run', id], queryFn: () => trpc.runs.get.query({ run: id }) });
  const events = useQuery({ queryKey: ['events', id], queryFn: () => trpc.runs.eventsList.query({ run: id, limit: 10000 }) });
  if (run.error) return <p className="error">{errorText(run.error)}</p>;
  if (!run.data) return <p className="muted">loading…</p>;
  const r = run.data;
  const evs = events.data ?? [];
  const pct = r.tasksTotal ? Math.round(((r.tasksDone ?? 0) / r.tasksTotal) * 100) : null;
  return (
    <section className="run" data-testid="run-page" data-status={r.status} data-review={r.review.status}>
      <p>
        <a href="#/">← all runs</a>
      </p>
      <div className="run-head">
        <h1>{r.name}</h1>
        <StatusBadge status={r.status} />
        <ReviewBadge review={r.review} />
        <span className="muted mono">{r.id}</span>
      </div>
      <div className="facts">
        <div>
          <span className="muted">spec</span> <span className="mono">{r.specPath}</span>
        </div>
        <div>
          <span className="muted">branch</span> <span className="mono">{r.runBranch}</span> <span className="muted">from</span>{' '}
          <span className="mono">{r.baseBranch}</span>
        </div>
        <div>
          <span className="muted">workspace</span> <span className="mono">{r.workspaceRoot}</span>
        </div>
        <div>
          <span className="muted">cost</span> {usd(r.costUsd)} <span className="muted">· tokens in {r.inputTokens.toLocaleString()} / out {r.outputTokens.toLocaleString()}</span>
        </div>
        <div>
          <span className="muted">time</span> {r.startedAt ? duration((r.endedAt ?? Date.now()) - r.startedAt) : 'not started'}
          {r.exitReason && <span className="muted"> · ended: {r.exitReason}</span>}
        </div>
        {r.lastError && <div className="error">{r.lastError}</div>}
      </div>
      {r.tasksTotal !== null && (
        <div className="progress" data-testid="task-progress" title={`${r.tasksDone ?? 0} of ${r.tasksTotal} tasks done`}>
          <div className="bar" style={{ width: `${pct}%` }} />
          <span>
            {r.tasksDone ?? 0}/{r.tasksTotal} tasks
          </span>
        </div>
      )}
      <Tasks run={r} />
      <Checklist run={r} events={evs} />
      <Actions run={r} />
      <nav className="tabs">
        {(['output', 'diff', 'timeline'] as const).map((t) => (
          <button key={t} className={tab === t ? 'active' : ''} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
            {t === 'output' ? 'Agent output' : t === 'diff' ? 'Diff' : `Timeline (${evs.length})`}
          </button>
        ))}
      </nav>
      {tab === 'output' && <Output runId={r.id} />}
      {tab === 'diff' && <DiffView runId={r.id} />}
      {tab === 'timeline' && <Timeline run={r} events={evs} />}
    </section>
  );
}
