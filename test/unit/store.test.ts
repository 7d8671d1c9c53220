import { BUSY_TIMEOUT_MS } from '../../host/busy.js';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
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
});
