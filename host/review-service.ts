// Decisions on a finished run's work: read its diff, merge it, scrap it, or open a pull request.
// Git work happens first and is idempotent (a merge recognises its own trailer, removing a removed
// worktree is a no-op, pushing twice pushes nothing); the decision is then recorded together with
// its event in one transaction. Actions on one run are serialized, so a double click is one action.
import type { EventPayloads, LoopEvent } from '../core/events.js';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { deleteBranch, diffCommits, forkPoint, pushBranch, type DiffView } from '../core/diff.js';
import { branchExists, GitError, resolveCommit } from '../core/git.js';
import { isTerminalRunStatus } from '../core/types.js';
import { findOnPath, removeRunWorktree } from '../core/worktree.js';
import { mergeRunBranch } from '../functions/merge.js';
import { runInput } from './run-input.js';
import { reviewView } from './review-view.js';
import { UserError } from './service.js';
import type { LoopStore, RunRecord, StoreTx } from './store/types.js';
import type { IterationDiffView, ReviewActionResult, ReviewView, RunDiffView, RunView } from './views.js';

export interface ReviewDeps {
  store: LoopStore;
  resolveRun(ref: string): Promise<RunRecord>;
  view(run: RunRecord): Promise<RunView>;
}

export interface MergeOptions {
  actor: string;
  /** Merge into the run's merge target (default when it has one) or into its base branch. */
  into?: 'target' | 'base' | undefined;
  /** An explicit target branch; wins over `into`. */
  target?: string | undefined;
  strategy?: 'merge' | 'squash' | undefined;
}

export interface PrOptions {
  actor: string;
  remote?: string | undefined;
  /** The PR's base branch on the remote: the run's base branch (default) or its merge target. */
  into?: 'base' | 'target' | undefined;
  title?: string | undefined;
  draft?: boolean | undefined;
}

const BRANCH_RE = /^[A-Za-z0-9._/-]+$/;

/** "run demo (01a22a1b)": the name and the shortest unique id prefix, as every message names a run. */
async function label(run: RunRecord, store: LoopStore): Promise<string> {
  return `run ${run.name} (${await store.shortRunId(run.id)})`;
}

function when(ts: number | null): string {
  return ts ? new Date(ts).toISOString() : 'an unknown time';
}

export class ReviewService {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly d: ReviewDeps) {}

  /** One action per run at a time; the next one sees the state the previous one left. */
  private serialize<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(runId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    const tail = next.catch(() => {});
    this.locks.set(runId, tail);
    void tail.then(() => {
      if (this.locks.get(runId) === tail) this.locks.delete(runId);
    });
    return next;
  }

  private async review(run: RunRecord): Promise<ReviewView> {
    return reviewView(this.d.store, run, await this.d.store.stepsForRun(run.id));
  }

  private async result(runId: string, changed: boolean, message: string): Promise<ReviewActionResult> {
    const run = (await this.d.store.getRun(runId))!;
    return { run: await this.d.view(run), review: await this.review(run), changed, message };
  }

  /** The run as it is now (the previous action on it may have changed it), with its review status. */
  private async current(runId: string): Promise<{ run: RunRecord; review: ReviewView; label: string }> {
    const run = (await this.d.store.getRun(runId))!;
    return { run, review: await this.review(run), label: await label(run, this.d.store) };
  }

  private requireWorkspace(run: RunRecord, name: string): void {
    if (!existsSync(run.workspace_root)) {
      throw new UserError(`the workspace of ${name}, ${run.workspace_root}, no longer exists: nothing of the run's git work can be reached`, 'CONFLICT');
    }
  }

  private requireFinished(run: RunRecord, name: string, action: string): void {
    if (!isTerminalRunStatus(run.status)) {
      throw new UserError(
        `${name} is ${run.status}: only a finished run can be ${action}; wait for it to end, or cancel it (loopctl cancel ${run.name})`,
        'CONFLICT',
      );
    }
  }

  // ---- diff ---------------------------------------------------------------------------------

  async diff(ref: string, opts: { iteration?: number | undefined } = {}): Promise<RunDiffView> {
    const run = await this.d.resolveRun(ref);
    const name = await label(run, this.d.store);
    try {
      return await this.diffOf(run, name, opts);
    } catch (e) {
      if (e instanceof UserError) throw e;
      // A workspace moved or deleted since the run, a corrupt repository: say which, not "internal error".
      throw new UserError(`cannot diff ${name} in ${run.workspace_root}: ${e instanceof Error ? e.message : String(e)}`, 'CONFLICT');
    }
  }

  private async diffOf(run: RunRecord, name: string, opts: { iteration?: number | undefined }): Promise<RunDiffView> {
    this.requireWorkspace(run, name);
    const root = run.workspace_root;
    const review = await this.review(run);
    const tip = await resolveCommit(root, `refs/heads/${run.run_branch}`).catch(() => null);
    if (tip === null) {
      const why =
        review.status === 'scrapped'
          ? `it was scrapped by ${review.actor} at ${when(review.at)}`
          : run.status === 'PENDING'
            ? 'the run has not started yet'
            : 'it was deleted outside loopd';
      throw new UserError(`${name} has no branch ${run.run_branch} to diff: ${why}`, 'NOT_FOUND');
    }
    const base = await forkPoint(root, run.base_branch, tip);
    if (base === null) {
      throw new UserError(`cannot diff ${name}: its base branch ${run.base_branch} no longer exists or shares no history with ${run.run_branch}`, 'CONFLICT');
    }
    const iterations = await this.iterationDiffs(run, tip);
    const head = { runId: run.id, runBranch: run.run_branch, baseBranch: run.base_branch };
    if (opts.iteration !== undefined) {
      const it = iterations.find((i) => i.iteration === opts.iteration);
      if (!it) {
        const have = iterations.map((i) => i.iteration);
        throw new UserError(
          `${name} has no recorded commits for iteration ${opts.iteration}${have.length ? `: iterations with a diff are ${have.join(', ')}` : ': no iteration has run yet'}`,
          'NOT_FOUND',
        );
      }
      const one = await diffCommits(root, it.from, it.to);
      return { ...head, scope: 'iteration', iteration: it.iteration, from: it.from, to: it.to, files: one.files, stats: one.stats, iterations };
    }
    const all = await diffCommits(root, base, tip);
    return { ...head, scope: 'run', iteration: null, from: base, to: tip, files: all.files, stats: all.stats, iterations };
  }

  /**
   * Per-file stats of each iteration (patches on request: `iteration: N`). Iteration N covers the
   * commits from its start (the implementation step's recorded HEAD before the agent ran) to the
   * start of iteration N+1, or the branch tip: its review and verification commits belong to it too.
   */
  private async iterationDiffs(run: RunRecord, tip: string): Promise<IterationDiffView[]> {
    const starts = new Map<number, string>();
    for (const s of await this.d.store.stepsForRun(run.id)) {
      if (s.phase !== 'implementation' || !s.result || starts.has(s.iteration)) continue;
      const before = s.result.commitBefore;
      if (typeof before === 'string' && before !== '') starts.set(s.iteration, before);
    }
    const ordered = [...starts.entries()].sort((a, b) => a[0] - b[0]);
    const one = async (i: number): Promise<IterationDiffView | null> => {
      const [iteration, from] = ordered[i]!;
      const to = ordered[i + 1]?.[1] ?? tip;
      let d: DiffView;
      try {
        d = await diffCommits(run.workspace_root, from, to, { patches: false });
      } catch {
        return null; // a commit the agent rewrote away (force-moved branch): nothing reliable to show
      }
      return { iteration, from, to, stats: d.stats, files: d.files };
    };
    // A few git processes at a time: each is mostly start-up, and a long run has many iterations.
    const out: IterationDiffView[] = [];
    for (let i = 0; i < ordered.length; i += 4) {
      const batch = await Promise.all([i, i + 1, i + 2, i + 3].filter((k) => k < ordered.length).map(one));
      for (const d of batch) if (d) out.push(d);
    }
    return out;
  }

  // ---- merge --------------------------------------------------------------------------------

  async merge(ref: string, opts: MergeOptions): Promise<ReviewActionResult> {
    const first = await this.d.resolveRun(ref);
    return this.serialize(first.id, async () => {
      const { run, review, label: name } = await this.current(first.id);
      if (review.status === 'merged') {
        const t = String(review.detail.target ?? run.merge_target_branch ?? '?');
        return this.result(run.id, false, `${name} is already merged into ${t} (by ${review.actor} at ${when(review.at)})`);
      }
      if (review.status === 'scrapped') {
        throw new UserError(`${name} was scrapped by ${review.actor} at ${when(review.at)}: its branch is gone, nothing to merge`, 'CONFLICT');
      }
      this.requireFinished(run, name, 'merged');
      this.requireWorkspace(run, name);
      const target = this.mergeTarget(run, name, opts);
      const strategy = opts.strategy ?? (run.merge_strategy === 'merge' ? 'merge' : 'squash');
      if (!(await branchExists(run.workspace_root, run.run_branch))) {
        throw new UserError(`${name} has no branch ${run.run_branch} (deleted outside loopd): nothing to merge`, 'CONFLICT');
      }
      return this.mergeNow(run, name, target, strategy, opts.actor);
    });
  }

  /** The git merge first (idempotent: it recognises its own trailer), then its record and events. */
  private async mergeNow(run: RunRecord, name: string, target: string, strategy: 'merge' | 'squash', actor: string): Promise<ReviewActionResult> {
    const events: LoopEvent[] = [];
    let res;
    try {
      res = await mergeRunBranch(runInput(run), { target, strategy }, (type, payload) => events.push({ type, payload } as LoopEvent));
    } catch (e) {
      if (e instanceof GitError) throw new UserError(e.message, 'CONFLICT');
      throw e;
    }
    const appendAll = async (tx: StoreTx) => {
      // The union's members pair type and payload; the generic signature cannot see that correlation.
      for (const ev of events) await tx.appendEvent(run.id, null, ev.type, ev.payload as EventPayloads[typeof ev.type]);
    };
    if (res.status === 'conflict') {
      const files = res.conflicts ?? [];
      await this.d.store.transaction(async (tx) => {
        await appendAll(tx);
        await tx.appendEvent(run.id, null, 'MERGE_CONFLICT', { target, runBranch: run.run_branch, conflicts: files, actor });
      });
      throw new UserError(
        `merging ${run.run_branch} into ${target} conflicts${files.length ? ` in ${files.join(', ')}` : ''}: resolve it on the run branch (its worktree is ${run.worktree_path}) and merge again`,
        'CONFLICT',
      );
    }
    if (res.status === 'nothing_to_merge') {
      throw new UserError(`${name} changed nothing that ${target} does not already have: nothing to merge (scrap it instead)`, 'CONFLICT');
    }
    const detail = { target, strategy, commit: res.commit ?? null, result: res.status };
    await this.d.store.transaction(async (tx) => {
      await appendAll(tx);
      await tx.putReview(run.id, 'merged', actor, detail);
      await tx.appendEvent(run.id, null, 'REVIEW_MERGED', { ...detail, actor });
    });
    return this.result(run.id, true, `merged ${run.run_branch} into ${target} (${strategy}${res.commit ? `, commit ${res.commit.slice(0, 12)}` : ', it already held the run'})`);
  }

  private mergeTarget(run: RunRecord, name: string, opts: MergeOptions): string {
    if (opts.target !== undefined) {
      const t = opts.target.trim();
      if (!BRANCH_RE.test(t)) throw new UserError(`invalid target branch "${opts.target}": use letters, digits, ".", "_", "-" and "/"`);
      return t;
    }
    if (opts.into === 'base') return run.base_branch;
    if (run.merge_target_branch) return run.merge_target_branch;
    if (opts.into === 'target') {
      throw new UserError(`${name} has no merge target (merge_strategy=none): merge into its base branch (--into base) or name a branch (--target BRANCH)`);
    }
    return run.base_branch;
  }

  // ---- scrap --------------------------------------------------------------------------------

  async scrap(ref: string, opts: { actor: string }): Promise<ReviewActionResult> {
    const first = await this.d.resolveRun(ref);
    return this.serialize(first.id, async () => {
      const { run, review, label: name } = await this.current(first.id);
      if (review.status === 'scrapped') {
        return this.result(run.id, false, `${name} is already scrapped (by ${review.actor} at ${when(review.at)})`);
      }
      if (review.status === 'merged') {
        throw new UserError(`${name} was merged into ${String(review.detail.target ?? '?')} by ${review.actor}: its work is kept, there is nothing to scrap`, 'CONFLICT');
      }
      this.requireFinished(run, name, 'scrapped');
      this.requireWorkspace(run, name);
      const root = run.workspace_root;
      const worktreeExisted = existsSync(run.worktree_path);
      try {
        await removeRunWorktree({ provider: run.worktree_provider === 'worktrunk' ? 'worktrunk' : 'git', repoRoot: root, branch: run.run_branch, path: run.worktree_path });
      } catch (e) {
        throw new UserError(`cannot remove the worktree of ${name} at ${run.worktree_path}: ${e instanceof Error ? e.message : String(e)}`, 'CONFLICT');
      }
      let branchDeleted: boolean;
      try {
        branchDeleted = await deleteBranch(root, run.run_branch);
      } catch (e) {
        throw new UserError(`cannot delete branch ${run.run_branch} of ${name}: ${e instanceof Error ? e.message : String(e)}`, 'CONFLICT');
      }
      const detail = { branch: run.run_branch, worktree: run.worktree_path, branchDeleted, worktreeRemoved: worktreeExisted, prUrl: review.detail.url ?? null };
      await this.d.store.transaction(async (tx) => {
        await tx.putReview(run.id, 'scrapped', opts.actor, detail);
        await tx.appendEvent(run.id, null, 'RUN_SCRAPPED', { ...detail, actor: opts.actor });
      });
      return this.result(run.id, true, `scrapped ${name}: deleted branch ${run.run_branch} and its worktree; the run's record and logs are kept`);
    });
  }

  // ---- pull request -------------------------------------------------------------------------

  async createPr(ref: string, opts: PrOptions): Promise<ReviewActionResult> {
    const first = await this.d.resolveRun(ref);
    return this.serialize(first.id, async () => {
      const { run, review, label: name } = await this.current(first.id);
      if (review.status === 'pr_opened') {
        return this.result(run.id, false, `a pull request for ${name} is already open: ${String(review.detail.url)}`);
      }
      if (review.status === 'merged') {
        throw new UserError(`${name} is already merged into ${String(review.detail.target ?? '?')} (by ${review.actor}): no pull request needed`, 'CONFLICT');
      }
      if (review.status === 'scrapped') {
        throw new UserError(`${name} was scrapped by ${review.actor} at ${when(review.at)}: its branch is gone, nothing to open a pull request for`, 'CONFLICT');
      }
      this.requireFinished(run, name, 'proposed as a pull request');
      this.requireWorkspace(run, name);
      if (!(await branchExists(run.workspace_root, run.run_branch))) {
        throw new UserError(`${name} has no branch ${run.run_branch} (deleted outside loopd): nothing to push`, 'CONFLICT');
      }
      const detail = await openPullRequest(run, opts);
      await this.d.store.transaction(async (tx) => {
        await tx.putReview(run.id, 'pr_opened', opts.actor, detail);
        await tx.appendEvent(run.id, null, 'PR_OPENED', { ...detail, actor: opts.actor });
      });
      return this.result(run.id, true, `opened ${detail.url} (${run.run_branch} -> ${detail.base})`);
    });
  }
}

/** Pushes the run branch and opens (or finds the already open) pull request with gh. */
async function openPullRequest(run: RunRecord, opts: PrOptions): Promise<{ url: string; remote: string; base: string; head: string; draft: boolean }> {
  const root = run.workspace_root;
  const gh = findOnPath('gh');
  if (gh === null) {
    throw new UserError("the GitHub CLI (gh) is not on the daemon's PATH: install it (https://cli.github.com), run gh auth login, and restart the daemon", 'PRECONDITION_FAILED');
  }
  const env = { ...process.env, GH_PROMPT_DISABLED: '1', NO_COLOR: '1' };
  const auth = await execa(gh, ['auth', 'status'], { cwd: root, env, reject: false, stdin: 'ignore' });
  if (auth.exitCode !== 0) {
    throw new UserError('gh is not logged in to GitHub: run gh auth login (as the user the daemon runs as), then try again', 'PRECONDITION_FAILED');
  }
  const remote = opts.remote?.trim() || 'origin';
  try {
    await pushBranch(root, remote, run.run_branch);
  } catch (e) {
    throw new UserError(e instanceof Error ? e.message : String(e), 'PRECONDITION_FAILED');
  }
  const prBase = opts.into === 'target' ? (run.merge_target_branch ?? run.base_branch) : run.base_branch;
  const title = opts.title?.trim() || `loopd: ${run.name}`;
  const body = `Work of loopd run ${run.name} (${run.id}).\n\nSpec: ${run.spec_path}${run.plan_path ? `\nPlan: ${run.plan_path}` : ''}\nRun branch: ${run.run_branch}\n`;
  const args = ['pr', 'create', '--head', run.run_branch, '--base', prBase, '--title', title, '--body', body, ...(opts.draft ? ['--draft'] : [])];
  const pr = await execa(gh, args, { cwd: root, env, reject: false, stdin: 'ignore' });
  const text = `${pr.stdout ?? ''}\n${pr.stderr ?? ''}`;
  const url = /https?:\/\/\S+/.exec(pr.exitCode === 0 ? String(pr.stdout) : text)?.[0] ?? null;
  // gh refuses a second PR for the same branch and names the open one: that is ours.
  const existing = pr.exitCode !== 0 && /already exists/i.test(text) && url !== null;
  if ((pr.exitCode !== 0 && !existing) || url === null) {
    const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? `exit code ${pr.exitCode}`;
    throw new UserError(`gh pr create failed for ${run.run_branch}: ${line}`, 'PRECONDITION_FAILED');
  }
  return { url, remote, base: prBase, head: run.run_branch, draft: opts.draft === true };
}
