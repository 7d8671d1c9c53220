// Output of any size: an agent printing far more than max_output_bytes, with and without newlines,
// is not disturbed, the run ends on its merits, the log keeps its head and its end within max_output_bytes, an
// OUTPUT_TRUNCATED event says so, and the global mirror shares the log's disk blocks.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { FAKE_AGENT_SH, commandFlags, makeRepo, startTestDaemon, waitForRun, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t.stop();
});

const MAX = 2 * 1024 * 1024;
// 16 times the cap: the capping writer keeps a head and a rolling end whatever the total, so a
// flood many caps long proves the same bound as 1 GiB did, at a small part of the CPU (the bytes
// go through tr, a pipe, the capping writer and the log). The layout scales with the cap (head,
// end and parts are fractions of it), so a 2 MiB cap meets the same rules as the 64 MiB default; a
// capped log that size is still past MIRROR_LINK_BYTES, so the mirror links it.
const FLOOD = 16 * MAX;
// Cheap bytes: the kernel makes them, no agent-side work.
const NO_NEWLINES = `head -c ${FLOOD} /dev/zero | tr '\\000' x; echo`;
const WITH_NEWLINES = `yes 'a line of agent output that repeats' | head -c ${FLOOD}`;

// The two floods side by side on the one daemon: independent runs, each in its own repo.
describe.concurrent('an agent printing 16 times max_output_bytes', () => {
  it.for<[string, string]>([
    ['without newlines', NO_NEWLINES],
    ['with newlines', WITH_NEWLINES],
  ])('%s: completes, keeps a bounded log with its head and end, and says it truncated', { timeout: 300_000 }, async ([, flood], { expect }) => {
    const repo = makeRepo({ tasks: 1 });
    const created = await t.client.runs.create.mutate({
      cwd: repo.root,
      spec: 'specs/demo.md',
      flags: commandFlags(`${flood}; ${FAKE_AGENT_SH}`, { reviewer: false, max_output_bytes: MAX, claude_retries: 0, merge_strategy: 'none' }),
    });
    const run = await waitForRun(t.client, created.id, 300_000);
    expect(run.status, run.lastError ?? '').toBe('COMPLETED');

    const events = await t.client.runs.eventsList.query({ run: run.id, limit: 1000 });
    const truncated = events.filter((e) => e.type === 'OUTPUT_TRUNCATED');
    expect(truncated).toHaveLength(1);
    expect(truncated[0]!.payload.totalBytes).toBeGreaterThan(FLOOD);
    expect(truncated[0]!.payload.omittedBytes).toBeGreaterThan(FLOOD - MAX);

    const detail = await t.client.runs.get.query({ run: run.id });
    const log = detail.steps[0]!.outputPath!;
    const size = statSync(log).size;
    expect(size).toBeLessThanOrEqual(MAX + 1024);
    expect(size).toBeGreaterThan(MAX / 2);
    // The end survived: the fake agent's completion token is the log's last line.
    const tail = await t.client.runs.tail.query({ run: run.id, lines: 3 });
    expect(tail!.text).toContain('<promise>COMPLETE</promise>');
    expect(tail!.text).not.toContain('.part-');

    // report.tsv counts what the agent printed, not what was kept.
    const step = detail.steps[0]!;
    expect(step.result?.outputBytes).toBeGreaterThan(FLOOD);
    expect(step.result?.outputTruncated).toBe(true);

    // The mirror is a hard link: one copy on disk.
    const mirrored = join(detail.globalRunDir!, log.split('/').pop()!);
    expect(statSync(mirrored).ino).toBe(statSync(log).ino);
  });
});
