// A vitest setup file (vitest.config.ts): the test files listed in `exclusiveFiles` never run side
// by side. Each of them holds one lock for the run from its first hook to its last; the others
// wait for it. The two multi-host kill tests (test/pg) each run three hosts with their agents and
// kill them on a schedule: side by side they starve each other's hosts of CPU past their lease
// TTLs. The run order (test/run-order.ts) puts them far apart, so the wait is normally nil.
//
// The lock is a directory (mkdir is atomic) named after the vitest run (LOOPD_TEST_RUN, set in
// vitest.config.ts), holding the holder's pid: a lock whose holder died is taken over. A worker
// process runs file after file (isolate: false), so the lock is released in the file's afterAll,
// not by the process ending; vitest loads this setup file again before each test file, so `held`
// is the current file's.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Test files (relative to the repo root) that never run side by side. */
    exclusiveFiles: string[];
  }
}

const repoRoot = resolve(import.meta.dirname, '..');
const lockDir = join(tmpdir(), `loopd-test-exclusive-${process.env.LOOPD_TEST_RUN ?? 'solo'}`);
const holderFile = join(lockDir, 'pid');

function holderAlive(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(holderFile, 'utf8'));
  } catch {
    // Just created, pid not written yet (or just released): not stale.
    return true;
  }
  if (!(pid > 0)) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function acquire(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(holderFile, String(process.pid));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!holderAlive()) rmSync(lockDir, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, 200));
  }
}

let held = false;

// Vitest reads the first parameter as the fixtures to set up: it must be a destructuring pattern.
beforeAll(async ({}, suite) => {
  const file = relative(repoRoot, suite.file.filepath);
  if (!inject('exclusiveFiles').includes(file)) return;
  await acquire();
  held = true;
  // Waiting for the other file can take as long as that file runs.
}, 600_000);

afterAll(() => {
  if (held) rmSync(lockDir, { recursive: true, force: true });
  held = false;
});
