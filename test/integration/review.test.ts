// The review API: runs.diff, runs.merge, runs.scrap, runs.createPr, each in its right and wrong
// states and called twice.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../router/index.js';
import { commandFlags, FAKE_AGENT, git, makeRepo, tempDir, sqliteDescribe, sqliteIt, startTestDaemon, type TestDaemon, type TestRepo, waitFor, waitForRun } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

async function finishedRun(repo: TestRepo, extra: Record<string, string | number | boolean> = {}, agent = FAKE_AGENT): Promise<RunView> {
  const run = await t.client.runs.create.mutate({
    cwd: repo.root,
    spec: 'specs/demo.md',
    flags: commandFlags(agent, { merge_strategy: 'none', reviewer: false, ...extra }),
  });
  const done = await waitForRun(t.client, run.id);
  expect(done.status).toBe('COMPLETED');
  return done;
}

// One finished two-task run, with uncommitted work in the user checkout, made by whichever test asks
// first: runs.diff only reads it, and the merge test then merges it (its diff stays the same).
let twoTasks: Promise<{ repo: TestRepo; run: RunView }> | undefined;
function twoTaskRun(): Promise<{ repo: TestRepo; run: RunView }> {
  twoTasks ??= (async () => {
    const repo = makeRepo({ tasks: 2 });
    repo.write('dirty.txt', 'uncommitted work of the user\n');
    return { repo, run: await finishedRun(repo) };
  })();
  return twoTasks;
}

async function eventsOf(runId: string, type: string) {
  return (await t.daemon.store.eventsAfter({ runId, limit: 10000 })).filter((e) => e.type === type);
}

function branchExists(root: string, branch: string): boolean {
  try {
    git(root, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`);
    return true;
  } catch {
    return false;
  }
}

sqliteDescribe('runs.diff', () => {
  it('shows the aggregate change per file with stats, and each iteration on its own', async () => {
    const { repo, run } = await twoTaskRun();
    expect(run.review.status).toBe('pending');

    const d = await t.client.runs.diff.query({ run: run.id });
    expect(d.scope).toBe('run');
    const paths = d.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['task-1.txt', 'task-2.txt', 'specs/planning/demo-plan.md']));
    const task1 = d.files.find((f) => f.path === 'task-1.txt')!;
    expect(task1).toMatchObject({ status: 'added', additions: 1, deletions: 0, binary: false });
    expect(task1.patch).toMatch(/^diff --git a\/task-1.txt b\/task-1.txt/);
    expect(task1.patch).toContain('+run ');
    expect(d.stats.files).toBe(d.files.length);
    expect(d.stats.additions).toBe(d.files.reduce((n, f) => n + f.additions, 0));
    expect(d.from).toBe(git(repo.root, 'rev-parse', 'main'));
    expect(d.to).toBe(git(repo.root, 'rev-parse', run.runBranch));

    expect(d.iterations.map((i) => i.iteration)).toEqual([1, 2]);
    expect(d.iterations[0]!.files.map((f) => f.path)).toContain('task-1.txt');
    expect(d.iterations[0]!.files.map((f) => f.path)).not.toContain('task-2.txt');
    expect(d.iterations[1]!.files.map((f) => f.path)).toContain('task-2.txt');
    // The per-iteration list carries stats; the patches come with `iteration`.
    expect(d.iterations[1]!.files.find((f) => f.path === 'task-2.txt')).toMatchObject({ additions: 1, patch: '' });

    const second = await t.client.runs.diff.query({ run: run.name, iteration: 2 });
    expect(second.scope).toBe('iteration');
    expect(second.files.map((f) => f.path)).toContain('task-2.txt');
    expect(second.files.map((f) => f.path)).not.toContain('task-1.txt');
    expect(second.files.find((f) => f.path === 'task-2.txt')!.patch).toContain('+run ');

    await expect(t.client.runs.diff.query({ run: run.id, iteration: 7 })).rejects.toThrow(/no recorded commits for iteration 7: iterations with a diff are 1, 2/);
    await expect(t.client.runs.diff.query({ run: 'no-such-run' })).rejects.toThrow(/no run matches "no-such-run"/);
  });

  it('reports a rename as one renamed file', async () => {
    const repo = makeRepo({ tasks: 1 });
    repo.write('old-name.txt', 'a\nb\nc\nd\ne\n');
    repo.commit('add a file to rename');
    const agent = `git mv old-name.txt new-name.txt && ${FAKE_AGENT}`;
    const run = await finishedRun(repo, {}, agent);
    const d = await t.client.runs.diff.query({ run: run.id });
    expect(d.files.find((f) => f.path === 'new-name.txt')).toMatchObject({ status: 'renamed', oldPath: 'old-name.txt' });
  });
});

sqliteDescribe('a workspace that is gone', () => {
  it('makes every action a one-line refusal', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await finishedRun(repo);
    // The run's file work (summary, report, mirror) follows its ending and would recreate the
    // workspace's log directory; its artifact rows land when it is done.
    await waitFor(async () => (await t.client.runs.get.query({ run: run.id })).artifacts.some((a) => a.kind === 'summary'));
    rmSync(repo.base, { recursive: true, force: true });
    const gone = /the workspace of run demo .*, .*\/repo, no longer exists/;
    await expect(t.client.runs.diff.query({ run: run.id })).rejects.toThrow(gone);
    await expect(t.client.runs.merge.mutate({ run: run.id, target: 'x' })).rejects.toThrow(gone);
    await expect(t.client.runs.scrap.mutate({ run: run.id })).rejects.toThrow(gone);
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(gone);
    expect((await t.client.runs.get.query({ run: run.id })).review.status).toBe('pending');
  });
});

describe('runs.merge', () => {
  it('merges into a named branch with plumbing only, records who and when, and is idempotent', async () => {
    const { repo, run } = await twoTaskRun();

    // No merge target (merge_strategy=none): the default is the base branch, which is checked out.
    await expect(t.client.runs.merge.mutate({ run: run.id })).rejects.toThrow(/merge target "main" is checked out at .*never changes a checkout/);
    await expect(t.client.runs.merge.mutate({ run: run.id, into: 'target' })).rejects.toThrow(/has no merge target \(merge_strategy=none\)/);
    await expect(t.client.runs.merge.mutate({ run: run.id, target: 'bad branch name' })).rejects.toThrow(/invalid target branch/);
    expect((await t.client.runs.get.query({ run: run.id })).review.status).toBe('pending');

    const r = await t.client.runs.merge.mutate({ run: run.id, target: 'review/demo', actor: 'tester' });
    expect(r.changed).toBe(true);
    expect(r.review).toMatchObject({ status: 'merged', actor: 'tester', automatic: false });
    expect(r.review.detail).toMatchObject({ target: 'review/demo', strategy: 'squash' });
    expect(r.review.at).toBeGreaterThan(0);
    expect(git(repo.root, 'show', 'review/demo:task-2.txt')).toContain('did task 2');
    // One squash commit on top of main; the user's checkout is untouched.
    expect(git(repo.root, 'rev-list', '--count', 'main..review/demo')).toBe('1');
    expect(git(repo.root, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(readFileSync(join(repo.root, 'dirty.txt'), 'utf8')).toBe('uncommitted work of the user\n');
    expect(existsSync(join(repo.root, 'task-1.txt'))).toBe(false);

    const tip = git(repo.root, 'rev-parse', 'review/demo');
    const again = await t.client.runs.merge.mutate({ run: run.id, target: 'review/demo' });
    expect(again.changed).toBe(false);
    expect(again.message).toMatch(/already merged into review\/demo \(by tester/);
    expect(git(repo.root, 'rev-parse', 'review/demo')).toBe(tip);
    expect(await eventsOf(run.id, 'REVIEW_MERGED')).toHaveLength(1);
    expect((await eventsOf(run.id, 'REVIEW_MERGED'))[0]!.payload).toMatchObject({ target: 'review/demo', actor: 'tester' });

    // Decided: no scrap, no pull request.
    await expect(t.client.runs.scrap.mutate({ run: run.id })).rejects.toThrow(/was merged into review\/demo by tester: its work is kept/);
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(/already merged into review\/demo/);
  });

  it('two merges at once make one merge', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await finishedRun(repo);
    const [a, b] = await Promise.all([
      t.client.runs.merge.mutate({ run: run.id, target: 'review/twice' }),
      t.client.runs.merge.mutate({ run: run.id, target: 'review/twice' }),
    ]);
    expect([a.changed, b.changed].sort()).toEqual([false, true]);
    expect(git(repo.root, 'rev-list', '--count', 'main..review/twice')).toBe('1');
    expect(await eventsOf(run.id, 'REVIEW_MERGED')).toHaveLength(1);
  });

  sqliteIt('uses the run merge target and its strategy by default', async () => {
    const repo = makeRepo({ tasks: 1 });
    // The automatic merge fails: the target is checked out in another worktree at merge time.
    const holder = join(repo.base, 'holder');
    git(repo.root, 'worktree', 'add', '-q', '-b', 'agent/held', holder, 'main');
    // The agent itself holds the target, so it is held after creation (which refuses a checked-out
    // target) and before the merge step, whatever the timing.
    const run = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(`git -C ${holder} checkout -q -b agent/target && ${FAKE_AGENT}`, { reviewer: false, merge_strategy: 'merge', merge_target_branch: 'agent/target' }),
    });
    const done = await waitForRun(t.client, run.id);
    expect(done.status).toBe('FAILED');
    expect(done.review.status).toBe('pending');
    git(holder, 'checkout', '-q', 'agent/held');

    const r = await t.client.runs.merge.mutate({ run: run.id });
    expect(r.review.detail).toMatchObject({ target: 'agent/target', strategy: 'merge' });
    // A true merge: the run branch's tip is an ancestor of the target.
    git(repo.root, 'merge-base', '--is-ancestor', run.runBranch, 'agent/target');
  });

  it('reports a conflict with the files, and records nothing', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await finishedRun(repo, {}, `FAKE_FILE=same.txt ${FAKE_AGENT}`);
    git(repo.root, 'checkout', '-q', '-b', 'review/conflict');
    repo.write('same.txt', 'something else entirely\n');
    repo.commit('conflicting change');
    git(repo.root, 'checkout', '-q', 'main');
    await expect(t.client.runs.merge.mutate({ run: run.id, target: 'review/conflict' })).rejects.toThrow(/conflicts in same\.txt: resolve it on the run branch/);
    expect((await t.client.runs.get.query({ run: run.id })).review.status).toBe('pending');
    expect(await eventsOf(run.id, 'MERGE_CONFLICT')).toHaveLength(1);
    expect(await eventsOf(run.id, 'REVIEW_MERGED')).toHaveLength(0);
  });

  it('shows a run that merged itself as merged by loopd', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT, { reviewer: false }) });
    const done = await waitForRun(t.client, run.id);
    expect(done.review).toMatchObject({ status: 'merged', actor: 'loopd', automatic: true });
    const again = await t.client.runs.merge.mutate({ run: run.id });
    expect(again.changed).toBe(false);
  });
});

describe('runs.scrap', () => {
  it('is refused while the run runs; afterwards deletes branch and worktree, keeps the record, and is idempotent', async () => {
    const repo = makeRepo({ tasks: 2 });
    const run = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(`FAKE_SLEEP_MS=60000 ${FAKE_AGENT}`, { merge_strategy: 'none', reviewer: false }),
    });
    await waitFor(async () => (await t.client.runs.get.query({ run: run.id })).status === 'RUNNING');
    await expect(t.client.runs.scrap.mutate({ run: run.id })).rejects.toThrow(/is RUNNING: only a finished run can be scrapped; wait for it to end, or cancel it/);
    await expect(t.client.runs.merge.mutate({ run: run.id, target: 'x' })).rejects.toThrow(/is RUNNING: only a finished run can be merged/);
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(/is RUNNING: only a finished run can be proposed/);
    await t.client.runs.cancel.mutate({ run: run.id });
    await waitFor(() => existsSync(run.worktreePath));

    const r = await t.client.runs.scrap.mutate({ run: run.id, actor: 'tester' });
    expect(r.changed).toBe(true);
    expect(r.review).toMatchObject({ status: 'scrapped', actor: 'tester' });
    expect(branchExists(repo.root, run.runBranch)).toBe(false);
    expect(existsSync(run.worktreePath)).toBe(false);
    // The record stays.
    const kept = await t.client.runs.get.query({ run: run.id });
    expect(kept.status).toBe('CANCELED');
    expect(kept.review.status).toBe('scrapped');
    expect(kept.steps.length).toBeGreaterThan(0);

    const again = await t.client.runs.scrap.mutate({ run: run.id });
    expect(again.changed).toBe(false);
    expect(again.review.actor).toBe('tester');
    expect(await eventsOf(run.id, 'RUN_SCRAPPED')).toHaveLength(1);

    await expect(t.client.runs.merge.mutate({ run: run.id, target: 'x' })).rejects.toThrow(/was scrapped by tester .*nothing to merge/);
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(/was scrapped by tester/);
    await expect(t.client.runs.diff.query({ run: run.id })).rejects.toThrow(/has no branch run\/demo to diff: it was scrapped by tester/);
  });
});

describe('runs.createPr', () => {
  function fakeGh(opts: { auth: 'ok' | 'fail' }): { dir: string; log: string } {
    const dir = tempDir('loopd-gh-');
    const log = join(dir, 'calls.log');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'gh'),
      `#!/bin/sh
echo "$*" >> ${JSON.stringify(log)}
if [ "$1" = auth ]; then
  ${opts.auth === 'ok' ? 'echo "Logged in to github.com"; exit 0' : 'echo "You are not logged into any GitHub hosts" >&2; exit 1'}
fi
if [ "$1" = pr ] && [ "$2" = create ]; then
  echo "https://github.com/example/repo/pull/7"
  exit 0
fi
echo "unexpected gh call: $*" >&2
exit 2
`,
    );
    chmodSync(join(dir, 'gh'), 0o755);
    return { dir, log };
  }

  // One finished run for the three: the refusals below record nothing, and the remote is read when
  // the pull request is asked for, so it can be added after the run.
  let repo: TestRepo;
  let run: RunView;
  beforeAll(async () => {
    repo = makeRepo({ tasks: 1 });
    run = await finishedRun(repo);
  });

  sqliteIt('says clearly when gh is missing or not logged in', async () => {
    process.env.PATH = '/usr/bin:/bin';
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(/the GitHub CLI \(gh\) is not on the daemon's PATH: install it/);
    const gh = fakeGh({ auth: 'fail' });
    process.env.PATH = `${gh.dir}:${savedPath}`;
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(/gh is not logged in to GitHub: run gh auth login/);
    expect((await t.client.runs.get.query({ run: run.id })).review.status).toBe('pending');
  });

  sqliteIt('says clearly when there is no remote', async () => {
    const gh = fakeGh({ auth: 'ok' });
    process.env.PATH = `${gh.dir}:${savedPath}`;
    await expect(t.client.runs.createPr.mutate({ run: run.id })).rejects.toThrow(/has no git remote: add one \(git remote add origin URL\)/);
  });

  it('pushes the run branch, opens the pull request once, and records its URL', async () => {
    const remote = join(tempDir('loopd-remote-'), 'origin.git');
    git(repo.base, 'init', '-q', '--bare', remote);
    git(repo.root, 'remote', 'add', 'origin', remote);
    const gh = fakeGh({ auth: 'ok' });
    process.env.PATH = `${gh.dir}:${savedPath}`;

    const r = await t.client.runs.createPr.mutate({ run: run.id, draft: true, actor: 'tester' });
    expect(r.changed).toBe(true);
    expect(r.review).toMatchObject({ status: 'pr_opened', actor: 'tester' });
    expect(r.review.detail).toMatchObject({ url: 'https://github.com/example/repo/pull/7', remote: 'origin', base: 'main', head: run.runBranch, draft: true });
    expect(git(remote, 'rev-parse', run.runBranch)).toBe(git(repo.root, 'rev-parse', run.runBranch));
    const calls = readFileSync(gh.log, 'utf8');
    expect(calls).toMatch(new RegExp(`pr create --head ${run.runBranch} --base main --title loopd: demo --body [^]*--draft`));

    const again = await t.client.runs.createPr.mutate({ run: run.id });
    expect(again.changed).toBe(false);
    expect(again.message).toContain('https://github.com/example/repo/pull/7');
    expect(readFileSync(gh.log, 'utf8').match(/pr create/g)).toHaveLength(1);
    expect(await eventsOf(run.id, 'PR_OPENED')).toHaveLength(1);

    // An open pull request can still be merged locally, or scrapped.
    const merged = await t.client.runs.merge.mutate({ run: run.id, target: 'review/pr' });
    expect(merged.review.status).toBe('merged');
  });
});
