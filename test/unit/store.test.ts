import { BUSY_TIMEOUT_MS } from '../../host/busy.js';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../host/bus.js';
import { SchemaTooNewError, Store, loadMigrations, type EventRow } from '../../host/store.js';
import { tempDir } from '../integration/harness.js';

function run(store: Store, id: string) {
  return store.insertRun({
    id,
    name: 'n',
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
    config_json: '{}',
    origin: 'api',
    run_dir: '/rd',
    global_run_dir: null,
  });
}

describe('store', () => {
  it('applies migrations in order once, in WAL mode with a short busy timeout', () => {
    const path = join(tempDir(), 'db.sqlite');
    const a = new Store(path);
    expect(a.appliedMigrations().map((m) => m.name)).toEqual(loadMigrations().map((m) => m.name));
    expect(a.pragma('journal_mode')).toBe('wal');
    expect(a.pragma('busy_timeout')).toBe(BUSY_TIMEOUT_MS);
    a.close();
    const b = new Store(path);
    expect(b.appliedMigrations()).toHaveLength(loadMigrations().length);
    b.close();
  });

  it('refuses a database written by a newer schema, with a clear message', () => {
    const path = join(tempDir(), 'db.sqlite');
    new Store(path).close();
    const raw = new DatabaseSync(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(9999, '9999_future.sql', 'x', Date.now());
    raw.close();
    expect(() => new Store(path)).toThrow(SchemaTooNewError);
    expect(() => new Store(path)).toThrow(/newer loopd.*9999_future\.sql.*upgrade loopd/);
  });

  it('publishes events only after the transaction commits, never on rollback', () => {
    const bus = new EventBus();
    const seen: EventRow[] = [];
    bus.on('event', (e: EventRow) => seen.push(e));
    const store = new Store(join(tempDir(), 'db.sqlite'), bus);
    run(store, 'r1');
    expect(() =>
      store.tx(() => {
        store.updateRun('r1', { status: 'RUNNING' });
        store.appendEvent('r1', null, 'RUN_STARTED', { status: 'RUNNING', resumed: false });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(seen).toHaveLength(0);
    expect(store.getRun('r1')!.status).toBe('PENDING');
    expect(store.eventsAfter({ runId: 'r1' })).toHaveLength(0);
    store.tx(() => {
      store.updateRun('r1', { status: 'RUNNING' });
      store.appendEvent('r1', null, 'RUN_STARTED', { status: 'RUNNING', resumed: false });
      expect(seen).toHaveLength(0);
    });
    expect(seen.map((e) => e.type)).toEqual(['RUN_STARTED']);
    expect(store.getRun('r1')!.status).toBe('RUNNING');
  });

  it('finds runs by id, unique prefix and name', () => {
    const store = new Store(join(tempDir(), 'db.sqlite'));
    run(store, '0190aaaa-1');
    run(store, '0190aaab-2');
    expect(store.findRuns('0190aaaa-1')).toHaveLength(1);
    expect(store.findRuns('0190aaab')).toHaveLength(1);
    expect(store.findRuns('0190aa')).toHaveLength(2);
    expect(store.findRuns('n')).toHaveLength(2);
    expect(store.findRuns('%')).toHaveLength(0);
  });

  it('gives each run the shortest id prefix (8 characters or more) no other run shares', () => {
    const store = new Store(join(tempDir(), 'db.sqlite'));
    expect(() => store.shortRunId('none')).not.toThrow();
    run(store, '01a22a1b-1111-7000-8000-000000000001');
    expect(store.shortRunId('01a22a1b-1111-7000-8000-000000000001')).toBe('01a22a1b');
    run(store, '01a22a1b-1122-7000-8000-000000000002');
    run(store, '01a22a1c-0000-7000-8000-000000000003');
    expect(store.shortRunId('01a22a1b-1111-7000-8000-000000000001')).toBe('01a22a1b-111');
    expect(store.shortRunId('01a22a1b-1122-7000-8000-000000000002')).toBe('01a22a1b-112');
    expect(store.shortRunId('01a22a1c-0000-7000-8000-000000000003')).toBe('01a22a1c');
  });

  it('finds a name taken in a workspace, not in another', () => {
    const store = new Store(join(tempDir(), 'db.sqlite'));
    run(store, 'r1');
    expect(store.runNameTaken('/ws', 'n')?.id).toBe('r1');
    expect(store.runNameTaken('/other', 'n')).toBeUndefined();
    expect(store.runNameTaken('/ws', 'n-2')).toBeUndefined();
  });

  it('starts an event window at the last N events, at a time, or at the narrower of both', () => {
    const store = new Store(join(tempDir(), 'db.sqlite'));
    run(store, 'r1');
    run(store, 'r2');
    const seqs: number[] = [];
    // Pin the times: events 0..5 at t = 1000, 2000, ... 6000.
    const now = vi.spyOn(Date, 'now');
    for (let i = 0; i < 6; i++) {
      now.mockReturnValue((i + 1) * 1000);
      seqs.push(store.appendEvent(i % 2 === 0 ? 'r1' : 'r2', null, 'CONFIG_WARNING', { message: String(i) }).seq);
    }
    now.mockRestore();
    const r1 = seqs.filter((_, i) => i % 2 === 0);
    const after = (cursor: number, filter: { runId?: string; workspace?: string }) => store.eventsAfter({ ...filter, afterSeq: cursor }).map((e) => e.seq);
    expect(store.eventsWindowStart({ runId: 'r1' }, {})).toBe(0);
    expect(after(store.eventsWindowStart({ runId: 'r1' }, { last: 2 }), { runId: 'r1' })).toEqual(r1.slice(-2));
    expect(after(store.eventsWindowStart({ runId: 'r1' }, { last: 10 }), { runId: 'r1' })).toEqual(r1);
    expect(after(store.eventsWindowStart({ runId: 'r1' }, { last: 0 }), { runId: 'r1' })).toEqual([]);
    expect(after(store.eventsWindowStart({ workspace: '/ws' }, { since: 3500 }), { workspace: '/ws' })).toEqual(seqs.slice(3));
    expect(after(store.eventsWindowStart({ workspace: '/ws' }, { since: 3500, last: 2 }), { workspace: '/ws' })).toEqual(seqs.slice(4));
    expect(after(store.eventsWindowStart({ workspace: '/ws' }, { since: 99_000 }), { workspace: '/ws' })).toEqual([]);
  });
});
