import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { RUN_STATUSES, errorText, trpc, type ReviewStatus, type RunStatus, type RunView } from './api.js';
import { ReviewBadge, StatusBadge } from './Badges.js';
import { age, basename, usd } from './format.js';

function matches(run: RunView, text: string): boolean {
  if (text === '') return true;
  const hay = [run.name, run.id, run.specPath, run.runBranch, run.workspaceRoot, run.exitReason ?? '', run.lastError ?? ''].join('\n').toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

interface Filters {
  status: RunStatus | '';
  workspace: string;
  text: string;
  review: ReviewStatus | '';
}

function FilterBar({ filters, set, shown, total }: { filters: Filters; set: (change: Partial<Filters>) => void; shown: number; total: number }) {
  const workspaces = useQuery({ queryKey: ['workspaces'], queryFn: () => trpc.workspaces.list.query() });
  return (
    <div className="filters">
      <label>
        status{' '}
        <select value={filters.status} onChange={(e) => set({ status: e.target.value as RunStatus | '' })} data-testid="filter-status">
          <option value="">all</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
      </label>
      <label>
        workspace{' '}
        <select value={filters.workspace} onChange={(e) => set({ workspace: e.target.value })} data-testid="filter-workspace">
          <option value="">all</option>
          {(workspaces.data ?? []).map((w) => (
            <option key={w.root} value={w.root}>
              {w.root}
            </option>
          ))}
        </select>
      </label>
      <label>
        review{' '}
        <select value={filters.review} onChange={(e) => set({ review: e.target.value as ReviewStatus | '' })} data-testid="filter-review">
          <option value="">all</option>
          <option value="pending">pending</option>
          <option value="merged">merged</option>
          <option value="pr_opened">PR open</option>
          <option value="scrapped">scrapped</option>
        </select>
      </label>
      <input
        type="search"
        placeholder="filter by name, spec, branch, id, error…"
        value={filters.text}
        onChange={(e) => set({ text: e.target.value })}
        data-testid="filter-text"
      />
      <span className="muted">
        {shown} of {total} runs
      </span>
    </div>
  );
}

function RunRow({ r }: { r: RunView }) {
  return (
    <tr data-run-id={r.id} data-status={r.status} onClick={() => (window.location.hash = `#/runs/${r.id}`)}>
      <td>
        <a href={`#/runs/${r.id}`}>{r.name}</a> <span className="muted mono">{r.shortId ?? r.id.slice(0, 8)}</span>
      </td>
      <td>
        <StatusBadge status={r.status} />
      </td>
      <td>
        <ReviewBadge review={r.review} />
      </td>
      <td title={r.workspaceRoot}>{basename(r.workspaceRoot)}</td>
      <td className="mono">{r.specPath}</td>
      <td>
        {r.phase ? `it. ${r.iteration} · ${r.phase}` : '—'}
        {r.tasksTotal !== null && <span className="muted"> · {r.tasksDone ?? 0}/{r.tasksTotal} tasks</span>}
      </td>
      <td className="num">{usd(r.costUsd)}</td>
      <td className="muted">{age(r.createdAt)}</td>
    </tr>
  );
}

export function RunList() {
  const [filters, setFilters] = useState<Filters>({ status: '', workspace: '', text: '', review: '' });
  const { status, workspace, text, review } = filters;
  const runs = useQuery({
    queryKey: ['runs', status, workspace],
    queryFn: () => trpc.runs.list.query({ ...(status ? { status: [status] } : {}), ...(workspace ? { workspace } : {}), limit: 500 }),
  });
  const shown = useMemo(() => (runs.data ?? []).filter((r) => matches(r, text.trim()) && (review === '' || r.review.status === review)), [runs.data, text, review]);

  return (
    <section>
      <FilterBar filters={filters} set={(change) => setFilters((f) => ({ ...f, ...change }))} shown={shown.length} total={runs.data?.length ?? 0} />
      {runs.error && <p className="error">{errorText(runs.error)}</p>}
      <table className="runs" data-testid="run-list">
        <thead>
          <tr>
            <th>run</th>
            <th>status</th>
            <th>review</th>
            <th>workspace</th>
            <th>spec</th>
            <th>progress</th>
            <th className="num">cost</th>
            <th>created</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <RunRow key={r.id} r={r} />
          ))}
          {runs.isSuccess && shown.length === 0 && (
            <tr>
              <td colSpan={8} className="muted empty">
                No runs{status || workspace || text || review ? ' match these filters' : ' yet: start one with loopctl run specs/x.md'}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
