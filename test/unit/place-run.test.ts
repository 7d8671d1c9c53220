// Run placement (host/service/place-run.ts) against the LoopStore alone: names unique per
// workspace, run branches clear of git's branches and of other runs', and the run recorded with
// its events in one transaction.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentBinary } from '../../core/agents/kinds/index.js';
import { defaultConfig } from '../../core/config.js';
import { placeRun, recordRun } from '../../host/service/place-run.js';
import type { PreparedRun } from '../../host/service/prepare-run.js';
import { UserError } from '../../host/service.js';
import { SqliteStore } from '../../host/store/sqlite.js';
import { tempDir } from '../integration/harness.js';

const stores: SqliteStore[] = [];
afterEach(async () => {
  while (stores.length) await stores.pop()!.close();
});

function open(): SqliteStore {
  const s = new SqliteStore(join(tempDir(), 'loopd.db'));
  stores.push(s);
  return s;
}

let n = 0;
function prepared(over: Partial<PreparedRun> = {}): PreparedRun {
  n++;
  return {
    id: `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    root: '/ws/repo',
    config: defaultConfig(),
    warnings: ['a warning'],
    specRel: 'specs/demo.md',
    planRel: null,
    base: 'main',
    branches: new Set(['main']),
    slug: 'demo',
    name: 'demo',
    nameSource: 'spec_slug',
    nameNote: null,
    mergeTarget: null,
    dirs: { primary: '/ws/repo/.loop/runs/x', workspace: '/ws/repo/.loop/runs/x', global: null },
    provider: { provider: 'git', reason: 'default' },
    specText: '# demo\n',
    planText: null,
    ledger: [],
    ...over,
  };
}

async function create(store: SqliteStore, p: PreparedRun) {
  return store.transaction(async (tx) => recordRun(tx, p, await placeRun(tx, p), 'api'));
}

describe('placeRun', () => {
  it('de-duplicates a derived name and its branch, and derives the worktree path from the branch', async () => {
    const store = open();
    const first = await create(store, prepared());
    const second = await create(store, prepared());
    expect([first.name, first.run_branch]).toEqual(['demo', 'run/demo']);
    expect([second.name, second.run_branch]).toEqual(['demo-2', 'run/demo-2']);
    expect(second.worktree_path).toBe('/ws/repo.run-demo-2');
  });

  it('keeps the run branch clear of branches git already has', async () => {
    const store = open();
    const at = await placeRun(store, prepared({ branches: new Set(['main', 'run/demo', 'run/demo-2']) }));
    expect(at).toMatchObject({ name: 'demo', runBranch: 'run/demo-3' });
  });

  it('refuses an explicit name that is taken in the workspace, naming the holder', async () => {
    const store = open();
    const first = await create(store, prepared({ name: 'mine', nameSource: 'explicit' }));
    const short = await store.shortRunId(first.id);
    const again = placeRun(store, prepared({ name: 'mine', nameSource: 'explicit' }));
    await expect(again).rejects.toBeInstanceOf(UserError);
    await expect(placeRun(store, prepared({ name: 'mine', nameSource: 'explicit' }))).rejects.toThrow(`a run named "mine" already exists in /ws/repo (${short}, PENDING)`);
    // Another workspace may use the name.
    expect((await placeRun(store, prepared({ root: '/ws/other', name: 'mine', nameSource: 'explicit' }))).name).toBe('mine');
  });

  it('records the run with its truth and the events of its making in one transaction', async () => {
    const store = open();
    const run = await create(store, prepared({ nameNote: 'haiku naming failed' }));
    expect(await store.getRunTruth(run.id)).toMatchObject({ spec_text: '# demo\n', plan_text: null });
    expect((await store.eventsAfter({ runId: run.id })).map((e) => e.type)).toEqual(['RUN_CREATED', 'WORKTREE_PROVIDER', 'NAME_FALLBACK', 'CONFIG_WARNING']);
    expect(await store.getWorkspace('/ws/repo')).toMatchObject({ watched: false });
  });
});

describe('agentBinary', () => {
  it('names the CLI each agent kind runs, and none for a user command', () => {
    expect(agentBinary('claude')).toBe('claude');
    expect(agentBinary('codex')).toBe('codex');
    expect(agentBinary('command')).toBeNull();
  });
});
