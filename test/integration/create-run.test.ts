// Run creation through the API: placement happens inside the inserting transaction, so concurrent
// requests never share a name or a branch, and a refused placement records nothing.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_AGENT, commandFlags, makeRepo, startTestDaemon, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

// The agent waits, so the runs are still going when the test looks (the harness cancels them).
const flags = commandFlags(`FAKE_SLEEP_MS=60000 ${FAKE_AGENT}`, { merge_strategy: 'none', reviewer: false });

describe('creating runs', () => {
  it('gives concurrent requests for one spec distinct names, branches and worktrees', async () => {
    const repo = makeRepo({ tasks: 1 });
    const made = await Promise.all([1, 2, 3].map(() => t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags })));
    expect(made.map((r) => r.name).sort()).toEqual(['demo', 'demo-2', 'demo-3']);
    expect(new Set(made.map((r) => r.runBranch)).size).toBe(3);
    expect(new Set(made.map((r) => r.worktreePath)).size).toBe(3);
  });

  it('refuses a taken --name and records nothing for it', async () => {
    const repo = makeRepo({ tasks: 1 });
    const first = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'mine', flags });
    const before = (await t.daemon.store.listRuns({ workspace: repo.root })).length;
    await expect(t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'mine', flags })).rejects.toThrow(
      `a run named "mine" already exists in ${repo.root} (${first.shortId}, `,
    );
    expect(await t.daemon.store.listRuns({ workspace: repo.root })).toHaveLength(before);
  });

  it('refuses a worktree path that already exists, without a run or an event', async () => {
    const repo = makeRepo({ tasks: 1 });
    mkdirSync(join(repo.base, 'repo.run-demo'));
    const seq = await t.daemon.store.lastEventSeq();
    await expect(t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags })).rejects.toThrow(/worktree path .*repo\.run-demo already exists/);
    expect(await t.daemon.store.listRuns({ workspace: repo.root })).toHaveLength(0);
    expect(await t.daemon.store.eventsAfter({ workspace: repo.root, afterSeq: seq })).toEqual([]);
  });
});
