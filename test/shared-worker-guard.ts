// A vitest setup file of every project whose files share worker processes (`isolate: false` in
// vitest.config.ts): a worker runs file after file, loading the sources once, so each file must
// leave the process as it found it. Before a file this notes the process-wide state a test can
// change (test/process-state.ts); after it (after the file's own afterAll hooks: vitest runs
// after-hooks in reverse order, and this file's are registered first) it puts back what it can
// and fails the file, naming what it left behind, so a leak shows up at the file that made it
// rather than as a puzzling failure of whichever file happens to run next in that process.
// docs/testing.md lists the rules.
import { relative, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { noteProcessState, restoreProcessState } from './process-state.js';

const repoRoot = resolve(import.meta.dirname, '..');

// Taken when this setup file loads, which vitest does again before each test file is imported, so
// what the file's top-level code changes counts too.
const before = noteProcessState();

// Vitest reads the first parameter as the fixtures to set up: it must be a destructuring pattern.
afterAll(async ({}, suite) => {
  const left = await restoreProcessState(before);
  if (left.length > 0) {
    throw new Error(
      `${relative(repoRoot, suite.file.filepath)} left the shared test process changed: ${left.join('; ')}. ` +
        'Files of this project share worker processes (isolate: false): restore it in afterEach/afterAll (docs/testing.md).',
    );
  }
});
