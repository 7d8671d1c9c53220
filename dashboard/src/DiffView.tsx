import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { errorText, trpc, type DiffFileView } from './api.js';
import { highlightLine, languageOf } from './highlight.js';

const LINES_SHOWN = 2000;

function FilePatch({ file }: { file: DiffFileView }) {
  const [all, setAll] = useState(false);
  const [open, setOpen] = useState(true);
  const lang = languageOf(file.path);
  const lines = useMemo(() => file.patch.replace(/\n$/, '').split('\n'), [file.patch]);
  const shown = all ? lines : lines.slice(0, LINES_SHOWN);
  return (
    <div className="file" data-testid="diff-file" data-path={file.path}>
      <div className="file-head" onClick={() => setOpen(!open)}>
        <span className={`fstatus fs-${file.status}`}>{file.status}</span>
        <span className="mono">{file.oldPath ? `${file.oldPath} → ${file.path}` : file.path}</span>
        <span className="stat">
          {file.binary ? 'binary' : (
            <>
              <span className="add">+{file.additions}</span> <span className="del">-{file.deletions}</span>
            </>
          )}
        </span>
      </div>
      {open && (
        <table className="patch">
          <tbody>
            {shown.map((l, i) => {
              const kind = /^(diff --git|index |--- |\+\+\+ |new file|deleted file|similarity|rename |old mode|new mode|Binary)/.test(l)
                ? 'meta'
                : l.startsWith('@@')
                  ? 'hunk'
                  : l.startsWith('+')
                    ? 'add'
                    : l.startsWith('-')
                      ? 'del'
                      : 'ctx';
              const code = kind === 'add' || kind === 'del' || kind === 'ctx' ? l.slice(1) : l;
              return (
                <tr key={i} className={`ln ln-${kind}`}>
                  <td className="sign">{kind === 'add' ? '+' : kind === 'del' ? '-' : ''}</td>
                  {kind === 'meta' || kind === 'hunk' ? (
                    <td className="code">{code}</td>
                  ) : (
                    <td className="code hljs" dangerouslySetInnerHTML={{ __html: highlightLine(code, lang) }} />
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {open && !all && lines.length > LINES_SHOWN && (
        <button className="link" onClick={() => setAll(true)}>
          show all {lines.length} lines
        </button>
      )}
      {file.truncated && <p className="muted small">This patch was cut: it is too large to show here (loopctl diff shows the same cut).</p>}
    </div>
  );
}

export function DiffView({ runId }: { runId: string }) {
  const [iteration, setIteration] = useState<number | null>(null);
  const diff = useQuery({
    queryKey: ['diff', runId, iteration],
    queryFn: () => trpc.runs.diff.query({ run: runId, ...(iteration !== null ? { iteration } : {}) }),
  });
  if (diff.error) return <p className="muted">{errorText(diff.error)}</p>;
  if (!diff.data) return <p className="muted">loading the diff…</p>;
  const d = diff.data;
  return (
    <div data-testid="diff">
      <div className="filters">
        <label>
          show{' '}
          <select value={iteration ?? ''} onChange={(e) => setIteration(e.target.value === '' ? null : Number(e.target.value))}>
            <option value="">whole run against {d.baseBranch}</option>
            {d.iterations.map((it) => (
              <option key={it.iteration} value={it.iteration}>
                iteration {it.iteration} ({it.stats.files} files, +{it.stats.additions} -{it.stats.deletions})
              </option>
            ))}
          </select>
        </label>
        <span className="muted mono">
          {d.from.slice(0, 10)}..{d.to.slice(0, 10)} · {d.stats.files} files · <span className="add">+{d.stats.additions}</span>{' '}
          <span className="del">-{d.stats.deletions}</span>
        </span>
      </div>
      {d.files.length === 0 && <p className="muted">No changes.</p>}
      {d.files.map((f) => (
        <FilePatch key={`${d.from}:${f.path}`} file={f} />
      ))}
    </div>
  );
}
