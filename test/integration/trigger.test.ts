// The spec-drop trigger against a real in-process daemon: chokidar on temp git repos, runs created
// through the host service, and every decision visible as a workspace event.
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSpecCandidate, specStatus } from '../../triggers/spec-rules.js';
import { SpecWatcher, type SpecWatcherOptions } from '../../triggers/spec-watcher.js';
import type { RunRecord } from '../../host/store/types.js';
import { FAKE_AGENT_SH, git, makeRepo, startTestDaemon, waitFor, waitForRun, type TestDaemon, type TestRepo } from './harness.js';

// The runs the trigger starts are not what this file tests (one test follows a run to its end):
// the sh fake agent, no review and no merge keep each one cheap.
const CONFIG = ['agent=command', `agent_cmd="${FAKE_AGENT_SH}"`, 'reviewer=false', 'merge_strategy=none', ''].join('\n');
const PLAN = '# Plan\n\n## Tasks\n- [ ] task 1\n';
// Short enough to keep the suite fast, long enough that a loaded 2-core machine still sees
// `add` only after a write has settled.
const STABILITY_MS = 150;

let t: TestDaemon;
const repos: TestRepo[] = [];
const watchers: SpecWatcher[] = [];
const logs: string[] = [];

// The watcher's decisions and the runs they create are what this file tests, not the runs' work:
// the daemon's dispatcher is stopped, so a created run stays queued (canceled at the end) instead
// of spending a worktree, an agent and a dozen git processes that no test looks at. The one test
// that follows its run to the end swaps in a daemon that dispatches.
beforeAll(async () => {
  t = await startTestDaemon();
  await t.daemon.dispatcher.stop();
});
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.stop();
  // stop() keeps registrations (as a daemon restart must); a later test's start() should not
  // pick up the repos of earlier tests.
  for (const r of repos) if ((await t.daemon.store.getWorkspace(r.root))?.watched) await t.daemon.store.transaction((tx) => tx.setWatched(r.root, false));
});
afterAll(async () => {
  await t.stop();
  for (const r of repos) rmSync(r.base, { recursive: true, force: true });
});

function newRepo(extraConfig = ''): TestRepo {
  const repo = makeRepo({ tasks: 1, config: CONFIG + extraConfig });
  repos.push(repo);
  return repo;
}

function newWatcher(opts: SpecWatcherOptions = {}): SpecWatcher {
  const service = t.daemon.service;
  const w = new SpecWatcher(
    { store: t.daemon.store, createRun: (input, o) => service.createRun(input, o), log: (m) => logs.push(m) },
    { stabilityMs: STABILITY_MS, planWaitMsOverride: 5000, ...opts },
  );
  watchers.push(w);
  return w;
}

function write(repo: TestRepo, rel: string, content: string): void {
  mkdirSync(dirname(join(repo.root, rel)), { recursive: true });
  writeFileSync(join(repo.root, rel), content);
}

/** A spec and its plan, plan first so the spec never has to wait. */
function dropSpec(repo: TestRepo, name: string, body = `# ${name}\n\nBuild ${name}.\n`): void {
  write(repo, `specs/planning/${name}-plan.md`, PLAN);
  write(repo, `specs/${name}.md`, body);
}

async function runs(root: string): Promise<RunRecord[]> {
  return (await t.daemon.store.listRuns({ workspace: root })).reverse(); // oldest first
}

interface TriggerEvent {
  type: string;
  runId: string | null;
  spec?: string;
  reason?: string;
  plan?: string | null;
  planless?: boolean;
  until?: number;
  ts: number;
}

/** The workspace's trigger decisions, without those about settle()'s own marker specs. */
async function triggerEvents(root: string, opts: { markers?: boolean } = {}): Promise<TriggerEvent[]> {
  return (await t.daemon.store.eventsAfter({ workspace: root }))
    .filter((e) => e.type.startsWith('TRIGGER_'))
    .map((e) => ({ type: e.type, runId: e.runId, ts: e.ts, ...e.payload }) as TriggerEvent)
    .filter((e) => opts.markers === true || !e.spec?.startsWith(MARKER_PREFIX));
}

async function decisions(root: string, spec: string): Promise<string[]> {
  return (await triggerEvents(root))
    .filter((e) => e.spec === spec && e.type !== 'TRIGGER_WAITING')
    .map((e) => `${e.type === 'TRIGGER_FIRED' ? 'fired' : 'skipped'}:${e.reason}`);
}

const waitForEvent = (root: string, pred: (e: TriggerEvent) => boolean, opts: { markers?: boolean } = {}) =>
  waitFor(async () => (await triggerEvents(root, opts)).find(pred));
const waitForRuns = (root: string, n: number) =>
  waitFor(async () => {
    const all = await runs(root);
    return all.length >= n ? all : null;
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const MARKER_PREFIX = 'specs/zz-settle-';
let markers = 0;

/**
 * Proves, by a fact rather than a fixed sleep, that every file change made before the call has
 * been decided: it writes a fresh draft spec (a marker: decided as skipped:draft, it starts no run)
 * into `repo`, waits for the marker's decision, then drains the watcher's decisions. File events
 * reach the daemon in the order they happened (one inotify queue per process), and a decision
 * waits out the stability window after its file's last write, so once the marker is decided
 * every earlier change has been reported and is decided or queued; idle() waits for those.
 */
async function settle(w: SpecWatcher, repo: TestRepo): Promise<void> {
  const marker = `${MARKER_PREFIX}${++markers}.md`;
  write(repo, marker, `# settle ${markers}\n\n**Status:** Draft\n`);
  const decided = await waitForEvent(repo.root, (e) => e.spec === marker, { markers: true });
  expect(decided).toMatchObject({ type: 'TRIGGER_SKIPPED', reason: 'draft' });
  await w.idle();
}

describe('spec rules', () => {
  it('reads the status line the way a reader would', () => {
    expect(specStatus('# x\n\n**Status:** Draft\n')).toBe('draft');
    expect(specStatus('# x\n**status**: DRAFT (needs review)\n')).toBe('draft');
    expect(specStatus('Status: Draft\n')).toBe('draft');
    expect(specStatus('- **Status:** **Complete**\n')).toBe('complete');
    expect(specStatus('Status: completed\n')).toBe('complete');
    expect(specStatus('**Status:** Ready\n\nStatus: Draft\n')).toBe('other'); // the first one counts
    expect(specStatus('We keep the status: draft until reviewed.\n')).toBe('other'); // not at line start
    expect(specStatus('# x\n\nNo status here.\n')).toBe('other');
  });

  it('knows which files are specs', () => {
    const specs = '/r/specs';
    const nested = '/r/specs/planning';
    expect(isSpecCandidate('/r/specs/a.md', specs, nested)).toBe(true);
    expect(isSpecCandidate('/r/specs/A.MD', specs, nested)).toBe(true);
    for (const p of ['/r/specs/README.md', '/r/specs/learnings.md', '/r/specs/.a.md', '/r/specs/a.txt', '/r/specs/planning/a-plan.md', '/r/a.md']) {
      expect(isSpecCandidate(p, specs, nested), p).toBe(false);
    }
    // plans_dir = specs_dir: a plan is still not a spec.
    expect(isSpecCandidate('/r/specs/a-plan.md', specs, specs)).toBe(false);
    expect(isSpecCandidate('/r/specs/a.md', specs, specs)).toBe(true);
  });
});

describe('spec watcher', () => {
  it('starts a run for a new spec (origin watch, plan found) and records the specs already there', async () => {
    const repo = newRepo();
    const w = newWatcher();
    expect(await w.watch(repo.root)).toEqual({ root: repo.root, recorded: 1, alreadyWatched: false });
    expect((await t.daemon.store.getWorkspace(repo.root))?.watched).toBe(true);
    expect(w.watchedRoots()).toEqual([repo.root]);
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/demo.md'))?.status).toBe('recorded');

    dropSpec(repo, 'feat');
    const [run] = await waitForRuns(repo.root, 1);
    expect(run).toMatchObject({ origin: 'watch', spec_path: 'specs/feat.md', plan_path: 'specs/planning/feat-plan.md' });
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(1);

    // Every decision is a workspace event; the firing one belongs to the run it made.
    expect((await triggerEvents(repo.root)).map(({ type, runId, spec, reason, planless }) => ({ type, runId, spec, reason, planless }))).toEqual([
      { type: 'TRIGGER_SKIPPED', runId: null, spec: 'specs/demo.md', reason: 'present_when_watched', planless: undefined },
      { type: 'TRIGGER_FIRED', runId: run!.id, spec: 'specs/feat.md', reason: 'new', planless: false },
    ]);
    expect(await t.daemon.store.getSpecFile(repo.root, 'specs/feat.md')).toMatchObject({ status: 'triggered', last_run_id: run!.id });

    // Registering again changes nothing.
    expect(await w.watch(repo.root)).toEqual({ root: repo.root, recorded: 0, alreadyWatched: true });
    expect(await triggerEvents(repo.root)).toHaveLength(2);
  });

  it('ignores README, LEARNINGS, non-markdown, dotfiles, editor temp files, subfolders and plans', async () => {
    const repo = newRepo();
    const w = newWatcher();
    await w.watch(repo.root);
    for (const rel of [
      'specs/README.md',
      'specs/Learnings.md',
      'specs/notes.txt',
      'specs/.hidden.md',
      'specs/.#lock.md',
      'specs/x.md~',
      'specs/.x.md.swp',
      'specs/sub/deep.md',
      'specs/planning/orphan-plan.md',
    ]) {
      write(repo, rel, '# not a spec\n');
    }
    // A real spec afterwards proves the watcher was listening the whole time; file events arrive in
    // order, so by the time it fires the files above were reported (and decided: settle drains).
    dropSpec(repo, 'sentinel');
    await waitForRuns(repo.root, 1);
    await settle(w, repo);
    expect((await runs(repo.root)).map((r) => r.spec_path)).toEqual(['specs/sentinel.md']);
    expect((await triggerEvents(repo.root)).map((e) => e.spec)).toEqual(['specs/demo.md', 'specs/sentinel.md']);
  });

  it('records existing specs without running them; editing one is skipped; an existing draft starts once finished', async () => {
    const repo = newRepo();
    write(repo, 'specs/old.md', '# old\n');
    write(repo, 'specs/planning/wip-plan.md', PLAN);
    write(repo, 'specs/wip.md', '# wip\n\n**Status:** Draft\n');
    const w = newWatcher();
    expect((await w.watch(repo.root)).recorded).toBe(3);
    expect((await t.daemon.store.listSpecFiles(repo.root)).map((r) => [r.path, r.status])).toEqual([
      ['specs/demo.md', 'recorded'],
      ['specs/old.md', 'recorded'],
      ['specs/wip.md', 'draft'],
    ]);

    write(repo, 'specs/old.md', '# old\n\nEdited.\n');
    await waitFor(async () => (await decisions(repo.root, 'specs/old.md')).length === 2);
    expect(await decisions(repo.root, 'specs/old.md')).toEqual(['skipped:present_when_watched', 'skipped:present_when_watched']);
    expect(await t.daemon.store.getSpecFile(repo.root, 'specs/old.md')).toMatchObject({ status: 'recorded', content_hash: sha256('# old\n\nEdited.\n') });

    write(repo, 'specs/wip.md', '# wip\n\n**Status:** Ready\n');
    const [run] = await waitForRuns(repo.root, 1);
    expect(run!.spec_path).toBe('specs/wip.md');
    expect(await decisions(repo.root, 'specs/wip.md')).toEqual(['skipped:present_when_watched', 'fired:status_changed']);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(1);
  });

  it('holds a draft until its status changes and never starts a complete spec', async () => {
    const repo = newRepo();
    const w = newWatcher();
    await w.watch(repo.root);
    dropSpec(repo, 'later', '# later\n\n**Status:** Draft\n');
    dropSpec(repo, 'done', '# done\n\nStatus: Complete\n');
    await waitForEvent(repo.root, (e) => e.spec === 'specs/later.md');
    await waitForEvent(repo.root, (e) => e.spec === 'specs/done.md');
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/later.md'))?.status).toBe('draft');
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/done.md'))?.status).toBe('complete');

    // Still a draft after an edit (lower case, list item), still complete after an edit.
    write(repo, 'specs/later.md', '# later\n\n- **status**: draft\n\nMore notes.\n');
    write(repo, 'specs/done.md', '# done\n\nStatus: Complete\n\nRetro notes.\n');
    await waitFor(async () => (await decisions(repo.root, 'specs/later.md')).length === 2 && (await decisions(repo.root, 'specs/done.md')).length === 2);
    expect(await runs(repo.root)).toHaveLength(0);

    write(repo, 'specs/later.md', '# later\n\n**Status:** Ready\n');
    const [run] = await waitForRuns(repo.root, 1);
    expect(run!.spec_path).toBe('specs/later.md');
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(1);
    expect(await decisions(repo.root, 'specs/later.md')).toEqual(['skipped:draft', 'skipped:draft', 'fired:status_changed']);
    expect(await decisions(repo.root, 'specs/done.md')).toEqual(['skipped:complete', 'skipped:complete']);
  });

  it('skips an edit of a spec that already ran, and starts it again with trigger_on_change=true', async () => {
    const repo = newRepo();
    const w = newWatcher();
    await w.watch(repo.root);
    dropSpec(repo, 'edit');
    const [first] = await waitForRuns(repo.root, 1);

    write(repo, 'specs/edit.md', '# edit\n\nSecond thoughts.\n');
    await waitFor(async () => (await decisions(repo.root, 'specs/edit.md')).length === 2);
    expect(await decisions(repo.root, 'specs/edit.md')).toEqual(['fired:new', 'skipped:already_ran']);
    expect(await t.daemon.store.getSpecFile(repo.root, 'specs/edit.md')).toMatchObject({
      status: 'triggered',
      last_run_id: first!.id,
      content_hash: sha256('# edit\n\nSecond thoughts.\n'),
    });

    // The config is read at each decision, so no re-registration is needed.
    appendFileSync(join(repo.root, '.loop/config'), 'trigger_on_change=true\n');
    write(repo, 'specs/edit.md', '# edit\n\nThird thoughts.\n');
    const [, second] = await waitForRuns(repo.root, 2);
    expect(second!.spec_path).toBe('specs/edit.md');
    expect(await decisions(repo.root, 'specs/edit.md')).toEqual(['fired:new', 'skipped:already_ran', 'fired:changed']);
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/edit.md'))?.last_run_id).toBe(second!.id);

    // A spec recorded at registration is "changed" too once trigger_on_change is on.
    write(repo, 'specs/demo.md', '# demo\n\nNow for real.\n');
    const all = await waitForRuns(repo.root, 3);
    expect(all[2]!.spec_path).toBe('specs/demo.md');
    expect(await decisions(repo.root, 'specs/demo.md')).toEqual(['skipped:present_when_watched', 'fired:changed']);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(3);
  });

  it('waits for a plan that arrives later and uses it', async () => {
    const repo = newRepo();
    // A wait far longer than the test's own waits: a run that starts can only have been started
    // by the plan's arrival, not by the wait running out.
    const w = newWatcher({ planWaitMsOverride: 600_000 });
    await w.watch(repo.root);
    write(repo, 'specs/early.md', '# early\n');
    const waiting = await waitForEvent(repo.root, (e) => e.type === 'TRIGGER_WAITING');
    expect(waiting).toMatchObject({ spec: 'specs/early.md', plan: 'specs/planning/early-plan.md' });
    expect(waiting.until! - waiting.ts).toBeGreaterThanOrEqual(599_000);
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/early.md'))?.status).toBe('waiting_plan');

    // The wait counts as a decision in progress: idle() is still pending after a later file
    // change (a draft marker spec) has been reported and decided.
    let idle = false;
    void w.idle().then(() => (idle = true));
    const marker = `${MARKER_PREFIX}${++markers}.md`;
    write(repo, marker, '# a later decision\n\n**Status:** Draft\n');
    expect(await waitForEvent(repo.root, (e) => e.spec === marker, { markers: true })).toMatchObject({ type: 'TRIGGER_SKIPPED', reason: 'draft' });
    expect(idle).toBe(false);

    write(repo, 'specs/planning/early-plan.md', PLAN);
    const [run] = await waitForRuns(repo.root, 1);
    expect(run!.plan_path).toBe('specs/planning/early-plan.md');
    const fired = (await triggerEvents(repo.root)).find((e) => e.type === 'TRIGGER_FIRED')!;
    expect(fired).toMatchObject({ spec: 'specs/early.md', plan: 'specs/planning/early-plan.md', planless: false, reason: 'new' });
    await w.idle();
    expect(idle).toBe(true);
  });

  it('starts plan-less when the plan never arrives', async () => {
    const repo = newRepo();
    const w = newWatcher({ planWaitMsOverride: 500 });
    await w.watch(repo.root);
    write(repo, 'specs/alone.md', '# alone\n');
    const [run] = await waitForRuns(repo.root, 1);
    expect(run).toMatchObject({ spec_path: 'specs/alone.md', plan_path: null, origin: 'watch' });
    const waiting = (await triggerEvents(repo.root)).find((e) => e.type === 'TRIGGER_WAITING')!;
    const fired = (await triggerEvents(repo.root)).find((e) => e.type === 'TRIGGER_FIRED')!;
    expect(fired).toMatchObject({ spec: 'specs/alone.md', plan: null, planless: true, runId: run!.id });
    expect(fired.ts - waiting.ts).toBeGreaterThanOrEqual(450);
  });

  it('never starts a half-written spec: one run, with the full content', async () => {
    // This run is followed to its end (the spec snapshot on its branch): every helper here works on
    // `t`, so a daemon that dispatches stands in for the quiet one during this test.
    const quiet = t;
    t = await startTestDaemon();
    try {
      await halfWrittenSpec();
    } finally {
      const live = t;
      t = quiet;
      for (const w of watchers.splice(0)) await w.stop();
      await live.stop();
    }
  });

  /** The half-written spec test itself, on the dispatching daemon. */
  async function halfWrittenSpec(): Promise<void> {
    const repo = newRepo();
    // A wider window than the gaps between chunks, with room for a slow machine.
    const w = newWatcher({ stabilityMs: 400 });
    await w.watch(repo.root);
    write(repo, 'specs/planning/big-plan.md', PLAN);
    const chunks = Array.from({ length: 20 }, (_, i) => `## part ${i}\n\n${'lorem ipsum '.repeat(200)}\n\n`);
    const full = '# big\n\n' + chunks.join('');
    const fd = openSync(join(repo.root, 'specs/big.md'), 'w');
    writeSync(fd, '# big\n\n');
    for (const c of chunks) {
      await sleep(50);
      writeSync(fd, c);
    }
    closeSync(fd);

    const [run] = await waitForRuns(repo.root, 1);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(1);
    expect(await decisions(repo.root, 'specs/big.md')).toEqual(['fired:new']);
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/big.md'))?.content_hash).toBe(sha256(full));
    // The run's own snapshot of the spec (committed on its branch) is the whole file.
    const done = await waitForRun(t.client, run!.id);
    expect(done.status).toBe('COMPLETED');
    expect(git(repo.root, 'show', `${run!.run_branch}:specs/big.md`) + '\n').toBe(full.trimEnd() + '\n');
  }

  it('takes an empty spec as not written yet: created first and filled later, it starts one run with the content', async () => {
    const repo = newRepo();
    const w = newWatcher();
    await w.watch(repo.root);
    write(repo, 'specs/planning/later-plan.md', PLAN);
    write(repo, 'specs/later.md', '');
    // The empty file's decision is dropped without an event; filling it is what starts the run.
    await settle(w, repo);
    expect(await decisions(repo.root, 'specs/later.md')).toEqual([]);
    write(repo, 'specs/later.md', '# later\n\nBuild it.\n');
    const [run] = await waitForRuns(repo.root, 1);
    await settle(w, repo);
    expect(await decisions(repo.root, 'specs/later.md')).toEqual(['fired:new']);
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/later.md'))?.content_hash).toBe(sha256('# later\n\nBuild it.\n'));
    expect(run).toMatchObject({ spec_path: 'specs/later.md' });
  });

  it('makes one run per save, however the editor saves', async () => {
    // With trigger_on_change on, any extra `change` would show up as an extra run.
    const repo = newRepo('trigger_on_change=true\n');
    const w = newWatcher();
    await w.watch(repo.root);
    write(repo, 'specs/planning/atomic-plan.md', PLAN);
    const spec = join(repo.root, 'specs/atomic.md');

    // A new spec that appears by rename: one run, and the temp file is never a spec.
    writeFileSync(join(repo.root, 'specs/.atomic.md.tmp'), '# atomic v1\n');
    renameSync(join(repo.root, 'specs/.atomic.md.tmp'), spec);
    await waitForRuns(repo.root, 1);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(1);

    // Rename over the spec with new content: exactly one more run.
    writeFileSync(join(repo.root, 'specs/atomic.md.tmp'), '# atomic v2\n');
    renameSync(join(repo.root, 'specs/atomic.md.tmp'), spec);
    await waitForRuns(repo.root, 2);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(2);

    // vim's backup dance: move the original away, write the new file, delete the backup.
    renameSync(spec, spec + '~');
    writeFileSync(spec, '# atomic v3\n');
    rmSync(spec + '~');
    await waitForRuns(repo.root, 3);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(3);

    // Saving identical content is no change at all.
    writeFileSync(join(repo.root, 'specs/atomic.md.tmp'), '# atomic v3\n');
    renameSync(join(repo.root, 'specs/atomic.md.tmp'), spec);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(3);
    expect(await decisions(repo.root, 'specs/atomic.md')).toEqual(['fired:new', 'fired:changed', 'fired:changed']);
  });

  it('catches up at start(): specs added while down run, an interrupted plan wait resumes, edits of recorded specs are skipped', async () => {
    const repo = newRepo();
    const before = newWatcher({ planWaitMsOverride: 60_000 });
    await before.watch(repo.root);
    write(repo, 'specs/pending.md', '# pending\n');
    await waitForEvent(repo.root, (e) => e.type === 'TRIGGER_WAITING');
    await before.stop();
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/pending.md'))?.status).toBe('waiting_plan');
    expect((await t.daemon.store.getWorkspace(repo.root))?.watched).toBe(true);

    // While nobody watches:
    dropSpec(repo, 'late');
    write(repo, 'specs/planning/pending-plan.md', PLAN);
    write(repo, 'specs/demo.md', '# demo\n\nEdited while down.\n');
    expect(await runs(repo.root)).toHaveLength(0);

    const after = newWatcher();
    await after.start();
    expect(after.watchedRoots()).toContain(repo.root);
    await waitForRuns(repo.root, 2);
    await after.idle();
    expect((await runs(repo.root)).map((r) => [r.spec_path, r.plan_path]).sort()).toEqual([
      ['specs/late.md', 'specs/planning/late-plan.md'],
      ['specs/pending.md', 'specs/planning/pending-plan.md'],
    ]);
    expect(await decisions(repo.root, 'specs/late.md')).toEqual(['fired:added_while_down']);
    expect(await decisions(repo.root, 'specs/pending.md')).toEqual(['fired:resumed']);
    expect(await decisions(repo.root, 'specs/demo.md')).toEqual(['skipped:present_when_watched', 'skipped:present_when_watched']);

    // And it keeps watching.
    dropSpec(repo, 'fresh');
    await waitForRuns(repo.root, 3);
  });

  it('stops triggering after unwatch and drops pending plan waits', async () => {
    const repo = newRepo();
    const w = newWatcher({ planWaitMsOverride: 60_000 });
    await w.watch(repo.root);
    write(repo, 'specs/orphan.md', '# orphan\n');
    await waitForEvent(repo.root, (e) => e.type === 'TRIGGER_WAITING');

    await w.unwatch(repo.root);
    await w.idle(); // the wait was dropped, not left running for a minute
    expect(w.watchedRoots()).toEqual([]);
    expect((await t.daemon.store.getWorkspace(repo.root))?.watched).toBe(false);

    write(repo, 'specs/planning/orphan-plan.md', PLAN);
    dropSpec(repo, 'ignored');
    // A marker in a repo that is still watched: once it is decided, any event of the writes above
    // (made earlier, in the same process's inotify queue) would have been reported and decided.
    const other = newRepo();
    await w.watch(other.root);
    await settle(w, other);
    expect(await runs(repo.root)).toHaveLength(0);
    expect((await triggerEvents(repo.root)).map((e) => e.type)).toEqual(['TRIGGER_SKIPPED', 'TRIGGER_WAITING']);

    // A restarted daemon does not watch it either.
    const later = newWatcher();
    await later.start();
    expect(later.watchedRoots()).not.toContain(repo.root);
  });

  it('watches a specs folder created after registration', async () => {
    const repo = newRepo();
    rmSync(join(repo.root, 'specs'), { recursive: true });
    const w = newWatcher();
    expect((await w.watch(repo.root)).recorded).toBe(0);
    dropSpec(repo, 'newdir');
    const [run] = await waitForRuns(repo.root, 1);
    expect(run).toMatchObject({ spec_path: 'specs/newdir.md', plan_path: 'specs/planning/newdir-plan.md' });
  });

  it('reports a bad config and a failed run creation as skips, and starts nothing', async () => {
    const repo = newRepo();
    const w = newWatcher();
    await w.watch(repo.root);

    writeFileSync(join(repo.root, '.loop/config'), CONFIG + 'specs_dri=specs\n');
    write(repo, 'specs/broken.md', '# broken\n');
    const bad = await waitForEvent(repo.root, (e) => e.spec === 'specs/broken.md');
    expect(bad.type).toBe('TRIGGER_SKIPPED');
    expect(bad.reason).toMatch(/^config_error: .*specs_dri/);
    // Not recorded: once the config is fixed, the spec is decided again.
    expect(await t.daemon.store.getSpecFile(repo.root, 'specs/broken.md')).toBeUndefined();

    writeFileSync(join(repo.root, '.loop/config'), 'agent=command\nagent_cmd=""\n');
    dropSpec(repo, 'noagent');
    const failed = await waitForEvent(repo.root, (e) => e.spec === 'specs/noagent.md');
    expect(failed.reason).toMatch(/^error: agent=command needs agent_cmd/);
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/noagent.md'))?.status).toBe('error');

    // Fixed config: editing the failed spec retries it.
    writeFileSync(join(repo.root, '.loop/config'), CONFIG);
    write(repo, 'specs/noagent.md', '# noagent\n\nRetry.\n');
    const [run] = await waitForRuns(repo.root, 1);
    expect(run!.spec_path).toBe('specs/noagent.md');
    expect(await decisions(repo.root, 'specs/noagent.md')).toEqual([`skipped:${failed.reason}`, 'fired:retry']);
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(1);
  });

  it('skips a spec whose plan has nothing to do, with the reason', async () => {
    const repo = newRepo();
    const w = newWatcher();
    await w.watch(repo.root);
    write(repo, 'specs/planning/finished-plan.md', '# Plan\n\n- [x] already done\n- [R] and reviewed\n');
    write(repo, 'specs/finished.md', '# finished\n\nAll done already.\n');
    const skipped = await waitForEvent(repo.root, (e) => e.spec === 'specs/finished.md');
    expect(skipped.type).toBe('TRIGGER_SKIPPED');
    expect(skipped.reason).toBe('nothing to do: every task in plan specs/planning/finished-plan.md is already done (2 of 2); add an open "- [ ]" task');
    expect((await t.daemon.store.getSpecFile(repo.root, 'specs/finished.md'))?.status).toBe('skipped');
    await settle(w, repo);
    expect(await runs(repo.root)).toHaveLength(0);
  });

  it('rejects registering a workspace whose config is broken', async () => {
    const repo = newRepo('no_such_key=1\n');
    const w = newWatcher();
    await expect(w.watch(repo.root)).rejects.toThrow(/cannot watch .*no_such_key/);
    expect((await t.daemon.store.getWorkspace(repo.root))?.watched ?? false).toBe(false);
  });
});
