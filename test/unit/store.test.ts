// The SQLite engine itself (host/store/sqlite/): what the LoopStore contract does not cover —
// the schema and its migrations, the pragmas, the bus, the event windows.
import { BUSY_TIMEOUT_MS, StoreBusyError } from '../../host/busy.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it, vi } from 'vitest';
import { EventBus, type PublishedEvent } from '../../host/bus.js';
import { SchemaTooNewError, SqliteStore, loadMigrations } from '../../host/store/sqlite.js';
import { STEP_PHASES } from '../../core/types.js';
import { newRun } from './store-contract.js';
import { tempDir } from '../integration/harness.js';

const run = (store: SqliteStore, id: string) => store.transaction((tx) => tx.createRun(newRun(id, { name: 'n' })));

describe('sqlite store engine', () => {
  it('applies migrations in order once, in WAL mode with a short busy timeout', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const a = new SqliteStore(path);
    expect((await a.appliedMigrations()).map((m) => m.name)).toEqual(loadMigrations().map((m) => m.name));
    expect(a.pragma('journal_mode')).toBe('wal');
    expect(a.pragma('busy_timeout')).toBe(BUSY_TIMEOUT_MS);
    expect(a.pragma('foreign_keys')).toBe(1);
    await a.close();
    const b = new SqliteStore(path);
    expect(await b.appliedMigrations()).toHaveLength(loadMigrations().length);
    await b.close();
  });

  it('refuses a database written by a newer schema, with a clear message', async () => {
    const path = join(tempDir(), 'db.sqlite');
    await new SqliteStore(path).close();
    const raw = new DatabaseSync(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(9999, '9999_future.sql', 'x', Date.now());
    raw.close();
    expect(() => new SqliteStore(path)).toThrow(SchemaTooNewError);
    expect(() => new SqliteStore(path)).toThrow(/newer loopd.*9999_future\.sql.*upgrade loopd/);
  });

  it('publishes events only after the transaction commits, never on rollback', async () => {
    const bus = new EventBus();
    const seen: PublishedEvent[] = [];
    bus.on('event', (e: PublishedEvent) => seen.push(e));
    const store = new SqliteStore(join(tempDir(), 'db.sqlite'), bus);
    await run(store, 'r1');
    const started = (fail: boolean) =>
      store.transaction(async (tx) => {
        await tx.admitRun('r1', 1);
        await tx.appendEvent('r1', null, 'RUN_STARTED', { status: 'RUNNING', resumed: false });
        expect(seen).toHaveLength(0);
        if (fail) throw new Error('boom');
      });
    await expect(started(true)).rejects.toThrow('boom');
    expect(seen).toHaveLength(0);
    expect((await store.getRun('r1'))!.status).toBe('PENDING');
    expect(await store.eventsAfter({ runId: 'r1' })).toHaveLength(0);
    await started(false);
    expect(seen.map((e) => e.type)).toEqual(['RUN_STARTED']);
    expect((await store.getRun('r1'))!.status).toBe('RUNNING');
    await store.close();
  });

  it('answers reads while another process holds the write lock, without its uncommitted writes; a write gets StoreBusyError', async () => {
    const store = new SqliteStore(join(tempDir(), 'db.sqlite'));
    await run(store, 'r1');
    const other = new DatabaseSync(store.path, { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    try {
      other.exec("UPDATE runs SET status = 'RUNNING' WHERE id = 'r1'");
      expect((await store.getRun('r1'))!.status).toBe('PENDING');
      expect(await store.listRuns()).toHaveLength(1);
      await expect(store.transaction((tx) => tx.admitRun('r1', 1))).rejects.toBeInstanceOf(StoreBusyError);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.transaction((tx) => tx.admitRun('r1', 1))).toMatchObject({ status: 'RUNNING' });
    await store.close();
  });

  it('finds runs by id, unique prefix and name', async () => {
    const store = new SqliteStore(join(tempDir(), 'db.sqlite'));
    await run(store, '0190aaaa-1');
    await run(store, '0190aaab-2');
    expect(await store.findRuns('0190aaaa-1')).toHaveLength(1);
    expect(await store.findRuns('0190aaab')).toHaveLength(1);
    expect(await store.findRuns('0190aa')).toHaveLength(2);
    expect(await store.findRuns('n')).toHaveLength(2);
    expect(await store.findRuns('%')).toHaveLength(0);
    await store.close();
  });

  it('finds a name taken in a workspace, not in another', async () => {
    const store = new SqliteStore(join(tempDir(), 'db.sqlite'));
    await run(store, 'r1');
    expect((await store.runNameTaken('/ws', 'n'))?.id).toBe('r1');
    expect(await store.runNameTaken('/other', 'n')).toBeUndefined();
    expect(await store.runNameTaken('/ws', 'n-2')).toBeUndefined();
    await store.close();
  });

  it('starts an event window at the last N events, at a time, or at the narrower of both', async () => {
    const store = new SqliteStore(join(tempDir(), 'db.sqlite'));
    await run(store, 'r1');
    await store.transaction((tx) => tx.createRun(newRun('r2', { name: 'n2' })));
    const seqs: number[] = [];
    // Pin the times: events 0..5 at t = 1000, 2000, ... 6000.
    const now = vi.spyOn(Date, 'now');
    for (let i = 0; i < 6; i++) {
      now.mockReturnValue((i + 1) * 1000);
      const ev = await store.transaction((tx) => tx.appendEvent(i % 2 === 0 ? 'r1' : 'r2', null, 'CONFIG_WARNING', { message: String(i) }));
      seqs.push(ev.seq);
    }
    now.mockRestore();
    const r1 = seqs.filter((_, i) => i % 2 === 0);
    const after = async (cursor: number, filter: { runId?: string; workspace?: string }) =>
      (await store.eventsAfter({ ...filter, afterSeq: cursor })).map((e) => e.seq);
    const start = (filter: { runId?: string; workspace?: string }, window: { last?: number; since?: number }) => store.eventsWindowStart(filter, window);
    expect(await start({ runId: 'r1' }, {})).toBe(0);
    expect(await after(await start({ runId: 'r1' }, { last: 2 }), { runId: 'r1' })).toEqual(r1.slice(-2));
    expect(await after(await start({ runId: 'r1' }, { last: 10 }), { runId: 'r1' })).toEqual(r1);
    expect(await after(await start({ runId: 'r1' }, { last: 0 }), { runId: 'r1' })).toEqual([]);
    expect(await after(await start({ workspace: '/ws' }, { since: 3500 }), { workspace: '/ws' })).toEqual(seqs.slice(3));
    expect(await after(await start({ workspace: '/ws' }, { since: 3500, last: 2 }), { workspace: '/ws' })).toEqual(seqs.slice(4));
    expect(await after(await start({ workspace: '/ws' }, { since: 99_000 }), { workspace: '/ws' })).toEqual([]);
    await store.close();
  });
});

describe('the engine stays inside host/store/', () => {
  it('no source file outside host/store/ imports node:sqlite or the engine', () => {
    const root = join(import.meta.dirname, '..', '..');
    const sources = ['host', 'core', 'functions', 'router', 'cli', 'triggers', 'dashboard/src'].flatMap((dir) =>
      (readdirSync(join(root, dir), { recursive: true }) as string[]).filter((f) => /\.tsx?$/.test(f)).map((f) => join(root, dir, f)),
    );
    expect(sources.length).toBeGreaterThan(50);
    const offenders = sources
      .map((f) => relative(root, f))
      .filter((f) => !f.startsWith('host/store/'))
      .filter((f) => /from ['"](node:sqlite|[^'"]*store\/sqlite\/[^'"]*)['"]/.test(readFileSync(join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('0006_step_phases: steps.phase references a lookup table', () => {
  const upTo = (version: number) => loadMigrations().filter((m) => m.version <= version);

  /** A database at schema 0005 with a run, three steps (one deleted, to move the counter past it) and a merge lock. */
  async function databaseAt0005(): Promise<string> {
    const path = join(tempDir(), 'db.sqlite');
    const old = new SqliteStore(path, null, upTo(5));
    await run(old, 'r1');
    await old.transaction(async (tx) => {
      await tx.queueStep({ run_id: 'r1', phase: 'implementation', iteration: 1, attempt: 1, input: { signals: [] } });
      const merge = await tx.queueStep({ run_id: 'r1', phase: 'merge', iteration: 1, attempt: 1 });
      await tx.claimStep(merge.id, 'host-a', 5);
      await tx.takeMergeLock({ workspace_root: '/ws', target_branch: 'main', step_id: merge.id }, 5);
      await tx.queueStep({ run_id: 'r1', phase: 'watchdog', iteration: 1, attempt: 1 });
    });
    await old.close();
    const raw = new DatabaseSync(path);
    raw.exec('DELETE FROM steps WHERE id = 3');
    raw.close();
    return path;
  }

  it('keeps every step, its columns, the id counter, the indexes and the merge lock across the rebuild', async () => {
    const path = await databaseAt0005();
    const before = new DatabaseSync(path);
    const rowsBefore = before.prepare('SELECT * FROM steps ORDER BY id').all();
    before.close();
    const store = new SqliteStore(path);
    expect((await store.appliedMigrations()).map((m) => m.version)).toContain(6);
    const raw = new DatabaseSync(path);
    expect(raw.prepare('SELECT * FROM steps ORDER BY id').all()).toEqual(rowsBefore);
    const sql = (raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'steps'").get() as { sql: string }).sql;
    expect(sql).toMatch(/phase\s+TEXT NOT NULL REFERENCES step_phases \(phase\)/);
    expect(sql).not.toMatch(/CHECK \(phase/);
    const indexes = (raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'steps' AND sql IS NOT NULL ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual(['steps_run', 'steps_status']);
    const fks = raw.prepare("SELECT \"table\" AS t, \"from\" AS f FROM pragma_foreign_key_list('steps') ORDER BY f").all();
    expect(fks).toEqual([{ t: 'step_phases', f: 'phase' }, { t: 'runs', f: 'run_id' }]);
    expect(raw.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    raw.close();
    // The deleted id 3 is not handed out again; the merge lock still names its step.
    const next = await store.transaction((tx) => tx.queueStep({ run_id: 'r1', phase: 'review', iteration: 1, attempt: 1 }));
    expect(next.id).toBe(4);
    expect((await store.mergeLocks()).map((l) => l.step_id)).toEqual([2]);
    expect((await store.getStep(1))?.input).toEqual({ signals: [] });
    await store.close();
  });

  it('lists exactly the phases the code knows, and refuses a step of an unknown phase', async () => {
    const store = new SqliteStore(join(tempDir(), 'db.sqlite'));
    await run(store, 'r1');
    await store.close();
    const raw = new DatabaseSync(join(store.path));
    const phases = (raw.prepare('SELECT phase FROM step_phases ORDER BY phase').all() as { phase: string }[]).map((r) => r.phase);
    expect(phases).toEqual([...STEP_PHASES].sort());
    raw.close();
    const again = new SqliteStore(store.path);
    await expect(again.transaction((tx) => tx.queueStep({ run_id: 'r1', phase: 'bogus' as never, iteration: 1, attempt: 1 }))).rejects.toThrow(/FOREIGN KEY/);
    await again.close();
  });

  it('makes a new phase one INSERT: a later migration adds it without touching steps', async () => {
    const dir = tempDir();
    const path = join(dir, 'db.sqlite');
    const later = [...loadMigrations(), { version: 99, name: '0099_phase_x.sql', sql: "INSERT INTO step_phases (phase) VALUES ('x');" }];
    const store = new SqliteStore(path, null, later);
    await run(store, 'r1');
    const step = await store.transaction((tx) => tx.queueStep({ run_id: 'r1', phase: 'x' as never, iteration: 1, attempt: 1 }));
    expect(step.phase).toBe('x');
    await store.close();
  });

  it('rolls the whole rebuild back when a row would break a key, and says which', async () => {
    const path = await databaseAt0005();
    const raw = new DatabaseSync(path);
    // A step whose phase the lookup table does not list (written past the old CHECK).
    raw.exec('PRAGMA ignore_check_constraints = ON');
    raw.exec("UPDATE steps SET phase = 'retired' WHERE id = 1");
    raw.close();
    expect(() => new SqliteStore(path)).toThrow(/0006_step_phases\.sql would break 1 foreign key/);
    const after = new DatabaseSync(path);
    expect((after.prepare("SELECT sql FROM sqlite_master WHERE name = 'steps'").get() as { sql: string }).sql).toMatch(/CHECK \(phase IN/);
    expect(after.prepare('SELECT COUNT(*) AS n FROM steps').get()).toEqual({ n: 2 });
    after.close();
  });
});
