// The output cap survives a daemon restart: the capping writer lives in the agent's process group,
// not in the daemon, so an agent adopted by the next daemon is still capped, its log still keeps
// its head and its end, and the truncation is reported once.
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClientFor, type LoopClient } from '../../cli/client.js';
import { startDaemon, type DaemonHandle } from '../../host/main.js';
import { listParts } from '../../core/agents/output-cap.js';
import { FAKE_AGENT_SH, commandFlags, dropTestDatabases, makeRepo, tempDir, testDatabaseUrl, waitFor, waitForRun } from './harness.js';

const TOKEN = 'output-restart-token';
const home = tempDir('loopd-home-');
let daemon: DaemonHandle;
let client: LoopClient;
// On the postgres backend both daemons share one database, as a host restarting on its cluster does.
let databaseUrl: string | undefined;

async function start(): Promise<void> {
  databaseUrl ??= await testDatabaseUrl();
  daemon = await startDaemon({ home, host: '127.0.0.1', port: 0, token: TOKEN, log: () => {}, ...(databaseUrl ? { databaseUrl } : {}) });
  client = createClientFor(daemon.url, TOKEN);
}

afterAll(async () => {
  await daemon?.stop({ drain: true });
  rmSync(home, { recursive: true, force: true });
  await dropTestDatabases();
});

describe('the output cap across a daemon restart', () => {
  it('keeps capping an adopted agent and reports the truncation once', async () => {
    await start();
    const MAX = 1024 * 1024;
    const gate = join(tempDir(), 'gate');
    // Each flood is a few times the cap: the first is past it (parts rotating) when the daemon stops.
    const flood = `yes 'a line of output before and after the restart' | head -c 3000000`;
    const agent = `${flood}; while [ ! -e '${gate}' ]; do sleep 0.05; done; ${flood}; ${FAKE_AGENT_SH}`;
    const repo = makeRepo({ tasks: 1 });
    const created = await client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(agent, { reviewer: false, merge_strategy: 'none', max_output_bytes: MAX }),
    });
    // The first flood has gone past the cap: the writer is rotating parts beside the log.
    const log = await waitFor(async () => {
      const d = await client.runs.get.query({ run: created.id });
      const p = d.steps[0]?.outputPath;
      return p && existsSync(p) && listParts(p).length >= 2 ? p : null;
    });
    await daemon.stop();
    await start();
    writeFileSync(gate, '');
    const run = await waitForRun(client, created.id, 120_000);
    expect(run.status, run.lastError ?? '').toBe('COMPLETED');
    const events = await client.runs.eventsList.query({ run: run.id, limit: 1000 });
    expect(events.filter((e) => e.type === 'STEP_ADOPTED')).toHaveLength(1);
    const truncated = events.filter((e) => e.type === 'OUTPUT_TRUNCATED');
    expect(truncated).toHaveLength(1);
    expect(truncated[0]!.payload.totalBytes).toBeGreaterThanOrEqual(6_000_000);
    expect(statSync(log).size).toBeLessThanOrEqual(MAX + 1024);
    expect(listParts(log)).toEqual([]);
    const tail = await client.runs.tail.query({ run: run.id, lines: 2 });
    expect(tail!.text).toContain('<promise>COMPLETE</promise>');
  });
});
