// The decisions on a run's work, each behind a confirmation dialog that says what will happen.
import { useMutation } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { errorText, queryClient, trpc, type RunDetail } from './api.js';
import { ActionExplanation, type Action, type MergeChoice } from './ActionExplanation.js';

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELED']);

const CONFIRM_LABEL: Record<Action, string> = { merge: 'Merge', scrap: 'Scrap', pr: 'Push and open', cancel: 'Cancel run' };

/** Runs an action against the daemon; whatever happens, the run's views are fetched again. */
function useRunAction(run: RunDetail, merge: MergeChoice, done: (result: { ok: boolean; text: string }) => void) {
  return useMutation({
    mutationFn: async (a: Action): Promise<string> => {
      if (a === 'merge') return (await trpc.runs.merge.mutate({ run: run.id, target: merge.target.trim() || undefined, strategy: merge.strategy })).message;
      if (a === 'scrap') return (await trpc.runs.scrap.mutate({ run: run.id })).message;
      if (a === 'pr') return (await trpc.runs.createPr.mutate({ run: run.id })).message;
      const r = await trpc.runs.cancel.mutate({ run: run.id });
      return `run ${r.name} is ${r.status}`;
    },
    onSuccess: (text) => done({ ok: true, text }),
    onError: (e) => done({ ok: false, text: errorText(e) }),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ['run', run.id] });
      void queryClient.invalidateQueries({ queryKey: ['diff', run.id] });
      void queryClient.invalidateQueries({ queryKey: ['runs'] });
    },
  });
}

/** Which decisions the run's state allows. */
function allowed(run: RunDetail) {
  const ended = ENDED.has(run.status);
  const rv = run.review.status;
  return { ended, merge: ended && (rv === 'pending' || rv === 'pr_opened'), scrap: ended && (rv === 'pending' || rv === 'pr_opened'), pr: ended && rv === 'pending' };
}

function ActionButtons({ run, open }: { run: RunDetail; open: (a: Action) => void }) {
  const can = allowed(run);
  return (
    <>
      <button onClick={() => open('merge')} disabled={!can.merge} data-testid="action-merge">
        Merge…
      </button>
      <button onClick={() => open('pr')} disabled={!can.pr} data-testid="action-pr">
        Open PR…
      </button>
      <button className="danger" onClick={() => open('scrap')} disabled={!can.scrap} data-testid="action-scrap">
        Scrap…
      </button>
      {!can.ended && (
        <button className="danger" onClick={() => open('cancel')} data-testid="action-cancel">
          Cancel run…
        </button>
      )}
    </>
  );
}

export function Actions({ run }: { run: RunDetail }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [merge, setMerge] = useState<MergeChoice>({ target: '', strategy: 'squash' });
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const mutation = useRunAction(run, merge, (r) => {
    setResult(r);
    dialog.current?.close();
  });

  const open = (a: Action) => {
    setAction(a);
    setResult(null);
    if (a === 'merge') setMerge({ target: run.mergeTargetBranch ?? '', strategy: run.mergeStrategy === 'merge' ? 'merge' : 'squash' });
    dialog.current?.showModal();
  };

  return (
    <div className="actions">
      <ActionButtons run={run} open={open} />
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
          {action && <ActionExplanation action={action} run={run} merge={merge} setMerge={setMerge} />}
          <div className="dialog-buttons">
            <button type="button" onClick={() => dialog.current?.close()}>
              Keep as is
            </button>
            <button type="submit" className={action === 'scrap' || action === 'cancel' ? 'danger' : 'primary'} disabled={mutation.isPending} data-testid="confirm">
              {mutation.isPending ? 'Working…' : CONFIRM_LABEL[action ?? 'cancel']}
            </button>
          </div>
        </form>
      </dialog>
    </div>
  );
}
