// The decisions on a run's work, each behind a confirmation dialog that says what will happen.
import { useMutation } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { errorText, queryClient, trpc, type RunDetail } from './api.js';

type Action = 'merge' | 'scrap' | 'pr' | 'cancel';

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELED']);

export function Actions({ run }: { run: RunDetail }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [target, setTarget] = useState('');
  const [strategy, setStrategy] = useState<'squash' | 'merge'>('squash');
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);

  const mutation = useMutation({
    mutationFn: async (a: Action): Promise<string> => {
      if (a === 'merge') return (await trpc.runs.merge.mutate({ run: run.id, target: target.trim() || undefined, strategy })).message;
      if (a === 'scrap') return (await trpc.runs.scrap.mutate({ run: run.id })).message;
      if (a === 'pr') return (await trpc.runs.createPr.mutate({ run: run.id })).message;
      const r = await trpc.runs.cancel.mutate({ run: run.id });
      return `run ${r.name} is ${r.status}`;
    },
    onSuccess: (text) => setResult({ ok: true, text }),
    onError: (e) => setResult({ ok: false, text: errorText(e) }),
    onSettled: () => {
      dialog.current?.close();
      void queryClient.invalidateQueries({ queryKey: ['run', run.id] });
      void queryClient.invalidateQueries({ queryKey: ['diff', run.id] });
      void queryClient.invalidateQueries({ queryKey: ['runs'] });
    },
  });

  const open = (a: Action) => {
    setAction(a);
    setResult(null);
    if (a === 'merge') {
      setTarget(run.mergeTargetBranch ?? '');
      setStrategy(run.mergeStrategy === 'merge' ? 'merge' : 'squash');
    }
    dialog.current?.showModal();
  };

  const ended = ENDED.has(run.status);
  const rv = run.review.status;
  const canMerge = ended && (rv === 'pending' || rv === 'pr_opened');
  const canScrap = ended && (rv === 'pending' || rv === 'pr_opened');
  const canPr = ended && rv === 'pending';

  return (
    <div className="actions">
      <button onClick={() => open('merge')} disabled={!canMerge} data-testid="action-merge">
        Merge…
      </button>
      <button onClick={() => open('pr')} disabled={!canPr} data-testid="action-pr">
        Open PR…
      </button>
      <button className="danger" onClick={() => open('scrap')} disabled={!canScrap} data-testid="action-scrap">
        Scrap…
      </button>
      {!ended && (
        <button className="danger" onClick={() => open('cancel')} data-testid="action-cancel">
          Cancel run…
        </button>
      )}
      {result && (
        <span className={result.ok ? 'ok' : 'error'} data-testid="action-result">
          {result.text}
        </span>
      )}
      <dialog ref={dialog} data-testid="confirm-dialog" onClose={() => setAction(null)}>
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            if (action) mutation.mutate(action);
          }}
        >
          {action === 'merge' && (
            <>
              <h3>Merge {run.runBranch}?</h3>
              <p>
                loopd writes the merge with git plumbing: no checkout changes, and a branch checked out somewhere is refused. An empty target means the
                base branch ({run.baseBranch}).
              </p>
              <label>
                into branch <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder={run.baseBranch} data-testid="merge-target" />
              </label>
              <label>
                as{' '}
                <select value={strategy} onChange={(e) => setStrategy(e.target.value as 'squash' | 'merge')}>
                  <option value="squash">one squashed commit</option>
                  <option value="merge">a merge commit</option>
                </select>
              </label>
            </>
          )}
          {action === 'scrap' && (
            <>
              <h3>Scrap {run.name}?</h3>
              <p>
                This deletes the branch <code>{run.runBranch}</code> and the worktree <code>{run.worktreePath}</code>, with any work in them that is not
                merged. The run's record, events and logs stay.
              </p>
            </>
          )}
          {action === 'pr' && (
            <>
              <h3>Open a pull request?</h3>
              <p>
                loopd pushes <code>{run.runBranch}</code> to the remote <code>origin</code> and opens a pull request into <code>{run.baseBranch}</code> with
                the GitHub CLI.
              </p>
            </>
          )}
          {action === 'cancel' && (
            <>
              <h3>Cancel {run.name}?</h3>
              <p>The agent is stopped; the branch and worktree are kept.</p>
            </>
          )}
          <div className="dialog-buttons">
            <button type="button" onClick={() => dialog.current?.close()}>
              Keep as is
            </button>
            <button type="submit" className={action === 'scrap' || action === 'cancel' ? 'danger' : 'primary'} disabled={mutation.isPending} data-testid="confirm">
              {mutation.isPending ? 'Working…' : action === 'merge' ? 'Merge' : action === 'scrap' ? 'Scrap' : action === 'pr' ? 'Push and open' : 'Cancel run'}
            </button>
          </div>
        </form>
      </dialog>
    </div>
  );
}
