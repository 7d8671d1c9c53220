// The contract every LoopStore backend meets (host/store/types.ts). A backend's test file calls
// describeStoreContract with a factory for an empty, migrated store; see store-sqlite.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import type { LoopStore, NewRun, StepOutcome } from '../../host/store/types.js';

export interface StoreFactory {
  /** A fresh store on an empty, migrated database. */
  open(): Promise<LoopStore>;
}

export function newRun(id: string, over: Partial<NewRun> = {}): NewRun {
  return {
    id,
    name: `name-${id}`,
    name_source: 'spec_slug',
    status: 'PENDING',
    workspace_root: '/ws',
    spec_path: 'specs/a.md',
    plan_path: null,
    base_branch: 'main',
    run_branch: `run/${id}`,
    merge_target_branch: null,
    merge_strategy: 'none',
    worktree_path: '/wt',
    worktree_provider: 'git',
    config: { iterations: 3, agent: 'claude' },
    origin: 'api',
    run_dir: '/rd',
    global_run_dir: null,
    ...over,
  };
}

const ok = (over: Partial<StepOutcome> = {}): StepOutcome => ({
  status: 'SUCCEEDED',
  exit_code: 0,
  result: { claimed: false, openTasks: 2, commits: 1 },
  error: null,
  prompt_path: '/p',
  output_path: '/o',
  usage: { costUsd: 0.5, inputTokens: 10, outputTokens: 20, costSource: 'reported' },
  ...over,
});

export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`LoopStore contract: ${name}`, () => {
    const open: LoopStore[] = [];
    const fresh = async () => {
      const s = await factory.open();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      while (open.length) await open.pop()!.close();
    });

    it('creates runs and decodes them: config as an object, cancel_requested as a boolean', async () => {
      const s = await fresh();
      const created = await s.transaction((tx) => tx.createRun(newRun('0190a000-0000-7000-8000-000000000001')));
      expect(created).toMatchObject({ status: 'PENDING', cost_usd: 0, cancel_requested: false, finalized_at: null, config: { iterations: 3 } });
      expect(await s.getRun(created.id)).toEqual(created);
      expect((await s.findRuns('0190a000')).map((r) => r.id)).toEqual([created.id]);
      expect((await s.findRuns(created.name)).map((r) => r.id)).toEqual([created.id]);
      expect(await s.runBranchTaken('/ws', created.run_branch)).toBe(true);
      expect(await s.countRuns('/ws')).toBe(1);
      expect((await s.runNameTaken('/ws', created.name))?.id).toBe(created.id);
      expect(await s.runNameTaken('/other', created.name)).toBeUndefined();
    });

    it('pages runs newest first by id, after a cursor', async () => {
      const s = await fresh();
      const ids = ['0190a000-0000-7000-8000-00000000000a', '0190a000-0000-7000-8000-00000000000b', '0190a000-0000-7000-8000-00000000000c'];
      await s.transaction(async (tx) => {
        for (const id of ids) await tx.createRun(newRun(id));
      });
      const first = await s.listRuns({ limit: 2 });
      expect(first.map((r) => r.id)).toEqual([ids[2], ids[1]]);
      expect((await s.listRuns({ limit: 2, cursor: ids[1] })).map((r) => r.id)).toEqual([ids[0]]);
      expect(await s.runStatusCounts()).toMatchObject({ PENDING: 3, RUNNING: 0 });
    });

    it('shortens a run id to the shortest prefix (8 or more) no other run shares', async () => {
      const s = await fresh();
      const a = '0190a000-1111-7000-8000-000000000001';
      const b = '0190a000-1122-7000-8000-000000000002';
      const c = '0190b000-0000-7000-8000-000000000003';
      await s.transaction(async (tx) => {
        for (const id of [a, b, c]) await tx.createRun(newRun(id));
      });
      expect(await s.shortRunId(c)).toBe('0190b000');
      expect(await s.shortRunId(a)).toBe('0190a000-111');
      expect(await s.shortRunId(b)).toBe('0190a000-112');
      expect(await s.transaction((tx) => tx.shortRunId(a))).toBe('0190a000-111');
    });

    it('rolls a failed transaction back, events included', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000002';
      await s.transaction((tx) => tx.createRun(newRun(id)));
      const before = await s.lastEventSeq();
      await expect(
        s.transaction(async (tx) => {
          await tx.admitRun(id, 1000);
          await tx.appendEvent(id, null, 'RUN_STARTED', { status: 'RUNNING', resumed: false });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await s.getRun(id))!.status).toBe('PENDING');
      expect(await s.lastEventSeq()).toBe(before);
    });

    it('records events with the run workspace and a typed payload', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000003';
      await s.transaction(async (tx) => {
        await tx.createRun(newRun(id, { workspace_root: '/elsewhere' }));
        await tx.appendEvent(id, null, 'RUN_PAUSED', { reason: 'budget_exceeded' });
        await tx.appendEvent(null, null, 'TRIGGER_SKIPPED', { spec: 'specs/b.md', reason: 'draft' }, '/elsewhere');
      });
      const evs = await s.eventsAfter({ workspace: '/elsewhere' });
      expect(evs.map((e) => [e.type, e.runId, e.workspaceRoot])).toEqual([
        ['RUN_PAUSED', id, '/elsewhere'],
        ['TRIGGER_SKIPPED', null, '/elsewhere'],
      ]);
      const paused = evs[0]!;
      if (paused.type !== 'RUN_PAUSED') throw new Error('expected RUN_PAUSED');
      expect(paused.payload.reason).toBe('budget_exceeded');
      expect((await s.eventsAfter({ runId: id, afterSeq: paused.seq })).length).toBe(0);
      expect(await s.eventsWindowStart({ workspace: '/elsewhere' }, { last: 1 })).toBe(paused.seq);
    });

    it('admits a PENDING run once', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000004';
      await s.transaction((tx) => tx.createRun(newRun(id)));
      const a = await s.transaction((tx) => tx.admitRun(id, 1234));
      expect(a).toMatchObject({ status: 'RUNNING', started_at: 1234 });
      expect(await s.transaction((tx) => tx.admitRun(id, 5678))).toBeNull();
    });

    it('queues a step with its input, claims it once, finishes it once and charges the run', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000005';
      const step = await s.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        await tx.admitRun(id, 1);
        return tx.queueStep({ run_id: id, phase: 'watchdog', iteration: 2, attempt: 1, input: { signals: ['no_progress'] } });
      });
      expect(step).toMatchObject({ status: 'QUEUED', input: { signals: ['no_progress'] }, result: null, process: null });
      expect((await s.stepsWithStatus(['QUEUED'])).map((x) => x.id)).toEqual([step.id]);
      const claimed = await s.transaction((tx) => tx.claimStep(step.id, 'host-a', 10));
      expect(claimed).toMatchObject({ status: 'IN_PROGRESS', lease_owner: 'host-a', started_at: 10 });
      expect(await s.transaction((tx) => tx.claimStep(step.id, 'host-b', 11))).toBeNull();
      await s.transaction((tx) => tx.recordProcessIntent(step.id, { nonce: 'n1', exitPath: '/x', logPath: '/l', commitBefore: 'abc' }));
      expect((await s.getStep(step.id))!.process).toMatchObject({ nonce: 'n1', commitBefore: 'abc' });
      await s.transaction((tx) => tx.recordProcessStarted(step.id, { nonce: 'n1', exitPath: '/x', logPath: '/l', pid: 42, pgid: 42, startTime: 't' }));
      expect(await s.getStep(step.id)).toMatchObject({ pid: 42, pid_start: 't', pid_nonce: 'n1' });
      const done = await s.transaction((tx) => tx.finishStep(step.id, ok(), 20));
      expect(done).toMatchObject({ status: 'SUCCEEDED', result: { openTasks: 2 }, cost_usd: 0.5, cost_source: 'reported', ended_at: 20 });
      expect(await s.transaction((tx) => tx.finishStep(step.id, ok({ status: 'FAILED' }), 21))).toBeNull();
      const run = await s.transaction((tx) => tx.chargeRun(id, { usage: ok().usage, error: 'oops', worktreePath: '/wt2' }));
      expect(run).toMatchObject({ cost_usd: 0.5, input_tokens: 10, output_tokens: 20, last_error: 'oops', worktree_path: '/wt2' });
    });

    it('fails a step with a result, and finishing a run cancels its queued steps and owes finalisation', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000006';
      const [a, b] = await s.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        return [
          await tx.queueStep({ run_id: id, phase: 'implementation', iteration: 1, attempt: 1 }),
          await tx.queueStep({ run_id: id, phase: 'review', iteration: 1, attempt: 1, not_before: 99 }),
        ];
      });
      const failed = await s.transaction((tx) => tx.failStep(a!.id, 'process gone', { requeued: true }, 5));
      expect(failed).toMatchObject({ status: 'FAILED', error: 'process gone', result: { requeued: true } });
      // An ended step stays as it ended (another host reaped it meanwhile): null, nothing written.
      expect(await s.transaction((tx) => tx.failStep(a!.id, 'again', null, 6))).toBeNull();
      expect(await s.getStep(a!.id)).toMatchObject({ error: 'process gone', ended_at: 5 });
      await s.transaction((tx) => tx.finishRun(id, 'FAILED', 'failed', 'process gone', 7));
      expect((await s.getStep(b!.id))!.status).toBe('CANCELED');
      expect(await s.getRun(id)).toMatchObject({ status: 'FAILED', exit_reason: 'failed', ended_at: 7, finalized_at: null });
      expect((await s.runsToFinalize()).map((r) => r.id)).toEqual([id]);
      await s.transaction((tx) => tx.markFinalized(id, 8));
      expect(await s.runsToFinalize()).toEqual([]);
    });

    it('pages through every run whose finalisation is owed, newest first', async () => {
      const s = await fresh();
      const ids = [1, 2, 3, 4, 5].map((n) => `0190a000-0000-7000-8000-00000000010${n}`);
      await s.transaction(async (tx) => {
        for (const id of ids) {
          await tx.createRun(newRun(id));
          await tx.finishRun(id, 'COMPLETED', 'complete_plan', null, 7);
        }
        await tx.markFinalized(ids[2]!, 8);
      });
      const first = await s.runsToFinalize(2);
      expect(first.map((r) => r.id)).toEqual([ids[4], ids[3]]);
      const second = await s.runsToFinalize(2, first[1]!.id);
      expect(second.map((r) => r.id)).toEqual([ids[1], ids[0]]);
      expect(await s.runsToFinalize(2, ids[0])).toEqual([]);
    });

    it('pauses, resumes with a new config, and records a cancel request', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000007';
      await s.transaction((tx) => tx.createRun(newRun(id)));
      expect(await s.transaction((tx) => tx.pauseRun(id, 'budget_exceeded'))).toMatchObject({ status: 'PAUSED', pause_reason: 'budget_exceeded' });
      const resumed = await s.transaction((tx) => tx.resumeRun(id, { iterations: 3, max_cost_usd: 9 }));
      expect(resumed).toMatchObject({ status: 'PENDING', pause_reason: null, config: { max_cost_usd: 9 } });
      expect(await s.transaction((tx) => tx.requestCancel(id))).toMatchObject({ cancel_requested: true });
    });

    it('holds an agent kind until a time, extending but never shortening the hold', async () => {
      const s = await fresh();
      await s.transaction((tx) => tx.holdAgent({ agent: 'claude', until: 500, run_id: null, step_id: null }));
      await s.transaction((tx) => tx.holdAgent({ agent: 'claude', until: 300, run_id: null, step_id: null }));
      expect(await s.agentHolds(100)).toEqual([{ agent: 'claude', until: 500, run_id: null, step_id: null }]);
      await s.transaction((tx) => tx.holdAgent({ agent: 'claude', until: 900, run_id: null, step_id: null }));
      expect((await s.agentHolds(600)).map((h) => h.until)).toEqual([900]);
      expect(await s.agentHolds(900)).toEqual([]);
    });

    it('lets one step at a time hold the merge lock of a target branch', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000008';
      const [m1, m2, m3] = await s.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        return [
          await tx.queueStep({ run_id: id, phase: 'merge', iteration: 1, attempt: 1 }),
          await tx.queueStep({ run_id: id, phase: 'merge', iteration: 1, attempt: 2 }),
          await tx.queueStep({ run_id: id, phase: 'merge', iteration: 1, attempt: 3 }),
        ];
      });
      const lock = (step: number) => ({ workspace_root: '/ws', target_branch: 'main', step_id: step });
      expect(await s.transaction((tx) => tx.takeMergeLock(lock(m1!.id), 1))).toBe(true);
      expect(await s.transaction((tx) => tx.takeMergeLock(lock(m1!.id), 2))).toBe(true);
      expect(await s.transaction((tx) => tx.takeMergeLock(lock(m2!.id), 3))).toBe(false);
      // Another target branch is another lock.
      expect(await s.transaction((tx) => tx.takeMergeLock({ ...lock(m3!.id), target_branch: 'release' }, 3))).toBe(true);
      expect((await s.mergeLocks()).map((l) => l.step_id)).toEqual([m1!.id, m3!.id]);
      await s.transaction((tx) => tx.releaseMergeLock(m1!.id));
      expect(await s.transaction((tx) => tx.takeMergeLock(lock(m2!.id), 4))).toBe(true);
      // A lock whose step ended (a crash between the step's end and the release) frees itself.
      await s.transaction(async (tx) => {
        await tx.claimStep(m2!.id, 'h', 5);
        await tx.failStep(m2!.id, 'gone', { requeued: true }, 6);
      });
      expect(await s.transaction((tx) => tx.takeMergeLock(lock(m1!.id), 7))).toBe(true);
    });

    it('keeps workspaces, spec files and review decisions', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-000000000009';
      await s.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        await tx.ensureWorkspace('/ws');
        await tx.ensureWorkspace('/ws');
      });
      expect(await s.getWorkspace('/ws')).toMatchObject({ root: '/ws', watched: false });
      expect(await s.transaction((tx) => tx.setWatched('/ws', true))).toMatchObject({ watched: true });
      expect((await s.listWorkspaces({ watched: true })).map((w) => w.root)).toEqual(['/ws']);
      await s.transaction((tx) => tx.upsertSpecFile({ workspace_root: '/ws', path: 'specs/a.md', content_hash: 'h1', status: 'triggered', last_run_id: id }));
      const kept = await s.transaction((tx) => tx.upsertSpecFile({ workspace_root: '/ws', path: 'specs/a.md', content_hash: 'h2', status: 'draft' }));
      expect(kept).toMatchObject({ content_hash: 'h2', status: 'draft', last_run_id: id });
      expect((await s.listSpecFiles('/ws')).length).toBe(1);
      await s.transaction((tx) => tx.putReview(id, 'merged', 'api', { target: 'main', commit: 'abc' }));
      expect(await s.getReview(id)).toMatchObject({ status: 'merged', actor: 'api', detail: { target: 'main', commit: 'abc' } });
      await s.transaction((tx) => tx.recordArtifact({ run_id: id, step_id: null, kind: 'summary', location: 'global', path: '/s.json', checksum: 'c', bytes: 3 }));
      expect((await s.artifactsForRun(id)).map((a) => a.kind)).toEqual(['summary']);
    });

    it('claims a spec change once: concurrent watchers of one save make one run, a new save another', async () => {
      const s = await fresh();
      class Taken extends Error {}
      // What the watcher does: the claim first, then the run, in one transaction; a lost claim rolls back.
      const watcher = (n: number, hash: string) =>
        s
          .transaction(async (tx) => {
            const id = `0190a000-0000-7000-8000-0000000001${hash}${n}`;
            if (!(await tx.claimSpecChange({ workspace_root: '/ws', path: 'specs/a.md', content_hash: hash, run_id: id }))) throw new Taken();
            await tx.createRun(newRun(id, { name: `a-${hash}`, run_branch: `run/a-${hash}` }));
            return id;
          })
          .catch((e: unknown) => {
            if (e instanceof Taken) return null;
            throw e;
          });
      const first = (await Promise.all([1, 2, 3].map((n) => watcher(n, 'a1')))).filter((r) => r !== null);
      expect(first).toHaveLength(1);
      expect(await s.getSpecFile('/ws', 'specs/a.md')).toMatchObject({ content_hash: 'a1', status: 'triggered', last_run_id: first[0] });
      expect(await watcher(4, 'a1')).toBeNull();
      const second = (await Promise.all([1, 2].map((n) => watcher(n, 'b2')))).filter((r) => r !== null);
      expect(second).toHaveLength(1);
      expect((await s.listRuns()).map((r) => r.id).sort()).toEqual([first[0], second[0]].sort());
      // A row that waited for its plan, failed or was skipped with the same content is no decision yet.
      await s.transaction((tx) => tx.upsertSpecFile({ workspace_root: '/ws', path: 'specs/b.md', content_hash: 'c3', status: 'waiting_plan' }));
      expect(await s.transaction((tx) => tx.claimSpecChange({ workspace_root: '/ws', path: 'specs/b.md', content_hash: 'c3', run_id: 'r-b' }))).toBe(true);
    });

    it('counts the runs holding a slot of a workspace: running, or paused with a step in progress', async () => {
      const s = await fresh();
      const ids = ['0190a000-0000-7000-8000-0000000002a1', '0190a000-0000-7000-8000-0000000002a2', '0190a000-0000-7000-8000-0000000002a3', '0190a000-0000-7000-8000-0000000002a4'];
      await s.transaction(async (tx) => {
        for (const id of ids) await tx.createRun(newRun(id));
        await tx.createRun(newRun('0190a000-0000-7000-8000-0000000002b1', { workspace_root: '/other' }));
        await tx.admitRun('0190a000-0000-7000-8000-0000000002b1', 1);
        await tx.admitRun(ids[0]!, 1);
        await tx.admitRun(ids[1]!, 1);
        await tx.admitRun(ids[2]!, 1);
        const step = await tx.queueStep({ run_id: ids[1]!, phase: 'implementation', iteration: 1, attempt: 1 });
        await tx.claimStep(step.id, 'h', 2);
        await tx.pauseRun(ids[1]!, 'user'); // its step still runs: keeps the slot
        await tx.pauseRun(ids[2]!, 'user'); // nothing in flight: frees it
      });
      expect(await s.transaction((tx) => tx.workspaceSlotsTaken('/ws'))).toBe(2);
      expect(await s.transaction((tx) => tx.workspaceSlotsTaken('/other'))).toBe(1);
      expect(await s.transaction((tx) => tx.workspaceSlotsTaken('/none'))).toBe(0);
    });

    it('keeps the run truth, its ledger (an upsert) and how completion was proven', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-00000000000e';
      const task = { taskId: 1, text: 'do a', line: '- [ ] do a', section: null, ord: 0, state: 'open' as const, doneBeforeRun: false, addedIteration: null, tickedIteration: null };
      await s.transaction(async (tx) => {
        await tx.createRun(newRun(id));
        await tx.recordRunTruth(id, '# spec', '- [ ] do a');
        await tx.saveLedger(id, [task]);
      });
      expect(await s.getRunTruth(id)).toEqual({ spec_text: '# spec', plan_text: '- [ ] do a', completion: null });
      expect(await s.ledgerSummary(id)).toMatchObject({ total: 1, open: 1 });
      await s.transaction(async (tx) => {
        await tx.saveLedger(id, [{ ...task, state: 'done', tickedIteration: 1 }]);
        await tx.setCompletion(id, 'complete_facts');
      });
      expect(await s.ledgerFor(id)).toEqual([{ ...task, state: 'done', tickedIteration: 1 }]);
      expect(await s.ledgerSummary(id)).toMatchObject({ total: 1, open: 0, completion: 'complete_facts' });
    });

    it('runs concurrent transactions one after the other', async () => {
      const s = await fresh();
      const id = '0190a000-0000-7000-8000-00000000000d';
      await s.transaction((tx) => tx.createRun(newRun(id)));
      const admit = () => s.transaction((tx) => tx.admitRun(id, 1));
      const results = await Promise.all([admit(), admit(), admit()]);
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      expect(await s.appliedMigrations()).not.toHaveLength(0);
    });
  });
}
