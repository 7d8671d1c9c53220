// What each decision on a run will do, said in the confirmation dialog before it is done.
import type { RunDetail } from './api.js';

export type Action = 'merge' | 'scrap' | 'pr' | 'cancel';

export interface MergeChoice {
  target: string;
  strategy: 'squash' | 'merge';
}

function MergeExplanation({ run, merge, setMerge }: { run: RunDetail; merge: MergeChoice; setMerge: (m: MergeChoice) => void }) {
  return (
    <>
      <h3>Merge {run.runBranch}?</h3>
      <p>
        loopd writes the merge with git plumbing: no checkout changes, and a branch checked out somewhere is refused. An empty target means the base
        branch ({run.baseBranch}).
      </p>
      <label>
        into branch{' '}
        <input value={merge.target} onChange={(e) => setMerge({ ...merge, target: e.target.value })} placeholder={run.baseBranch} data-testid="merge-target" />
      </label>
      <label>
        as{' '}
        <select value={merge.strategy} onChange={(e) => setMerge({ ...merge, strategy: e.target.value as MergeChoice['strategy'] })}>
          <option value="squash">one squashed commit</option>
          <option value="merge">a merge commit</option>
        </select>
      </label>
    </>
  );
}

export function ActionExplanation(props: { action: Action; run: RunDetail; merge: MergeChoice; setMerge: (m: MergeChoice) => void }) {
  const { action, run } = props;
  if (action === 'merge') return <MergeExplanation run={run} merge={props.merge} setMerge={props.setMerge} />;
  if (action === 'scrap') {
    return (
      <>
        <h3>Scrap {run.name}?</h3>
        <p>
          This deletes the branch <code>{run.runBranch}</code> and the worktree <code>{run.worktreePath}</code>, with any work in them that is not merged.
          The run's record, events and logs stay.
        </p>
      </>
    );
  }
  if (action === 'pr') {
    return (
      <>
        <h3>Open a pull request?</h3>
        <p>
          loopd pushes <code>{run.runBranch}</code> to the remote <code>origin</code> and opens a pull request into <code>{run.baseBranch}</code> with the
          GitHub CLI.
        </p>
      </>
    );
  }
  return (
    <>
      <h3>Cancel {run.name}?</h3>
      <p>The agent is stopped; the branch and worktree are kept.</p>
    </>
  );
}
