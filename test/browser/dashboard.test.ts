// The dashboard in a real browser: Debian's chromium driven by playwright-core (no browser
// download). A daemon with fake agents, signed in through `loopctl dashboard --print-url`.
// A missing chromium fails these tests: nothing here is skipped.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClientFor, type LoopClient } from '../../cli/client.js';
import { startDaemon, type DaemonHandle } from '../../host/main.js';
import { FAKE_AGENT, FIXTURES, commandFlags, git, makeRepo, tempDir, waitForRun } from '../integration/harness.js';
import { loopctl, requireFreshBuild } from '../cli/helpers.js';

// Debian's binary itself rather than its /usr/bin/chromium launcher script, when it is there: the
// script costs a dozen processes (sh, expr, findmnt, ls, tr, grep of /proc/cpuinfo) and adds flags
// a headless test has no use for (GPU rasterization, the packaged extensions).
const DEBIAN_CHROMIUM = '/usr/lib/chromium/chromium';
const CHROMIUM = process.env.LOOPD_CHROMIUM ?? (existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : '/usr/bin/chromium');
const ROOT = resolve(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
// The pictures of the pages along the way, for a person to look at: with LOOPD_TEST_SCREENSHOTS=1.
// Each full-page PNG costs chromium ~0.2-0.4 s of CPU (a fresh surface, rasterised in software,
// encoded), a tenth of the file's CPU for the four, and no test reads them. A failing test leaves
// a picture of where the page was whatever the setting.
const SCREENSHOTS = process.env.LOOPD_TEST_SCREENSHOTS === '1';
const WAIT = { timeout: 30_000 };
// Several page waits per test on a shared two-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

let daemon: DaemonHandle;
let client: LoopClient;
let home: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set LOOPD_CHROMIUM; browser tests never skip`);
  }
  requireFreshBuild({ dashboard: true });
  home = tempDir('loopd-home-');
  daemon = await startDaemon({ home, host: '127.0.0.1', port: 0, token: 'browser-token', log: () => {}, keepSpawner: true });
  client = createClientFor(daemon.url, daemon.token);
  browser = await chromium.launchPersistentContext(tempDir('loopd-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && page) await screenshot(`dashboard-failed-${task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
});

afterAll(async () => {
  await browser?.close();
  if (daemon) {
    for (const r of await daemon.store.listRuns({ status: ['PENDING', 'RUNNING', 'PAUSED'] })) await daemon.dispatcher.cancel(r.id).catch(() => {});
    await daemon.stop({ drain: true });
  }
});

/**
 * The sign-in link, as a user gets it: `loopctl dashboard --print-url` by bin/loopctl.js's route, in
 * this process (test/cli/helpers.ts; the process boundary is not what this file tests).
 */
async function dashboardUrl(): Promise<string> {
  const r = await loopctl(['dashboard', '--print-url'], { env: { ...process.env, LOOPD_HOME: home, LOOPD_AUTH_TOKEN: daemon.token, LOOPD_ADDR: '' } });
  expect(r.code, r.stderr).toBe(0);
  const out = r.stdout.trim();
  expect(out).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${daemon.port}/\\?code=[A-Za-z0-9_-]+$`));
  return out;
}

/** test-artifacts/NAME.png of the whole page, when screenshots were asked for (or a test failed). */
async function screenshot(name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function shot(name: string): Promise<void> {
  if (SCREENSHOTS) await screenshot(name);
}

function row(runId: string) {
  return page.locator(`[data-testid="run-list"] tr[data-run-id="${runId}"]`);
}

describe('dashboard in chromium', () => {
  it('gives a page opened without the code no data', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'secret-run', flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
    await waitForRun(client, run.id);
    const res = await page.goto(daemon.url + '/');
    expect(res?.status()).toBe(401);
    const text = await page.locator('body').innerText();
    expect(text).toContain('loopctl dashboard');
    expect(text).not.toContain('secret-run');
    const api = await page.evaluate(async () => {
      const r = await fetch('/trpc/runs.list');
      return { status: r.status, body: await r.text() };
    });
    expect(api.status).toBe(401);
    expect(api.body).not.toContain('secret-run');
  });

  it('signs in, streams agent output live, and updates the list when a run finishes', async () => {
    const repo = makeRepo({ tasks: 1 });
    const gates = tempDir('loopd-gates-');
    const gateA = join(gates, 'a');
    const gateB = join(gates, 'b');
    const agent = `node ${join(FIXTURES, 'gate.mjs')} ${gateA} ${gateB} && ${FAKE_AGENT}`;
    const run = await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'gated', flags: commandFlags(agent, { merge_strategy: 'none', reviewer: false }) });

    await page.goto(await dashboardUrl());
    expect(new URL(page.url()).search).toBe(''); // the code left the address bar
    await page.locator('[data-testid="feed-state"]', { hasText: 'live' }).waitFor(WAIT);
    await row(run.id).waitFor(WAIT);

    // The run page streams the output while the agent writes it.
    await row(run.id).locator('a').click();
    const output = page.locator('[data-testid="output"]');
    await output.filter({ hasText: 'hello from the agent' }).waitFor(WAIT);
    expect(await output.innerText()).not.toContain('gate 1 passed');
    writeFileSync(gateA, '');
    await output.filter({ hasText: 'gate 1 passed' }).waitFor(WAIT);
    await page.locator('[data-testid="run-page"][data-status="RUNNING"]').waitFor(WAIT);
    await shot('dashboard-run-live');

    // The list, open while the run finishes, follows it to COMPLETED without a reload.
    await page.locator('a', { hasText: 'all runs' }).click();
    await row(run.id).and(page.locator('[data-status="RUNNING"]')).waitFor(WAIT);
    writeFileSync(gateB, '');
    await row(run.id).and(page.locator('[data-status="COMPLETED"]')).waitFor(WAIT);
    await shot('dashboard-list');

    // Filters: text, status and workspace, with a second run (in another repo) arriving live.
    const otherRepo = makeRepo({ tasks: 1 });
    const other = await client.runs.create.mutate({ cwd: otherRepo.root, spec: 'specs/demo.md', name: 'other', flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
    await row(other.id).waitFor(WAIT);
    const rows = page.locator('[data-testid="run-list"] tbody tr[data-run-id]');
    await page.locator('[data-testid="filter-text"]').fill('gated');
    await rows.nth(1).waitFor({ state: 'detached', ...WAIT });
    expect(await rows.first().getAttribute('data-run-id')).toBe(run.id);
    await page.locator('[data-testid="filter-text"]').fill('');
    await page.locator('[data-testid="filter-status"]').selectOption('FAILED');
    await page.locator('[data-testid="run-list"]', { hasText: 'No runs match these filters' }).waitFor(WAIT);
    await page.locator('[data-testid="filter-status"]').selectOption('');
    await page.locator('[data-testid="filter-workspace"]').selectOption(repo.root);
    await rows.nth(1).waitFor({ state: 'detached', ...WAIT });
    await page.locator('[data-testid="filter-workspace"]').selectOption('');
  });

  it("shows the agent's change in the diff and merges it into the target branch", async () => {
    const repo = makeRepo({ tasks: 2 });
    // The agent also speaks in Claude Code's stream-json: the page shows its words, as tail does.
    const agent = `node ${join(FIXTURES, 'say-assistant.mjs')} "Writing the task file now." && ${FAKE_AGENT}`;
    const run = await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'to-merge', flags: commandFlags(agent, { merge_strategy: 'none', reviewer: false }) });
    await waitForRun(client, run.id);
    await page.goto(`${daemon.url}/#/runs/${run.id}`);
    await page.locator('[data-testid="run-page"][data-status="COMPLETED"][data-review="pending"]').waitFor(WAIT);
    await page.locator('[data-testid="lifecycle"] [data-item="iterations"][data-state="done"]').waitFor(WAIT);
    // Task progress from the ledger: both tasks done, each with the iteration that ticked it.
    await page.locator('[data-testid="task-progress"]', { hasText: '2/2 tasks' }).waitFor(WAIT);
    const tasks = page.locator('[data-testid="tasks"] li');
    expect(await tasks.count()).toBe(2);
    expect(await tasks.nth(1).innerText()).toMatch(/task 2 · iteration 2/);
    expect(await page.locator('[data-testid="tasks"] li[data-state="done"]').count()).toBe(2);

    await page.locator('[data-testid="tab-diff"]').click();
    const file = page.locator('[data-testid="diff-file"][data-path="task-2.txt"]');
    await file.waitFor(WAIT);
    expect(await file.innerText()).toContain('did task 2');
    await shot('dashboard-run-diff');

    await page.locator('[data-testid="action-merge"]').click();
    await page.locator('[data-testid="merge-target"]').fill('review/from-browser');
    await page.locator('[data-testid="confirm"]').click();
    await page.locator('[data-testid="action-result"]', { hasText: 'merged run/to-merge into review/from-browser' }).waitFor(WAIT);
    await page.locator('[data-testid="run-page"][data-review="merged"]').waitFor(WAIT);
    expect(git(repo.root, 'show', 'review/from-browser:task-2.txt')).toContain('did task 2');
    expect(git(repo.root, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    await page.locator('[data-testid="tab-output"]').click();
    const output = page.locator('[data-testid="output"]');
    await output.filter({ hasText: 'fake-agent' }).waitFor(WAIT);
    expect(await output.innerText()).toContain('── iteration 2 · implementation ──\nWriting the task file now.\n');
    expect(await output.innerText()).not.toContain('"type":"assistant"');
    await shot('dashboard-run');
    await page.locator('[data-testid="output-raw"]').check();
    await output.filter({ hasText: '"type":"assistant"' }).waitFor(WAIT);
  });

  it('stays signed in and live across a daemon restart', async () => {
    await page.goto(`${daemon.url}/#/`);
    await page.locator('[data-testid="feed-state"]', { hasText: 'live' }).waitFor(WAIT);
    const port = daemon.port;
    await daemon.stop({ drain: true });
    await page.locator('[data-testid="feed-state"]', { hasText: 'reconnecting' }).waitFor(WAIT);
    daemon = await startDaemon({ home, host: '127.0.0.1', port, token: 'browser-token', log: () => {}, keepSpawner: true });
    client = createClientFor(daemon.url, daemon.token);
    // The cookie is still good, and the feed resumes by itself: a new run shows up without a reload.
    const repo = makeRepo({ tasks: 1 });
    const run = await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'after-restart', flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
    await row(run.id).waitFor(WAIT);
    await page.locator('[data-testid="feed-state"]', { hasText: 'live' }).waitFor(WAIT);
  });

  it('scraps a run after confirmation, removing its branch', async () => {
    const repo = makeRepo({ tasks: 1 });
    const run = await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'to-scrap', flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
    await waitForRun(client, run.id);
    expect(git(repo.root, 'branch', '--list', run.runBranch)).not.toBe('');
    await page.goto(`${daemon.url}/#/runs/${run.id}`);
    await page.locator('[data-testid="run-page"][data-review="pending"]').waitFor(WAIT);
    await page.locator('[data-testid="action-scrap"]').click();
    const dialog = page.locator('[data-testid="confirm-dialog"]');
    expect(await dialog.innerText()).toContain(run.runBranch);
    await page.locator('[data-testid="confirm"]').click();
    await page.locator('[data-testid="run-page"][data-review="scrapped"]').waitFor(WAIT);
    expect(git(repo.root, 'branch', '--list', run.runBranch)).toBe('');
    expect(existsSync(run.worktreePath)).toBe(false);
    await page.locator('[data-testid="lifecycle"] [data-item="cleanup"][data-state="done"]').waitFor(WAIT);

    // The list's review filter finds the decided runs.
    await page.locator('a', { hasText: 'all runs' }).click();
    await page.locator('[data-testid="filter-review"]').selectOption('scrapped');
    await row(run.id).waitFor(WAIT);
    const shown = page.locator('[data-testid="run-list"] tbody tr[data-run-id]');
    expect(await shown.count()).toBe(await page.locator('[data-testid="run-list"] tbody tr[data-run-id] .rv-scrapped').count());
    await page.locator('[data-testid="filter-review"]').selectOption('merged');
    await row(run.id).waitFor({ state: 'detached', ...WAIT });
    await page.locator('[data-testid="run-list"] tbody tr[data-run-id] .rv-merged').first().waitFor(WAIT);
    await page.locator('[data-testid="filter-review"]').selectOption('');

    // A session that ends while the page is open: the next refetch says how to get back in.
    await browser.clearCookies();
    await client.runs.create.mutate({ cwd: repo.root, spec: 'specs/demo.md', name: 'after-sign-out', flags: commandFlags(FAKE_AGENT, { merge_strategy: 'none', reviewer: false }) });
    await page.locator('[data-testid="signed-out"]', { hasText: 'loopctl dashboard' }).waitFor(WAIT);
  });
});
