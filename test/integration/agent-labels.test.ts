// Honest failure labels and cost for every agent, through the real daemon: failures that are not
// the agent's have their own reasons, and a Codex run (replaying a captured real transcript) gets
// its cost from tokens, so max_cost_usd works for it.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEventOf } from '../../core/events.js';
import { FAKE_AGENT_SH, FIXTURES, commandFlags, makeRepo, startTestDaemon, tempDir, waitFor, waitForRun, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

async function failWith(agentCmd: string) {
  const repo = makeRepo({ tasks: 2 });
  const created = await t.client.runs.create.mutate({
    cwd: repo.root,
    spec: 'specs/demo.md',
    flags: commandFlags(agentCmd, { claude_retries: 2, claude_retry_backoff_sec: 0, reviewer: false }),
  });
  const run = await waitForRun(t.client, created.id);
  const detail = await t.client.runs.get.query({ run: run.id });
  return { run, detail };
}

// Independent runs in their own repos: side by side on the one daemon.
describe.concurrent('failures that are not the agent\'s', () => {
  it('an agent that switches the worktree\'s branch: put back (history_rewritten), and the second time the run fails', async () => {
    // docs/truth.md: a switched branch is the agent rewriting history, repaired and counted.
    const { run, detail } = await failWith('git checkout -q -B elsewhere');
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'tampering:history_rewritten' });
    expect(detail.steps.map((s) => `${s.phase}:${s.iteration}`)).toEqual(['implementation:1', 'implementation:2']);
    const evs = await t.client.runs.eventsList.query({ run: run.id, limit: 1000 });
    expect(evs.filter((e) => isEventOf(e, 'SIGNAL')).filter((e) => e.payload.signal === 'history_rewritten').map((e) => e.payload.branch)).toEqual(['elsewhere', 'elsewhere']);
  });

  it('a deleted worktree: worktree_missing, not "spawn git ENOENT"', async () => {
    const { run, detail } = await failWith('rm -rf "$PWD"');
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'worktree_missing' });
    expect(run.lastError).toContain('no longer exists');
    expect(run.lastError).not.toContain('ENOENT');
    expect(detail.steps).toHaveLength(1);
  });

  it('a worktree that cannot be made: worktree_failed in its own words, not worktree_missing', async () => {
    const repo = makeRepo({ tasks: 2 });
    // The worktree's parent is a file: creation accepts the path (nothing is there), making it fails.
    writeFileSync(join(repo.base, 'blocker'), 'a file\n');
    const flags = commandFlags(FAKE_AGENT_SH, { claude_retries: 1, claude_retry_backoff_sec: 0, reviewer: false, worktree_path_template: '../blocker/wt' });
    const created = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags });
    const run = await waitForRun(t.client, created.id);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'worktree_failed' });
    expect(run.lastError).toContain(`cannot prepare the run's worktree ${join(repo.base, 'blocker', 'wt')} (branch run/demo): EEXIST: file already exists, mkdir '${join(repo.base, 'blocker')}'`);
    expect(run.lastError).not.toContain('no longer exists');
  });

  it('a deleted workspace: workspace_missing', async () => {
    const { run } = await failWith('rm -rf "${LOOP_RUN_DIR%/logs/loop/*}"');
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'workspace_missing' });
  });

  it('a failing command agent is agent_failed, in its own words', async () => {
    const { run } = await failWith(`FAKE_EXIT_CODE=4 ${FAKE_AGENT_SH}`);
    expect(run).toMatchObject({ status: 'FAILED', exitReason: 'agent_failed' });
    expect(run.lastError).toMatch(/failing on purpose.*exit code 4/);
  });
});

describe('cost for an agent that reports only tokens', () => {
  it('a codex run is priced from its tokens, per step, and max_cost_usd pauses it', async () => {
    // A `codex` on PATH that replays what the real Codex printed against the scripted API.
    const bin = tempDir('fake-codex-');
    writeFileSync(join(bin, 'codex'), `#!/bin/sh\ncat > /dev/null\ncat '${join(FIXTURES, 'transcripts', 'codex-success.log')}'\n`);
    chmodSync(join(bin, 'codex'), 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const repo = makeRepo({ tasks: 2 });
      const created = await t.client.runs.create.mutate({
        cwd: repo.root,
        spec: 'specs/demo.md',
        flags: { agent: 'codex', model: 'gpt-5.1-codex', reviewer: false, max_cost_usd: 0.001 },
      });
      const paused = await waitFor(async () => {
        const r = await t.client.runs.get.query({ run: created.id });
        return r.status === 'PAUSED' ? r : null;
      });
      expect(paused.pauseReason).toBe('budget_exceeded');
      const expected = (3000 * 1.25 + 1000 * 0.125 + 300 * 10) / 1e6;
      expect(paused.costUsd).toBeCloseTo(expected, 9);
      expect(paused.steps[0]).toMatchObject({ costSource: 'estimated', inputTokens: 4000, outputTokens: 300 });
      expect(paused.steps[0]!.costUsd).toBeCloseTo(expected, 9);
      await t.client.runs.cancel.mutate({ run: created.id });
    } finally {
      process.env.PATH = oldPath;
    }
  });
});
