// Another process holding SQLite's write lock must not freeze the daemon: /health and reads answer
// meanwhile, and the writes that waited (a new run, the dispatcher's steps) land once it is free.
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBusy, StoreBusyError, whenFree } from '../../host/busy.js';
import { commandFlags, FAKE_AGENT_SH, makeRepo, startTestDaemon, waitForRun, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

describe('database lock held by another connection', () => {
  it('answers /health and reads while locked, and completes the waiting writes afterwards', async () => {
    const repo = makeRepo({ tasks: 2 });
    const first = await t.client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', flags: commandFlags(FAKE_AGENT_SH, { reviewer: false, merge_strategy: 'none' }) });

    // A second connection, like a backup tool or an open sqlite3 shell, takes the write lock.
    const other = new DatabaseSync(join(t.home, 'loopd.db'), { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    let created = false;
    const second = t.client.runs.create
      .mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'while-locked', flags: commandFlags(FAKE_AGENT_SH, { reviewer: false, merge_strategy: 'none' }) })
      .then((r) => ((created = true), r));
    try {
      const health = await fetch(`${t.daemon.url}/health`);
      expect(await health.json()).toEqual({ ok: true });
      const listed = await t.client.runs.list.query();
      expect(listed.map((r) => r.id)).toContain(first.id);
      expect((await t.client.runs.get.query({ run: first.id })).id).toBe(first.id);
      // The new run needs the lock, which is still held: it cannot exist yet.
      expect(created).toBe(false);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    const run = await second;
    expect(run.name).toBe('while-locked');
    expect((await waitForRun(t.client, first.id)).status).toBe('COMPLETED');
    expect((await waitForRun(t.client, run.id)).status).toBe('COMPLETED');
  });

  it('whenFree retries busy failures only', async () => {
    let n = 0;
    expect(
      await whenFree(() => {
        if (++n < 3) throw new StoreBusyError(new Error('database is locked'));
        return 'done';
      }),
    ).toBe('done');
    expect(n).toBe(3);
    await expect(whenFree(() => Promise.reject(new Error('other')))).rejects.toThrow('other');
    expect(isBusy({ errcode: 5 })).toBe(true);
    expect(isBusy({ errcode: 1 })).toBe(false);
  });
});
