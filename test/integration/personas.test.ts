// The persona suite (test/fixtures/personas.mjs): honest, stuck and lying fake agents against the
// real daemon. Every outcome is loopd's own: tampering is undone, completion is proven on facts,
// no reviewer is paid for an iteration without code, and no agent process outlives its step.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
// @ts-expect-error plain ESM fixture shared with the bench, no type declarations
import { CANARY_ENV, FAKE_AGENT_SH, PERSONAS, runPersona } from '../fixtures/personas.mjs';
import { startTestDaemon, tempDir, type TestDaemon } from './harness.js';

interface Persona {
  name: string;
  agent: string;
  flags?: Record<string, unknown>;
  expect: { status: string; exitDetail: string; completion: string | null };
  signals?: string[];
  prompt?: { iteration: number; says: string };
  maxCalls: { implementation: number; review: number };
}

/**
 * The given files of the merged branch agent/demo, read by one `git cat-file --batch` (each answer
 * says its size, so the contents stay apart) instead of a `git show` per file; reading a file
 * that is not there throws, as `git show` failed.
 */
function mergedFiles(repo: string, paths: string[]): (path: string) => string {
  const out = execFileSync('git', ['cat-file', '--batch'], { cwd: repo, input: paths.map((p) => `agent/demo:${p}\n`).join('') });
  const files = new Map<string, string>();
  let at = 0;
  for (const path of paths) {
    const eol = out.indexOf(10, at);
    const header = out.subarray(at, eol).toString('utf8');
    const size = /^[0-9a-f]{40,64} blob (\d+)$/.exec(header)?.[1];
    if (size === undefined) {
      at = eol + 1; // "<name> missing": no content follows.
      continue;
    }
    files.set(path, out.subarray(eol + 1, eol + 1 + Number(size)).toString('utf8'));
    at = eol + 1 + Number(size) + 1;
  }
  return (path) => {
    const content = files.get(path);
    if (content === undefined) throw new Error(`agent/demo has no file ${path}`);
    return content;
  };
}

let t: TestDaemon;
beforeAll(async () => {
  // The daemon's environment holds a LOOPD_* secret; the env-reader persona fails if it sees it.
  process.env[CANARY_ENV as string] = 'daemon-only';
  t = await startTestDaemon({ maxConcurrency: 4 });
});
afterAll(async () => {
  delete process.env[CANARY_ENV as string];
  await t.stop();
});

// The personas' runs are independent (a repo each), so they run side by side on the one daemon:
// while one waits on git or a process exit, another works.
describe.concurrent('persona suite', () => {
  it.for((PERSONAS as Persona[]).map((p) => [p.name, p] as const))('%s', async ([, persona], { expect }) => {
    // The sh fake agent: the agent's language is not what a persona tests.
    const r = await runPersona({ client: t.client, store: t.daemon.store, bus: t.daemon.bus, base: tempDir(), persona, agent: FAKE_AGENT_SH });
    const facts = { status: r.status, exitDetail: r.exitDetail, completion: r.completion };
    expect(facts, `${persona.name}: ${r.run.lastError ?? ''}`).toEqual(persona.expect);
    expect(r.implementationCalls).toBeLessThanOrEqual(persona.maxCalls.implementation);
    expect(r.reviewCalls).toBeLessThanOrEqual(persona.maxCalls.review);
    expect(r.reviewsWithoutCode).toBe(0);
    for (const sig of persona.signals ?? []) expect(r.signals, persona.name).toContain(sig);
    if (!persona.signals) expect(r.signals.filter((s: string) => s !== 'verification_failed'), persona.name).toEqual([]);
    expect(r.wasted).toBeLessThanOrEqual(4);
    // Only a proven run is merged; a failed one keeps its branch for inspection.
    expect(r.merged).toBe(persona.expect.status === 'COMPLETED');
    if (persona.expect.status === 'FAILED') expect(execFileSync('git', ['rev-parse', '--verify', r.run.runBranch], { cwd: r.repo, encoding: 'utf8' })).toMatch(/^[0-9a-f]{40}/);
    if (persona.prompt) {
      const file = join(r.run.runDir, `iter-${String(persona.prompt.iteration).padStart(2, '0')}.prompt.txt`);
      expect(readFileSync(file, 'utf8')).toContain(persona.prompt.says);
    }
    if (persona.name === 'setsid-escaper') {
      expect(r.escapedCount).toBe(persona.maxCalls.implementation);
      expect(r.escapedAlive).toEqual([]);
    }
    if (persona.expect.status === 'COMPLETED') {
      // Everything in the plan was done and reviewed, and the merged spec is the one handed over.
      const merged = mergedFiles(r.repo, ['specs/planning/demo-plan.md', 'specs/demo.md', 'task-1.txt', 'task-2.txt', 'task-3.txt']);
      expect(merged('specs/planning/demo-plan.md')).toMatch(/- \[R\] task 1\n- \[R\] task 2\n- \[R\] task 3\n/);
      expect(merged('specs/demo.md')).toContain('R3: write task-3.txt');
      for (const n of [1, 2, 3]) expect(merged(`task-${n}.txt`)).toContain(`did task ${n}`);
    }
  });
});
